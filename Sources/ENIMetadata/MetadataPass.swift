import ENIHTTP
import ENIModel

/// A token flow (AWS IMDSv2, Alibaba's hardened mode): `PUT /latest/api/token` with a TTL header,
/// then the token on every GET.
struct TokenFlow: Sendable {
    var ttlHeader: String
    var tokenHeader: String
    var ttlSeconds = 300
    /// Alibaba: tokens are optional; when the PUT is not understood, go on without one.
    var optional: Bool
}

/// Holds one pass's token; renews it at most once per rejected token, however many requests saw
/// the rejection at the same time.
actor TokenStore {
    private var token: String?
    private var renewing: Task<String?, any Error>?
    private let fetch: @Sendable () async throws -> String?

    init(fetch: @escaping @Sendable () async throws -> String?) { self.fetch = fetch }

    func current() async throws -> String? {
        if let token { return token }
        return try await renew(replacing: nil)
    }

    /// A new token, unless another caller already replaced `old`. Callers that wait for the same
    /// renewal get its result as the return value: use that, not `current()`, which may still
    /// hold the old token until the first caller resumes.
    func renew(replacing old: String?) async throws -> String? {
        if let token, token != old { return token }
        if let renewing { return try await renewing.value }
        let t = Task { try await fetch() }
        renewing = t
        defer { renewing = nil }
        let new = try await t.value
        token = new
        return new
    }
}

/// The requests of one round of a pass: one base URL, one session (connections reused), one
/// retry deadline, one token.
final class MetadataPass: Sendable {
    let session: HTTPSession
    let base: String
    let discipline: FetchDiscipline
    let deadline: ContinuousClock.Instant
    let tokenFlow: TokenFlow?
    let tokens: TokenStore?

    init(session: HTTPSession, base: String, discipline: FetchDiscipline, tokenFlow: TokenFlow?) {
        self.session = session
        self.base = base.hasSuffix("/") ? base : base + "/"
        self.discipline = discipline
        self.deadline = .now.advanced(by: .milliseconds(discipline.roundTimeoutMilliseconds))
        self.tokenFlow = tokenFlow
        if let flow = tokenFlow {
            let (session, url, d) = (session, Self.tokenURL(self.base), discipline)
            let deadline = self.deadline
            tokens = TokenStore {
                try await MetadataPass.requestToken(session, url, flow, d, deadline)
            }
        } else {
            tokens = nil
        }
    }

    func url(_ path: String) -> String { base + path }

    /// `http://host/latest/meta-data/` -> `http://host/latest/api/token`.
    static func tokenURL(_ base: String) -> String {
        var b = base
        if b.hasSuffix("/") { b.removeLast() }
        if b.hasSuffix("/meta-data") { b.removeLast("/meta-data".count) }
        return b + "/api/token"
    }

    private static func requestToken(_ session: HTTPSession, _ url: String, _ flow: TokenFlow,
                                     _ d: FetchDiscipline, _ deadline: ContinuousClock.Instant) async throws -> String? {
        let request = HTTPRequest(.put, url, headers: ["\(flow.ttlHeader): \(flow.ttlSeconds)"],
                                  connectTimeoutMilliseconds: d.connectTimeoutMilliseconds,
                                  timeoutMilliseconds: d.requestTimeoutMilliseconds, maxBytes: 4096)
        let response = try await exchange(session, request, d, deadline)
        switch response.status {
        case 200:
            let token = String(decoding: response.body, as: UTF8.self).trimmingTrailingNewlines
            guard !token.isEmpty, token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw MetadataError("PUT \(url): the token is empty or not printable")
            }
            return token
        case 403 where !flow.optional:
            throw MetadataError("PUT \(url): 403 Forbidden (the instance metadata service is turned off)")
        case 400 where !flow.optional:
            throw MetadataError("PUT \(url): 400 Bad Request (TTL \(flow.ttlSeconds) rejected)")
        case let status where flow.optional && [400, 403, 404, 405].contains(status):
            return nil
        default:
            throw MetadataError("PUT \(url): HTTP \(response.status)")
        }
    }

    /// Sends a request with retries on timeouts, connection errors, 429 and 5xx, with jittered
    /// backoff, until the attempts or the round's deadline run out. Returns the last response.
    static func exchange(_ session: HTTPSession, _ request: HTTPRequest, _ d: FetchDiscipline,
                         _ deadline: ContinuousClock.Instant) async throws(MetadataError) -> HTTPResponse {
        var attempt = 0
        var req = request
        while true {
            attempt += 1
            let left = ContinuousClock.now.duration(to: deadline)
            let leftMs = Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            guard leftMs > 0 else {
                throw MetadataError("\(request.method.rawValue) \(request.url): no answer before the pass deadline (\(d.roundTimeoutMilliseconds) ms)")
            }
            req.timeoutMilliseconds = min(request.timeoutMilliseconds, leftMs)
            req.connectTimeoutMilliseconds = min(request.connectTimeoutMilliseconds, leftMs)
            let why: String
            switch await session.perform(req) {
            case .success(let r) where r.status == 429 || (500...599).contains(r.status):
                if attempt >= d.attempts { return r }
                why = "HTTP \(r.status)"
            case .success(let r):
                return r
            case .failure(let e):
                guard e.isTransient, attempt < d.attempts else {
                    throw MetadataError("\(request.method.rawValue) \(e)\(attempt > 1 ? " (after \(attempt) tries)" : "")")
                }
                why = e.description
            }
            let pause = backoff(d.backoffMilliseconds, step: attempt - 1, cap: 2000)
            if ContinuousClock.now.advanced(by: pause) >= deadline {
                throw MetadataError("\(request.method.rawValue) \(request.url): no answer before the pass deadline (last: \(why))")
            }
            try? await Task.sleep(for: pause)
        }
    }

    /// GET of one path below the base: the body, or nil for 404. Checks size (by the session),
    /// UTF-8 and control characters; renews the token once on 401.
    func get(_ path: String) async throws(MetadataError) -> String? {
        let u = url(path)
        var renewed = false
        var sentToken: String?
        if let tokens {
            do { sentToken = try await tokens.current() } catch { throw MetadataError("\(error)") }
        }
        while true {
            var headers: [String] = []
            if let flow = tokenFlow, let t = sentToken { headers.append("\(flow.tokenHeader): \(t)") }
            let request = HTTPRequest(.get, u, headers: headers,
                                      connectTimeoutMilliseconds: discipline.connectTimeoutMilliseconds,
                                      timeoutMilliseconds: discipline.requestTimeoutMilliseconds,
                                      maxBytes: discipline.maxResponseBytes)
            let r = try await Self.exchange(session, request, discipline, deadline)
            switch r.status {
            case 200:
                return try Answer.text(r.body, url: u)
            case 404:
                return nil
            case 401 where tokens != nil && !renewed, 403 where tokenFlow?.optional == true && sentToken == nil && !renewed:
                renewed = true
                // The renewal's own result: the store may not hold it yet when this task resumes.
                do { sentToken = try await tokens!.renew(replacing: sentToken) } catch { throw MetadataError("\(error)") }
            case 401:
                throw MetadataError("GET \(u): 401 Unauthorized (token \(sentToken == nil ? "missing" : "rejected"))")
            default:
                throw MetadataError("GET \(u): HTTP \(r.status)")
            }
        }
    }

    /// A leaf: one line. Trailing line ends are dropped; anything else is kept and validated.
    func leaf(_ path: String) async throws(MetadataError) -> String? {
        guard let s = try await get(path) else { return nil }
        return try Answer.leaf(s, url: url(path))
    }

    /// A listing: one entry per line (empty lines dropped), at most `maxEntries`.
    func list(_ path: String) async throws(MetadataError) -> [String]? {
        guard let s = try await get(path) else { return nil }
        return try Answer.entries(s, url: url(path), max: discipline.maxEntries)
    }

    // MARK: Typed leaves (nil = 404)

    func ipv4(_ path: String) async throws(MetadataError) -> IPv4Address? {
        guard let v = try await leaf(path) else { return nil }
        return try parseIPv4(v, at: url(path))
    }

    func prefix(_ path: String) async throws(MetadataError) -> IPv4Prefix? {
        guard let v = try await leaf(path) else { return nil }
        do { return try IPv4Prefix(v) } catch { throw MetadataError("\(url(path)): \(error)") }
    }

    func int(_ path: String, _ range: ClosedRange<Int>) async throws(MetadataError) -> Int? {
        guard let v = try await leaf(path) else { return nil }
        guard let n = Int(v), range.contains(n) else {
            throw MetadataError("\(url(path)): \(quoted(v)) is not a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }
}

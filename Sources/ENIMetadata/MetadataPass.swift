import ENIHTTP
import ENIModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A token flow (AWS IMDSv2, Alibaba's hardened mode): `PUT /latest/api/token` with a TTL header,
/// then the token on every GET.
struct TokenFlow: Sendable {
    var ttlHeader: String
    var tokenHeader: String
    var ttlSeconds = 300
    /// Alibaba: tokens are optional; when the PUT is not understood, go on without one.
    var optional: Bool
}

/// One GET's outcome: the body as text, nil for 404, or why there is none.
typealias Answered = Result<String?, MetadataError>

/// The requests of one round of a pass: one base URL, one session (connections reused), one
/// retry deadline, one token. Requests go in batches (`get`), sent together over the session's
/// connections: what a round needs is read in as few round trips as it allows.
final class MetadataPass {
    let session: HTTPSession
    let base: String
    let discipline: FetchDiscipline
    let deadline: ContinuousClock.Instant
    let tokenFlow: TokenFlow?
    /// The round's token once asked for (nil inside: none, for an optional flow).
    private var token: String??

    init(session: HTTPSession, base: String, discipline: FetchDiscipline, tokenFlow: TokenFlow?) {
        self.session = session
        self.base = base.hasSuffix("/") ? base : base + "/"
        self.discipline = discipline
        self.deadline = .now.advanced(by: .milliseconds(discipline.roundTimeoutMilliseconds))
        self.tokenFlow = tokenFlow
    }

    func url(_ path: String) -> String { base + path }

    /// `http://host/latest/meta-data/` -> `http://host/latest/api/token`.
    static func tokenURL(_ base: String) -> String {
        var b = base
        if b.hasSuffix("/") { b.removeLast() }
        if b.hasSuffix("/meta-data") { b.removeLast("/meta-data".count) }
        return b + "/api/token"
    }

    /// The round's token: asked for once, then kept (nil without a token flow, or when an optional
    /// flow's PUT is not understood).
    func currentToken() throws(MetadataError) -> String? {
        guard let flow = tokenFlow else { return nil }
        if let token { return token }
        let t = try requestToken(flow)
        token = .some(t)
        return t
    }

    /// A new token, unless the one in use is no longer `old` (another batch renewed it already).
    func renewToken(replacing old: String?) throws(MetadataError) -> String? {
        if let token, token != old { return token }
        token = nil
        return try currentToken()
    }

    private func requestToken(_ flow: TokenFlow) throws(MetadataError) -> String? {
        let url = Self.tokenURL(base)
        let request = HTTPRequest(.put, url, headers: ["\(flow.ttlHeader): \(flow.ttlSeconds)"],
                                  connectTimeoutMilliseconds: discipline.connectTimeoutMilliseconds,
                                  timeoutMilliseconds: discipline.requestTimeoutMilliseconds, maxBytes: 4096)
        let response = try exchange([request])[0].get()
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

    /// Sends the requests together, retrying those that met a timeout, a connection error, 429 or
    /// 5xx, with jittered backoff, until the attempts or the round's deadline run out. Each
    /// request's last response, or why it has none, in the order of `requests`.
    func exchange(_ requests: [HTTPRequest]) -> [Result<HTTPResponse, MetadataError>] {
        let d = discipline
        var results = [Result<HTTPResponse, MetadataError>?](repeating: nil, count: requests.count)
        var todo = Array(requests.indices)
        var attempt = 0
        while !todo.isEmpty {
            attempt += 1
            let left = ContinuousClock.now.duration(to: deadline).milliseconds
            guard left > 0 else {
                for i in todo {
                    results[i] = .failure(MetadataError("\(requests[i].method.rawValue) \(requests[i].url): no answer before the pass deadline (\(d.roundTimeoutMilliseconds) ms)"))
                }
                break
            }
            let sent = todo.map { i in
                var r = requests[i]
                r.timeoutMilliseconds = min(r.timeoutMilliseconds, left)
                r.connectTimeoutMilliseconds = min(r.connectTimeoutMilliseconds, left)
                return r
            }
            var again: [(index: Int, why: String)] = []
            for (i, answer) in zip(todo, session.perform(sent)) {
                switch answer {
                case .success(let r) where (r.status == 429 || (500...599).contains(r.status)) && attempt < d.attempts:
                    again.append((i, "HTTP \(r.status)"))
                case .success(let r):
                    results[i] = .success(r)
                case .failure(let e) where e.isTransient && attempt < d.attempts:
                    again.append((i, e.description))
                case .failure(let e):
                    results[i] = .failure(MetadataError("\(requests[i].method.rawValue) \(e)\(attempt > 1 ? " (after \(attempt) tries)" : "")"))
                }
            }
            todo = again.map(\.index)
            guard !again.isEmpty else { break }
            let pause = backoff(d.backoffMilliseconds, step: attempt - 1, cap: 2000)
            if ContinuousClock.now.advanced(by: pause) >= deadline {
                for (i, why) in again {
                    results[i] = .failure(MetadataError("\(requests[i].method.rawValue) \(requests[i].url): no answer before the pass deadline (last: \(why))"))
                }
                break
            }
            sleep(for: pause)
        }
        return results.map { $0! }
    }

    /// GETs of paths below the base, sent together: each one's text (size checked by the session;
    /// UTF-8 and control characters here), nil for 404, or its error. A rejected token is renewed
    /// once, and the requests it failed are sent again with the new one.
    func get(_ paths: [String]) -> [Answered] {
        if paths.isEmpty { return [] }
        var results = [Answered?](repeating: nil, count: paths.count)
        var sentToken: String?
        do { sentToken = try currentToken() } catch { return paths.map { _ in .failure(error) } }
        var todo = Array(paths.indices)
        var renewed = false
        while !todo.isEmpty {
            var headers: [String] = []
            if let flow = tokenFlow, let t = sentToken { headers.append("\(flow.tokenHeader): \(t)") }
            let requests = todo.map { i in
                HTTPRequest(.get, url(paths[i]), headers: headers,
                            connectTimeoutMilliseconds: discipline.connectTimeoutMilliseconds,
                            timeoutMilliseconds: discipline.requestTimeoutMilliseconds,
                            maxBytes: discipline.maxResponseBytes)
            }
            var again: [Int] = []
            for (i, answer) in zip(todo, exchange(requests)) {
                let u = url(paths[i])
                switch answer {
                case .failure(let e): results[i] = .failure(e)
                case .success(let r):
                    switch r.status {
                    case 200:
                        do { results[i] = .success(try Answer.text(r.body, url: u)) } catch { results[i] = .failure(error) }
                    case 404:
                        results[i] = .success(nil)
                    case 401 where tokenFlow != nil && !renewed,
                         403 where tokenFlow?.optional == true && sentToken == nil && !renewed:
                        again.append(i)
                    case 401:
                        results[i] = .failure(MetadataError("GET \(u): 401 Unauthorized (token \(sentToken == nil ? "missing" : "rejected"))"))
                    default:
                        results[i] = .failure(MetadataError("GET \(u): HTTP \(r.status)"))
                    }
                }
            }
            todo = again
            guard !again.isEmpty else { break }
            renewed = true
            do { sentToken = try renewToken(replacing: sentToken) } catch {
                for i in again { results[i] = .failure(error) }
                break
            }
        }
        return results.map { $0! }
    }

    /// GETs of `paths` together, as `Reads` to take typed values from.
    func read(_ paths: [String]) -> Reads {
        var seen = Set<String>()
        let unique = paths.filter { seen.insert($0).inserted }
        return Reads(pass: self, answers: Dictionary(uniqueKeysWithValues: zip(unique, get(unique))))
    }

    /// One GET.
    func get(_ path: String) throws(MetadataError) -> String? { try get([path])[0].get() }
}

/// The answers of one batch of GETs, by path, and their typed values.
struct Reads {
    let pass: MetadataPass
    let answers: [String: Answered]

    /// The value at `path` as `parse` reads it; nil for 404. `path` must have been read.
    func value<T>(_ path: String, _ parse: Leaf<T>) throws(MetadataError) -> T? {
        guard let text = try answers[path]!.get() else { return nil }
        return try parse.read(text, pass.url(path), pass.discipline)
    }

    /// A leaf the ENI needs: 404 means "not yet"; an error or invalid value means "unknown".
    func need<T>(_ path: String, _ parse: Leaf<T>) throws(ENIRead) -> T {
        let v: T?
        do { v = try value(path, parse) } catch { throw .invalid(error.message) }
        guard let v else { throw .pending("\(pass.url(path)) answers 404") }
        return v
    }

    /// The leaf at `path` answered, whatever its value (neither 404 nor an error).
    func exists(_ path: String) -> Bool { ((try? answers[path]!.get()) ?? nil) != nil }

    /// A leaf that may be absent (404 -> nil).
    func optional<T>(_ path: String, _ parse: Leaf<T>) throws(ENIRead) -> T? {
        do { return try value(path, parse) } catch { throw .invalid(error.message) }
    }
}

/// How an answer's text is read: pure, from the text, the URL (for messages) and the limits.
struct Leaf<T> {
    let read: (_ text: String, _ url: String, _ discipline: FetchDiscipline) throws(MetadataError) -> T
}

extension Leaf where T == String {
    /// One line. Trailing line ends are dropped; anything else is kept and validated.
    static var text: Leaf { Leaf { t, u, _ throws(MetadataError) in try Answer.leaf(t, url: u) } }
}

extension Leaf where T == [String] {
    /// One entry per line (empty lines dropped), at most `maxEntries`.
    static var list: Leaf { Leaf { t, u, d throws(MetadataError) in try Answer.entries(t, url: u, max: d.maxEntries) } }
}

extension Leaf where T == IPv4Address {
    static var ipv4: Leaf { Leaf { t, u, _ throws(MetadataError) in try parseIPv4(try Answer.leaf(t, url: u), at: u) } }
}

extension Leaf where T == IPv4Prefix {
    static var prefix: Leaf {
        Leaf { t, u, _ throws(MetadataError) in
            let v = try Answer.leaf(t, url: u)
            do { return try IPv4Prefix(v) } catch { throw MetadataError("\(u): \(error)") }
        }
    }
}

extension Leaf where T == IPv6Address {
    static var ipv6: Leaf { Leaf { t, u, _ throws(MetadataError) in try parseIPv6(try Answer.leaf(t, url: u), at: u) } }
}

extension Leaf where T == [IPv6Address] {
    /// AWS's `ipv6s`: one address per line (a listing).
    static var ipv6List: Leaf {
        Leaf { t, u, d throws(MetadataError) in try Answer.ipv6s(try Answer.entries(t, url: u, max: d.maxEntries), at: u, max: d.maxEntries) }
    }
    /// Alibaba's `ipv6s`: `[a,b]` on one line.
    static var bracketedIPv6s: Leaf {
        Leaf { t, u, d throws(MetadataError) in try Answer.bracketedIPv6s(try Answer.leaf(t, url: u), at: u, max: d.maxEntries) }
    }
    /// An `ipv6s` of either form: Alibaba's when it begins with `[`, else AWS's listing (a tree
    /// that documents neither, Tencent's).
    static var eitherIPv6s: Leaf {
        Leaf { t, u, d throws(MetadataError) in
            t.drop { $0 == " " || $0 == "\t" }.hasPrefix("[") ? try bracketedIPv6s.read(t, u, d) : try ipv6List.read(t, u, d)
        }
    }
}

extension Leaf where T == MACAddress {
    static var mac: Leaf { Leaf { t, u, _ throws(MetadataError) in try parseMAC(try Answer.leaf(t, url: u), at: u) } }
}

extension Leaf where T == Int {
    static func int(_ range: ClosedRange<Int>) -> Leaf {
        Leaf { t, u, _ throws(MetadataError) in
            let v = try Answer.leaf(t, url: u)
            guard let n = Int(v), range.contains(n) else {
                throw MetadataError("\(u): \(quoted(v)) is not a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
    }
}

/// Sleeps the calling thread (the pass's only one): the pauses between retries and polls.
func sleep(for d: Duration) {
    guard d > .zero else { return }
    var ts = timespec(tv_sec: Int(d.components.seconds), tv_nsec: Int(d.components.attoseconds / 1_000_000_000))
    var rest = timespec()
    while nanosleep(&ts, &rest) != 0, errno == EINTR { ts = rest }
}


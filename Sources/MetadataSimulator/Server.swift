import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// A cloud metadata endpoint for tests and the demo: serves a `Scenario` as Tencent's, Alibaba's
/// or AWS's tree, follows each cloud's token rules, injects faults and counts requests.
///
/// The HTTP/1.1 server is written on plain sockets on purpose: the faults (a body cut short, a
/// connection that never answers, a close without a response) are about the bytes on the wire,
/// which a server library would not let a test get wrong. It is test support only and never part
/// of the shipped binary.
///
/// Control endpoints (not counted): `GET /_sim/stats`, `PUT /_sim/scenario` (a scenario JSON),
/// `PUT /_sim/faults` (a JSON array of faults), `POST /_sim/expire-tokens`, `POST /_sim/reset-stats`.
public final class MetadataSimulator: @unchecked Sendable {
    public struct Stats: Codable, Sendable, Equatable {
        /// Requests to the metadata tree and the token endpoint.
        public var requests = 0
        /// TCP connections that carried metadata requests.
        public var connections = 0
        /// Requests per path (method and path).
        public var byPath: [String: Int] = [:]
        enum CodingKeys: String, CodingKey { case requests, connections, byPath = "by_path" }
    }

    private struct State {
        var scenario: Scenario
        var tree: [String: String]
        var faultsSince: ContinuousClock.Instant
        var faultHits: [Int] = []
        var tokens: [String: ContinuousClock.Instant] = [:]
        var stats = Stats()
        var nextToken = 0
    }

    private let state: Mutex<State>
    private let listenFD: Int32
    private let clients = Mutex<Set<Int32>>([])
    public let port: UInt16
    public let host: String

    /// Starts listening on `host:port` (port 0: any free port; see `port`).
    public init(scenario: Scenario, host: String = "127.0.0.1", port: UInt16 = 0) throws {
        state = Mutex(State(scenario: scenario, tree: scenario.tree(), faultsSince: .now))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SimulatorError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { close(fd); throw SimulatorError("bad listen address \(host)") }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let e = String(cString: strerror(errno)); close(fd)
            throw SimulatorError("listen on \(host):\(port): \(e)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.listenFD = fd
        self.port = UInt16(bigEndian: addr.sin_port)
        self.host = host
        state.withLock { $0.faultHits = Array(repeating: 0, count: scenario.faults.count) }
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    /// The metadata base URL, as a provider's `--metadata-url` wants it.
    public var baseURL: String { "http://\(host):\(port)/latest/meta-data/" }

    /// Stops accepting and drops every connection.
    public func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        clients.withLock { for fd in $0 { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    deinit { stop(); close(listenFD) }

    // MARK: Control

    public var scenario: Scenario { state.withLock { $0.scenario } }

    /// Replaces the scenario (its faults included) and restarts the fault clock.
    public func setScenario(_ s: Scenario) {
        state.withLock {
            $0.scenario = s; $0.tree = s.tree(); $0.faultsSince = .now
            $0.faultHits = Array(repeating: 0, count: s.faults.count)
        }
    }

    /// Replaces the faults only and restarts the fault clock.
    public func setFaults(_ faults: [Fault]) {
        state.withLock { $0.scenario.faults = faults; $0.faultsSince = .now; $0.faultHits = Array(repeating: 0, count: faults.count) }
    }

    /// Makes every token issued so far invalid (as if its TTL had passed).
    public func expireTokens() { state.withLock { $0.tokens.removeAll() } }

    public var stats: Stats { state.withLock { $0.stats } }
    public func resetStats() { state.withLock { $0.stats = Stats() } }

    // MARK: Connections

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            clients.withLock { _ = $0.insert(fd) }
            let t = Thread { [self] in
                serve(fd)
                clients.withLock { _ = $0.remove(fd) }
                close(fd)
            }
            t.start()
        }
    }

    private struct Request {
        var method: String
        var path: String
        var headers: [String: String]
        var body: [UInt8]
    }

    private enum Reply {
        case response(status: Int, body: [UInt8], contentType: String)
        case hang, close
        case truncate([UInt8])
    }

    private func serve(_ fd: Int32) {
        var buffer: [UInt8] = []
        var counted = false
        while let request = readRequest(fd, &buffer) {
            // Connections are counted when they carry a metadata request (not a control call).
            if !counted && !request.path.hasPrefix("/_sim/") {
                counted = true
                state.withLock { $0.stats.connections += 1 }
            }
            let reply = handle(request)
            switch reply {
            case .hang:
                // Never answer: wait until the client gives up and closes.
                var b = [UInt8](repeating: 0, count: 512)
                while recv(fd, &b, b.count, 0) > 0 {}
                return
            case .close:
                return
            case .truncate(let body):
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n\r\n"
                send(fd, Array(head.utf8) + body.prefix(body.count / 2))
                return
            case .response(let status, let body, let type):
                let keep = request.headers["connection"]?.lowercased() != "close"
                let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(type)\r\n"
                    + "Content-Length: \(body.count)\r\nConnection: \(keep ? "keep-alive" : "close")\r\n\r\n"
                guard send(fd, Array(head.utf8) + body), keep else { return }
            }
        }
    }

    @discardableResult
    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }

    /// Reads one request (request line, headers, a Content-Length body). Nil at end of stream.
    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Request? {
        let crlf2: [UInt8] = [13, 10, 13, 10]
        var chunk = [UInt8](repeating: 0, count: 4096)
        func fill() -> Bool {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buffer += chunk[..<n]
            return buffer.count < 1 << 20
        }
        var end: Int?
        while true {
            if buffer.count >= 4, let i = (0...(buffer.count - 4)).first(where: { buffer[$0..<$0 + 4].elementsEqual(crlf2) }) {
                end = i; break
            }
            guard fill() else { return nil }
        }
        let head = String(decoding: buffer[..<end!], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for l in lines {
            guard let colon = l.firstIndex(of: ":") else { continue }
            headers[l[..<colon].lowercased()] = String(l[l.index(after: colon)...]).trimmingCharacters(in: " \t")
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let start = end! + 4
        while buffer.count < start + length { guard fill() else { return nil } }
        let body = Array(buffer[start..<start + length])
        buffer.removeFirst(start + length)
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body)
    }

    // MARK: Answers

    private func handle(_ r: Request) -> Reply {
        if r.path.hasPrefix("/_sim/") { return control(r) }
        // Faults, the tree and the tokens are read under the lock; the latency is served outside.
        let (reply, latency) = state.withLock { s -> (Reply, Int) in
            s.stats.requests += 1
            s.stats.byPath["\(r.method) \(r.path)", default: 0] += 1
            return answer(r, &s)
        }
        if latency > 0 { usleep(UInt32(latency) * 1000) }
        return reply
    }

    private func answer(_ r: Request, _ s: inout State) -> (Reply, Int) {
        let elapsed = s.faultsSince.duration(to: .now)
        var latency = 0
        var hidden: [(mac: String, leavesOnly: Bool)] = []
        for (i, f) in s.scenario.faults.enumerated() {
            if let secs = f.seconds, elapsed >= .milliseconds(Int(secs * 1000)) { continue }
            if let mac = f.hideMAC { hidden.append((mac.lowercased(), f.leavesOnly ?? false)); continue }
            if let p = f.path, p.hasSuffix("$") ? !r.path.hasSuffix(p.dropLast()) : !r.path.contains(p) { continue }
            if let m = f.method, m != r.method { continue }
            if let times = f.times, s.faultHits[i] >= times { continue }
            s.faultHits[i] += 1
            latency = max(latency, f.latencyMs ?? 0)
            if f.expireTokens == true {
                s.tokens.removeAll()
                return (.response(status: 401, body: [], contentType: "text/plain"), latency)
            }
            if let mode = f.mode {
                switch mode {
                case .hang: return (.hang, latency)
                case .close: return (.close, latency)
                case .truncate: return (.truncate(Array((s.tree[Self.treePath(r.path) ?? ""] ?? String(repeating: "x", count: 200)).utf8)), latency)
                case .oversize: return (.response(status: 200, body: Array(repeating: UInt8(ascii: "a"), count: 100 << 10), contentType: "text/plain"), latency)
                }
            }
            if f.status != nil || f.body != nil {
                return (.response(status: f.status ?? 200, body: Array((f.body ?? "").utf8), contentType: "text/plain"), latency)
            }
        }
        return (tree(r, &s, hidden: hidden), latency)
    }

    private func tree(_ r: Request, _ s: inout State, hidden: [(mac: String, leavesOnly: Bool)]) -> Reply {
        let sc = s.scenario
        func text(_ status: Int, _ body: String = "") -> Reply { .response(status: status, body: Array(body.utf8), contentType: "text/plain") }
        if r.path == "/latest/api/token" {
            guard r.method == "PUT" else { return text(405) }
            let header: String
            switch sc.cloud {
            case .tencent: return text(404)
            case .aws: header = "x-aws-ec2-metadata-token-ttl-seconds"
            case .aliyun: header = "x-aliyun-ecs-metadata-token-ttl-seconds"
            }
            guard let ttl = r.headers[header].flatMap({ Int($0) }), (1...(sc.maxTokenTTL ?? 21600)).contains(ttl) else {
                return text(400)
            }
            s.nextToken += 1
            let token = "sim-token-\(s.nextToken)-\(UInt32.random(in: 0...UInt32.max))"
            s.tokens[token] = .now.advanced(by: .seconds(ttl))
            return text(200, token)
        }
        if r.path == "/" && sc.cloud == .tencent { return text(200, "1.0\n2017-09-19\nlatest\nmeta-data") }
        guard r.method == "GET", let path = Self.treePath(r.path) else { return text(r.method == "GET" ? 404 : 405) }
        let tokenHeader: String? = switch sc.cloud {
        case .tencent: nil
        case .aws: "x-aws-ec2-metadata-token"
        case .aliyun: "x-aliyun-ecs-metadata-token"
        }
        if let h = tokenHeader {
            let required = sc.cloud == .aws || sc.tokenRequired == true
            if let t = r.headers[h] {
                guard let expires = s.tokens[t], expires > .now else { return text(401) }
            } else if required {
                return sc.cloud == .aws ? text(401) : text(403)
            }
        }
        let macs = "network/interfaces/macs/"
        let lower = path.lowercased()
        for h in hidden {
            if lower == macs && !h.leavesOnly, var listing = s.tree[path] {
                listing = listing.split(separator: "\n").filter { !$0.lowercased().hasPrefix(h.mac) }.joined(separator: "\n")
                return text(200, listing)
            }
            if lower.hasPrefix(macs + h.mac) { return text(404) }
        }
        guard let body = s.tree[path] else { return text(404) }
        return text(200, body)
    }

    /// `/latest/meta-data/x` (or Alibaba's `/2016-01-01/meta-data/x`) -> `x`.
    static func treePath(_ p: String) -> String? {
        for prefix in ["/latest/meta-data/", "/2016-01-01/meta-data/"] where p.hasPrefix(prefix) {
            return String(p.dropFirst(prefix.count))
        }
        return nil
    }

    private func control(_ r: Request) -> Reply {
        func json<T: Encodable>(_ v: T) -> Reply {
            let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return .response(status: 200, body: Array((try? e.encode(v)) ?? Data()), contentType: "application/json")
        }
        func fail(_ m: String) -> Reply { .response(status: 400, body: Array((m + "\n").utf8), contentType: "text/plain") }
        switch (r.method, r.path) {
        case ("GET", "/_sim/stats"): return json(stats)
        case ("GET", "/_sim/scenario"): return json(scenario)
        case ("PUT", "/_sim/scenario"):
            do { setScenario(try Scenario.decode(r.body)) } catch { return fail("scenario: \(error)") }
            return json(["ok": true])
        case ("PUT", "/_sim/faults"):
            do { setFaults(try JSONDecoder().decode([Fault].self, from: Data(r.body))) } catch { return fail("faults: \(error)") }
            return json(["ok": true])
        case ("POST", "/_sim/expire-tokens"): expireTokens(); return json(["ok": true])
        case ("POST", "/_sim/reset-stats"): resetStats(); return json(["ok": true])
        default: return fail("unknown control \(r.method) \(r.path)")
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

public struct SimulatorError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// A detached POSIX thread running a closure (blocking socket work stays off Swift's
/// cooperative pool).
final class Thread: @unchecked Sendable {
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func start() {
        var t = pthread_t()
        let me = Unmanaged.passRetained(self).toOpaque()
        _ = pthread_create(&t, nil, { arg in
            let th = Unmanaged<Thread>.fromOpaque(arg!).takeRetainedValue()
            th.body()
            return nil
        }, me)
        pthread_detach(t)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

internal import CCurl
import Glibc
import Synchronization

/// One HTTP request: what the metadata providers (and the tests' simulator controls) send.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable { case get = "GET", put = "PUT" }
    public var method: Method
    public var url: String
    /// Extra header lines, `Name: value`.
    public var headers: [String]
    /// The body of a PUT; none for a GET.
    public var body: [UInt8]
    /// Time to establish the TCP connection.
    public var connectTimeoutMilliseconds: Int
    /// Time for the whole exchange, connection included.
    public var timeoutMilliseconds: Int
    /// A larger body is an error (`HTTPError.Kind.tooLarge`), never a truncated success.
    public var maxBytes: Int

    public init(_ method: Method = .get, _ url: String, headers: [String] = [], body: [UInt8] = [],
                connectTimeoutMilliseconds: Int = 200, timeoutMilliseconds: Int = 2000, maxBytes: Int = 64 << 10) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxBytes = maxBytes
    }
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    public init(status: Int, body: [UInt8]) { self.status = status; self.body = body }
}

/// A transfer that produced no HTTP response. Statuses (404, 500...) are responses, not errors.
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No complete answer within the timeout (connect or total).
        case timeout
        /// Connection refused, reset, or closed before a response.
        case connection
        /// The body ended before its announced length.
        case truncated
        /// The body is larger than the request's `maxBytes`.
        case tooLarge
        /// Anything else curl reports (bad URL, unsupported scheme...). Retrying will not help.
        case failed
        /// The session was closed.
        case closed
    }
    public var kind: Kind
    public var url: String
    public var detail: String

    public init(_ kind: Kind, url: String, detail: String) { self.kind = kind; self.url = url; self.detail = detail }

    /// Worth another try: the network or the server may do better next time.
    public var isTransient: Bool { [.timeout, .connection, .truncated].contains(kind) }

    public var description: String {
        let what = switch kind {
        case .timeout: "timed out"
        case .connection: "connection failed"
        case .truncated: "truncated response"
        case .tooLarge: "response too large"
        case .failed: "request failed"
        case .closed: "session closed"
        }
        return detail.isEmpty ? "\(url): \(what)" : "\(url): \(what) (\(detail))"
    }
}

/// HTTP over libcurl's multi interface. One worker thread drives every transfer of the session;
/// connections are kept alive and reused across its requests; at most `maxConcurrent` transfers
/// run at once (the others wait in the session's queue, so a queued request's timeout starts only
/// when it is sent). Create one per metadata pass and `close()` it afterwards: no thread and no
/// socket outlive the pass.
public final class HTTPSession: @unchecked Sendable {
    private struct State {
        var queue: [Transfer] = []
        var active = 0
        var closed = false
        var started = false
    }

    public let maxConcurrent: Int
    public let userAgent: String
    private let state = Mutex(State())
    /// Touched by the worker thread only, but for `curl_multi_wakeup`, which is thread-safe. Nil
    /// when libcurl could not be set up: every request then fails, saying why.
    private let multi: UnsafeMutableRawPointer?
    private var thread = pthread_t()
    /// Requests sent, for accounting (`requests` in verbose output and the benchmarks).
    private let sent = Atomic<Int>(0)

    public init(maxConcurrent: Int = 4, userAgent: String = "eni-agent") {
        self.maxConcurrent = max(1, maxConcurrent)
        self.userAgent = userAgent
        // The session's own queue keeps at most maxConcurrent transfers in the multi handle (so a
        // request's timeout starts when it is sent); MAXCONNECTS keeps as many idle connections.
        if curlGlobal == CURLE_OK, let m = curl_multi_init(),
           eni_curl_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, self.maxConcurrent) == CURLM_OK {
            multi = m
        } else {
            multi = nil
        }
    }

    deinit {
        close()
        if let multi { curl_multi_cleanup(multi) }
    }

    /// Requests performed so far.
    public var requestCount: Int { sent.load(ordering: .relaxed) }

    /// Sends the request and waits for its response (any status) or a transport error.
    public func perform(_ request: HTTPRequest) async -> Result<HTTPResponse, HTTPError> {
        await withCheckedContinuation { (c: CheckedContinuation<Result<HTTPResponse, HTTPError>, Never>) in
            guard let multi else {
                let why = curlGlobal == CURLE_OK ? "curl_multi_init failed" : "curl_global_init: \(String(cString: curl_easy_strerror(curlGlobal)))"
                return c.resume(returning: .failure(HTTPError(.failed, url: request.url, detail: why)))
            }
            let t = Transfer(request, c)
            let go: Bool = state.withLock { s in
                if s.closed { return false }
                s.queue.append(t)
                if !s.started { s.started = true; startWorker() }
                return true
            }
            if go { curl_multi_wakeup(multi) } else {
                c.resume(returning: .failure(HTTPError(.closed, url: request.url, detail: "")))
            }
        }
    }

    /// Lets the transfers in flight finish, then stops the worker thread and closes connections.
    public func close() {
        let started: Bool = state.withLock { s in
            defer { s.closed = true }
            return s.started && !s.closed
        }
        guard started, let multi else { return }
        curl_multi_wakeup(multi)
        pthread_join(thread, nil)
    }

    // MARK: Worker thread

    private func startWorker() {
        let me = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            let session = Unmanaged<HTTPSession>.fromOpaque(arg!).takeRetainedValue()
            session.run()
            return nil
        }, me)
        precondition(rc == 0, "eni-agent: cannot start the HTTP thread (error \(rc))")
    }

    private func run() {
        guard let multi else { return }  // never started without one
        var idle: [UnsafeMutableRawPointer] = []
        /// Handles in the multi handle, so that a failure of the multi handle itself ends them all.
        var inFlight: [UnsafeMutableRawPointer] = []
        defer { for e in idle { curl_easy_cleanup(e) } }
        while true {
            let (start, stop): ([Transfer], Bool) = state.withLock { s in
                let n = min(maxConcurrent - s.active, s.queue.count)
                let batch = Array(s.queue.prefix(n))
                s.queue.removeFirst(n)
                s.active += n
                return (batch, s.closed && s.active == 0 && s.queue.isEmpty)
            }
            if stop { return }
            for t in start {
                guard let easy = idle.popLast() ?? curl_easy_init() else {
                    state.withLock { $0.active -= 1 }
                    t.fail(HTTPError(.failed, url: t.request.url, detail: "curl_easy_init failed (out of memory)"))
                    continue
                }
                if let why = t.configure(easy, userAgent: userAgent) {
                    state.withLock { $0.active -= 1 }
                    t.fail(HTTPError(.failed, url: t.request.url, detail: why))
                    idle.append(easy)
                    continue
                }
                sent.add(1, ordering: .relaxed)
                let rc = curl_multi_add_handle(multi, easy)
                if rc != CURLM_OK {
                    Unmanaged.passUnretained(t).release()   // the reference configure() took for curl
                    finish(t, easy, CURLE_FAILED_INIT)
                    idle.append(easy)
                } else {
                    inFlight.append(easy)
                }
            }
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                // The multi handle itself failed (out of memory, internal error): every transfer in
                // it ends with that error rather than waiting for an answer that cannot come.
                for easy in inFlight {
                    var priv: UnsafeMutableRawPointer?
                    _ = eni_curl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &priv)
                    curl_multi_remove_handle(multi, easy)
                    if let priv { finish(Unmanaged<Transfer>.fromOpaque(priv).takeRetainedValue(), easy, CURLE_FAILED_INIT,
                                         detail: "curl_multi_perform: \(String(cString: curl_multi_strerror(performed)))") }
                    idle.append(easy)
                }
                inFlight = []
                continue
            }
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                let code = msg.pointee.data.result
                var priv: UnsafeMutableRawPointer?
                _ = eni_curl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &priv)
                curl_multi_remove_handle(multi, easy)
                inFlight.removeAll { $0 == easy }
                if let priv {
                    finish(Unmanaged<Transfer>.fromOpaque(priv).takeRetainedValue(), easy, code)
                }
                idle.append(easy)
            }
            // Requests queued while every slot was busy have had their wake-up consumed already:
            // take them now that slots are free, before sleeping.
            if state.withLock({ !$0.queue.isEmpty && $0.active < maxConcurrent }) { continue }
            // Sleeps until a socket is ready, curl's next timeout, or a wakeup from perform/close.
            // A failed timeout query or poll costs at most a short sleep: the next perform reports
            // what is wrong with the multi handle.
            var timeout = 1000
            if curl_multi_timeout(multi, &timeout) != CURLM_OK || timeout < 0 || timeout > 1000 { timeout = 1000 }
            if curl_multi_poll(multi, nil, 0, Int32(timeout), nil) != CURLM_OK { usleep(10_000) }
        }
    }

    private func finish(_ t: Transfer, _ easy: UnsafeMutableRawPointer, _ code: CURLcode, detail: String? = nil) {
        state.withLock { $0.active -= 1 }
        t.complete(easy, code, detail: detail)
    }
}

/// Initialises libcurl once per process, before the first session (curl_global_init); its result.
private let curlGlobal: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// Restricts the handle to plain HTTP: `CURLOPT_PROTOCOLS_STR` where libcurl knows it (7.85 and
/// later), else the older bit mask `CURLOPT_PROTOCOLS` (RHEL 9 ships 7.76). Never silently
/// unrestricted: the result is the last option's, and a failure stops the request.
func restrictToHTTP(_ easy: UnsafeMutableRawPointer, preferString: Bool = true) -> CURLcode {
    if preferString {
        let rc = eni_curl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http")
        guard rc == CURLE_UNKNOWN_OPTION else { return rc }
    }
    return eni_curl_easy_setopt_long(easy, ENI_CURLOPT_PROTOCOLS_MASK, Int(CURLPROTO_HTTP))
}

/// The body sink curl calls while a response arrives (CURLOPT_WRITEFUNCTION).
private let writeBody: eni_curl_write_fn = { data, size, count, user in
    let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let n = size * count
    if t.body.count + n > t.request.maxBytes { t.overflow = true; return 0 }
    if let data { t.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n)) }
    return n
}

/// One request in flight. Owned by the worker thread from the moment it is queued.
private final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    let continuation: CheckedContinuation<Result<HTTPResponse, HTTPError>, Never>
    var body: [UInt8] = []
    var overflow = false
    private var headers: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    init(_ request: HTTPRequest, _ continuation: CheckedContinuation<Result<HTTPResponse, HTTPError>, Never>) {
        self.request = request
        self.continuation = continuation
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_slist_free_all(headers)
        errorBuffer.deallocate()
    }

    /// Sets every option of the handle for this request; the handle may have served another
    /// request before (the connection cache belongs to the multi handle and survives the reset).
    /// Every option is checked: nil when all are set (and curl holds a reference to `self`), else
    /// which one libcurl refused and why; the request is then not sent.
    func configure(_ easy: UnsafeMutableRawPointer, userAgent: String) -> String? {
        curl_easy_reset(easy)
        let me = Unmanaged.passUnretained(self).toOpaque()
        var failed: String?
        func set(_ name: String, _ rc: CURLcode) {
            if rc != CURLE_OK, failed == nil { failed = "curl_easy_setopt(\(name)): \(String(cString: curl_easy_strerror(rc)))" }
        }
        set("CURLOPT_URL", eni_curl_easy_setopt_string(easy, CURLOPT_URL, request.url))
        set("CURLOPT_PROTOCOLS", restrictToHTTP(easy))
        set("CURLOPT_NOPROXY", eni_curl_easy_setopt_string(easy, CURLOPT_NOPROXY, "*"))
        set("CURLOPT_USERAGENT", eni_curl_easy_setopt_string(easy, CURLOPT_USERAGENT, userAgent))
        set("CURLOPT_NOSIGNAL", eni_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set("CURLOPT_FOLLOWLOCATION", eni_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        set("CURLOPT_HTTP_VERSION", eni_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1))
        set("CURLOPT_CONNECTTIMEOUT_MS", eni_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, request.connectTimeoutMilliseconds)))
        set("CURLOPT_TIMEOUT_MS", eni_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, request.timeoutMilliseconds)))
        set("CURLOPT_MAXFILESIZE_LARGE", eni_curl_easy_setopt_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxBytes)))
        set("CURLOPT_WRITEFUNCTION", eni_curl_easy_setopt_write_function(easy, writeBody))
        set("CURLOPT_WRITEDATA", eni_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me))
        set("CURLOPT_PRIVATE", eni_curl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, me))
        set("CURLOPT_ERRORBUFFER", eni_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        func append(_ line: String) {
            if let l = curl_slist_append(headers, line) { headers = l } else if failed == nil { failed = "curl_slist_append: out of memory" }
        }
        for h in request.headers { append(h) }
        if request.method == .put {
            set("CURLOPT_CUSTOMREQUEST", eni_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "PUT"))
            set("CURLOPT_POSTFIELDSIZE", eni_curl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count))
            // COPYPOSTFIELDS copies POSTFIELDSIZE bytes: the body may go once this returns.
            if request.body.isEmpty {
                set("CURLOPT_COPYPOSTFIELDS", eni_curl_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, ""))
            } else {
                var body = request.body
                set("CURLOPT_COPYPOSTFIELDS", body.withUnsafeMutableBytes { eni_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) })
            }
            append("Content-Type:")
        }
        set("CURLOPT_HTTPHEADER", eni_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headers.map { UnsafeMutableRawPointer($0) }))
        if failed == nil { _ = Unmanaged.passRetained(self) }  // curl's reference, released at completion
        return failed
    }

    /// Fails the request before it was handed to curl.
    func fail(_ error: HTTPError) { continuation.resume(returning: .failure(error)) }

    func complete(_ easy: UnsafeMutableRawPointer, _ code: CURLcode, detail override: String? = nil) {
        let detail = override ?? String(cString: errorBuffer)
        let result: Result<HTTPResponse, HTTPError>
        var status = 0
        let info = code == CURLE_OK ? eni_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status) : CURLE_OK
        if code == CURLE_OK, info == CURLE_OK {
            result = .success(HTTPResponse(status: status, body: body))
        } else if code == CURLE_OK {
            result = .failure(HTTPError(.failed, url: request.url, detail: "curl_easy_getinfo(CURLINFO_RESPONSE_CODE): \(String(cString: curl_easy_strerror(info)))"))
        } else {
            let kind: HTTPError.Kind = switch code {
            case CURLE_OPERATION_TIMEDOUT: .timeout
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR:
                .connection
            case CURLE_PARTIAL_FILE: .truncated
            case CURLE_FILESIZE_EXCEEDED: .tooLarge
            case CURLE_WRITE_ERROR where overflow: .tooLarge
            default: .failed
            }
            let text = kind == .tooLarge ? "more than \(request.maxBytes) bytes" : (detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
            result = .failure(HTTPError(kind, url: request.url, detail: text))
        }
        continuation.resume(returning: result)
    }
}

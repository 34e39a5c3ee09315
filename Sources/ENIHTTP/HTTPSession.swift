internal import CCurl
import Glibc

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
        }
        return detail.isEmpty ? "\(url): \(what)" : "\(url): \(what) (\(detail))"
    }
}

/// HTTP over libcurl's multi interface, on the calling thread: `perform` sends a batch of
/// requests, at most `maxConcurrent` at once, and sleeps in `curl_multi_poll` (curl's sockets and
/// its next timeout) until every one has its answer. No thread, no lock: one session belongs to
/// one thread. Connections are kept alive and reused across its requests and batches; a queued
/// request's timeout starts only when it is sent. Keep one per metadata pass: its connections and
/// handles go with it.
public final class HTTPSession {
    public let maxConcurrent: Int
    public let userAgent: String
    /// Nil when libcurl could not be set up: every request then fails, saying why.
    private let multi: UnsafeMutableRawPointer?
    /// Easy handles done with their transfer, for the next ones (curl_easy_reset keeps them cheap).
    private var idle: [UnsafeMutableRawPointer] = []
    /// Requests sent, for accounting (`requests` in verbose output and the benchmarks).
    public private(set) var requestCount = 0

    public init(maxConcurrent: Int = 4, userAgent: String = "eni-agent") {
        self.maxConcurrent = max(1, maxConcurrent)
        self.userAgent = userAgent
        // At most maxConcurrent transfers are in the multi handle at once; MAXCONNECTS keeps as
        // many idle connections.
        if curlGlobal == CURLE_OK, let m = curl_multi_init(),
           eni_curl_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, self.maxConcurrent) == CURLM_OK {
            multi = m
        } else {
            multi = nil
        }
    }

    deinit {
        for e in idle { curl_easy_cleanup(e) }
        if let multi { curl_multi_cleanup(multi) }
    }

    /// Sends the request and returns its response (any status) or a transport error.
    public func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> { perform([request])[0] }

    /// Sends the requests, at most `maxConcurrent` at once, and returns each one's response (any
    /// status) or transport error, in the order of `requests`.
    public func perform(_ requests: [HTTPRequest]) -> [Result<HTTPResponse, HTTPError>] {
        var results = [Result<HTTPResponse, HTTPError>?](repeating: nil, count: requests.count)
        guard let multi else {
            let why = curlGlobal == CURLE_OK ? "curl_multi_init failed" : "curl_global_init: \(String(cString: curl_easy_strerror(curlGlobal)))"
            return requests.map { .failure(HTTPError(.failed, url: $0.url, detail: why)) }
        }
        /// Transfers in the multi handle, by easy handle.
        var active: [UnsafeMutableRawPointer: (index: Int, transfer: Transfer)] = [:]
        var next = 0
        func finish(_ easy: UnsafeMutableRawPointer, _ code: CURLcode, detail: String? = nil) {
            guard let (i, t) = active.removeValue(forKey: easy) else { return }
            if curl_multi_remove_handle(multi, easy) == CURLM_OK { idle.append(easy) } else { curl_easy_cleanup(easy) }
            results[i] = t.complete(easy, code, detail: detail)
        }
        while true {
            while active.count < maxConcurrent, next < requests.count {
                let i = next
                next += 1
                let t = Transfer(requests[i])
                guard let easy = idle.popLast() ?? curl_easy_init() else {
                    results[i] = .failure(HTTPError(.failed, url: t.request.url, detail: "curl_easy_init failed (out of memory)"))
                    continue
                }
                if let why = t.configure(easy, userAgent: userAgent) {
                    results[i] = .failure(HTTPError(.failed, url: t.request.url, detail: why))
                    idle.append(easy)
                    continue
                }
                requestCount += 1
                let rc = curl_multi_add_handle(multi, easy)
                guard rc == CURLM_OK else {
                    results[i] = .failure(HTTPError(.failed, url: t.request.url, detail: "curl_multi_add_handle: \(String(cString: curl_multi_strerror(rc)))"))
                    idle.append(easy)
                    continue
                }
                active[easy] = (i, t)
            }
            if active.isEmpty { break }
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                // The multi handle itself failed (out of memory, internal error): every transfer in
                // it ends with that error rather than waiting for an answer that cannot come.
                let why = "curl_multi_perform: \(String(cString: curl_multi_strerror(performed)))"
                for easy in Array(active.keys) { finish(easy, CURLE_FAILED_INIT, detail: why) }
                continue
            }
            var left: Int32 = 0
            var done = false
            while let msg = curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                finish(easy, msg.pointee.data.result)
                done = true
            }
            // Freed slots take the next requests before any sleep.
            if done { continue }
            // Sleeps until a socket is ready or curl's next timeout. A failed timeout query or poll
            // costs at most a short sleep: the next perform reports what is wrong.
            var timeout = 1000
            if curl_multi_timeout(multi, &timeout) != CURLM_OK || timeout < 0 || timeout > 1000 { timeout = 1000 }
            if timeout > 0, curl_multi_poll(multi, nil, 0, Int32(timeout), nil) != CURLM_OK { usleep(10_000) }
        }
        return results.map { $0! }
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

/// One request in flight: what curl's callbacks write to.
private final class Transfer {
    let request: HTTPRequest
    var body: [UInt8] = []
    var overflow = false
    private var headers: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    init(_ request: HTTPRequest) {
        self.request = request
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_slist_free_all(headers)
        errorBuffer.deallocate()
    }

    /// Sets every option of the handle for this request; the handle may have served another
    /// request before (the connection cache belongs to the multi handle and survives the reset).
    /// Every option is checked: nil when all are set, else which one libcurl refused and why; the
    /// request is then not sent. The caller keeps `self` alive until the transfer completes.
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
        return failed
    }

    /// The transfer's outcome, once curl is done with it.
    func complete(_ easy: UnsafeMutableRawPointer, _ code: CURLcode, detail override: String? = nil) -> Result<HTTPResponse, HTTPError> {
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
        return result
    }
}

import ENIModel

/// Where an instance description comes from: a cloud's metadata endpoint, or a file.
public protocol MetadataProvider {
    /// Name for messages (`tencent`, `file /path`...).
    var name: String { get }
    /// What the metadata describes now, in one look. `waitingFor`: MACs known to be ENIs
    /// (hot-attached links, links named on the command line): one the metadata does not list yet
    /// is pending. An ENI the provider cannot describe is in `Instance.unknown` (pending or
    /// invalid, typed), never missing; an error for the instance as a whole (the MAC listing) is
    /// thrown. Waiting for what is pending is the caller's.
    func fetch(waitingFor: Set<MACAddress>) throws -> MetadataResult
    /// Why no ENI has IPv6 whatever the cloud says (`Cloud.ipv6Note`), for `status` to show; nil
    /// where the metadata describes IPv6 (or the provider has not chosen its cloud yet).
    var ipv6Note: String? { get }
}

extension MetadataProvider {
    public var ipv6Note: String? { nil }
}

public struct MetadataResult: Sendable {
    public var instance: Instance
    /// Listing entries that could not be used (not a MAC...): shown, not fatal.
    public var warnings: [String]
    /// HTTP requests this pass sent (0 for a file).
    public var requests: Int

    public init(instance: Instance, warnings: [String] = [], requests: Int = 0) {
        self.instance = instance; self.warnings = warnings; self.requests = requests
    }
}

public struct MetadataError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How the HTTP providers talk to an endpoint. Defaults follow well-known clients: a short
/// connect timeout (the endpoint is one hop away), a hard total timeout, a few retries with
/// backoff under a deadline, a size cap.
public struct FetchDiscipline: Sendable, Equatable {
    public var connectTimeoutMilliseconds = 200
    public var requestTimeoutMilliseconds = 2000
    /// Retries of one round of requests stop this long after the round began.
    public var roundTimeoutMilliseconds = 10_000
    /// Tries per request, the first included, for timeouts, connection errors, 429 and 5xx.
    public var attempts = 4
    /// First retry delay; doubled per retry, with jitter (50% to 100% of the value).
    public var backoffMilliseconds = 50
    public var maxResponseBytes = 64 << 10
    /// Entries a listing may have (MACs, IPs).
    public var maxEntries = 1024
    /// Requests in flight at once, over as many kept-alive connections.
    public var concurrency = 4

    public init() {}
}

/// Jittered exponential delay: `base * 2^step`, capped, times a random factor in 0.5...1.
public func backoff(_ base: Int, step: Int, cap: Int) -> Duration {
    let ms = min(cap, base << min(step, 16))
    return .milliseconds(Int(Double(ms) * Double.random(in: 0.5...1.0)))
}

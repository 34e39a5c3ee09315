import ENIHTTP
import ENIModel
import Synchronization

/// `provider = "auto"`: probes every cloud's endpoint at once, with the short timeouts, and uses
/// the one that answers with its own shape. The choice is kept for the life of the process.
///
/// Shapes (so that one `--metadata-url` serving any cloud is told apart too):
/// - AWS: `PUT /latest/api/token` with the AWS TTL header answers a token, and the MAC listing
///   read with it holds lower-case MACs.
/// - Tencent: the MAC listing holds upper-case MACs, without a token.
/// - Alibaba: the MAC listing holds lower-case MACs (with a token when the endpoint insists), and
///   the first MAC's `vswitch-cidr-block` is a prefix.
public final class AutoMetadataProvider: MetadataProvider {
    public let baseURL: String?
    public let discipline: FetchDiscipline
    public let userAgent: String
    private let chosen = Mutex<CloudMetadataProvider?>(nil)

    public init(baseURL: String? = nil, discipline: FetchDiscipline = FetchDiscipline(), userAgent: String = "eni-agent") {
        self.baseURL = baseURL
        self.discipline = discipline
        self.userAgent = userAgent
    }

    public var name: String { chosen.withLock { $0?.name } ?? "auto" }

    public func fetch(waitingFor: Set<MACAddress>) async throws -> MetadataResult {
        let session = HTTPSession(maxConcurrent: discipline.concurrency, userAgent: userAgent)
        defer { session.close() }
        let provider = try await choose(session)
        return try await provider.fetch(session, waitingFor: waitingFor)
    }

    /// The provider whose endpoint answers as its cloud does.
    func choose(_ session: HTTPSession) async throws(MetadataError) -> CloudMetadataProvider {
        if let p = chosen.withLock({ $0 }) { return p }
        var once = discipline
        once.attempts = 1
        let probe = once
        let candidates = Cloud.allCases.map { CloudMetadataProvider(cloud: $0, baseURL: baseURL, discipline: discipline, userAgent: userAgent) }
        let answers = await withTaskGroup(of: (Int, String?).self) { group in
            for (i, c) in candidates.enumerated() {
                group.addTask { (i, await Self.probe(c, session, probe)) }
            }
            var out: [(Int, String?)] = []
            for await a in group { out.append(a) }
            return out.sorted { $0.0 < $1.0 }
        }
        let matches = answers.filter { $0.1 == nil }.map { candidates[$0.0] }
        guard matches.count == 1, let p = matches.first else {
            if matches.isEmpty {
                let why = answers.map { "\(candidates[$0.0].cloud.rawValue): \($0.1!)" }.joined(separator: "; ")
                throw MetadataError("provider auto: no metadata endpoint answered as a known cloud (\(why)); set provider or --provider")
            }
            throw MetadataError("provider auto: several clouds match (\(matches.map(\.cloud.rawValue).joined(separator: ", "))); set provider or --provider")
        }
        chosen.withLock { $0 = p }
        return p
    }

    /// nil when the endpoint has the cloud's shape, else why not.
    static func probe(_ c: CloudMetadataProvider, _ session: HTTPSession, _ d: FetchDiscipline) async -> String? {
        let pass = MetadataPass(session: session, base: c.baseURL, discipline: d, tokenFlow: c.tree.tokenFlow)
        do {
            if c.cloud == .aws {
                // The token must come from this cloud's own PUT, not be optional.
                guard try await pass.tokens?.current() != nil else { return "no token" }
            }
            guard let entries = try await pass.list(CloudMetadataProvider.macsPath), let first = entries.first else {
                return "no MAC listing"
            }
            let spelled = first.hasSuffix("/") ? String(first.dropLast()) : first
            guard (try? parseMAC(spelled, at: "")) != nil else { return "listing entry \(quoted(first)) is not a MAC" }
            let upper = spelled != spelled.lowercased()
            switch c.cloud {
            case .tencent: return upper ? nil : "MACs are not upper-case"
            case .aws: return upper ? "MACs are upper-case" : nil
            case .aliyun:
                if upper { return "MACs are upper-case" }
                let p = CloudMetadataProvider.macsPath + spelled + "/vswitch-cidr-block"
                return try await pass.prefix(p) == nil ? "no vswitch-cidr-block" : nil
            }
        } catch {
            return "\(error)"
        }
    }
}

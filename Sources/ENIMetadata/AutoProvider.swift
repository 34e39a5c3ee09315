import ENIHTTP
import ENIModel

/// What the machine's DMI (SMBIOS, `/sys/class/dmi/id/`) says about the cloud it runs in, read
/// before any request, as cloud-init's ds-identify does.
public struct DMIIdentity: Sendable, Equatable {
    public var sysVendor: String?
    public var productName: String?
    public var productUUID: String?

    public init(sysVendor: String? = nil, productName: String? = nil, productUUID: String? = nil) {
        self.sysVendor = sysVendor; self.productName = productName; self.productUUID = productUUID
    }

    /// The cloud DMI names, and which value says so; nil when it names none.
    public var cloud: (cloud: Cloud, reason: String)? {
        func says(_ key: String, _ v: String) -> String { "DMI \(key) \(quoted(v))" }
        if let p = productName, p.hasPrefix("Alibaba Cloud") { return (.aliyun, says("product_name", p)) }
        if let v = sysVendor, v.hasPrefix("Alibaba Cloud") { return (.aliyun, says("sys_vendor", v)) }
        if let p = productName, p.hasPrefix("Tencent Cloud") { return (.tencent, says("product_name", p)) }
        if let v = sysVendor, v.hasPrefix("Tencent Cloud") { return (.tencent, says("sys_vendor", v)) }
        // Nitro instances name themselves; Xen ones have a product UUID that begins with "ec2".
        if let v = sysVendor, v == "Amazon EC2" { return (.aws, says("sys_vendor", v)) }
        if let u = productUUID, u.lowercased().hasPrefix("ec2") { return (.aws, says("product_uuid", u)) }
        return nil
    }
}

/// `provider = "auto"`: the cloud that DMI names, asked alone; when DMI names none, every cloud's
/// endpoint is probed in turn, each with one try and the short timeouts, and the one that answers
/// with its own shape is used. The choice is kept for the life of the process.
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
    public let dmi: DMIIdentity
    /// The provider chosen, and why.
    private var chosen: (provider: CloudMetadataProvider, reason: String)?

    public init(baseURL: String? = nil, discipline: FetchDiscipline = FetchDiscipline(), userAgent: String = "eni-agent",
                dmi: DMIIdentity = DMIIdentity()) {
        self.baseURL = baseURL
        self.discipline = discipline
        self.userAgent = userAgent
        self.dmi = dmi
        if let (cloud, reason) = dmi.cloud {
            let p = CloudMetadataProvider(cloud: cloud, baseURL: baseURL, discipline: discipline, userAgent: userAgent)
            chosen = (p, "chosen by \(reason)")
        }
    }

    /// `auto`, or the cloud chosen and why: `tencent (http://169.254.0.23/latest/meta-data/), chosen
    /// by DMI product_name "Tencent Cloud CVM"`.
    public var name: String { chosen.map { "\($0.provider.name), \($0.reason)" } ?? "auto" }

    /// The chosen cloud's (nil until one is chosen).
    public var ipv6Note: String? { chosen?.provider.ipv6Note }

    public func fetch(waitingFor: Set<MACAddress>) throws -> MetadataResult {
        let session = HTTPSession(maxConcurrent: discipline.concurrency, userAgent: userAgent)
        return try choose(session).fetch(session, waitingFor: waitingFor)
    }

    /// The provider whose endpoint answers as its cloud does.
    func choose(_ session: HTTPSession) throws(MetadataError) -> CloudMetadataProvider {
        if let p = chosen?.provider { return p }
        var probe = discipline
        probe.attempts = 1
        let candidates = Cloud.allCases.map { CloudMetadataProvider(cloud: $0, baseURL: baseURL, discipline: discipline, userAgent: userAgent) }
        let answers = candidates.enumerated().map { ($0.offset, Self.probe($0.element, session, probe)) }
        let matches = answers.filter { $0.1 == nil }.map { candidates[$0.0] }
        guard matches.count == 1, let p = matches.first else {
            if matches.isEmpty {
                let why = answers.map { "\(candidates[$0.0].cloud.rawValue): \($0.1!)" }.joined(separator: "; ")
                throw MetadataError("provider auto: no metadata endpoint answered as a known cloud (\(why)); set provider or --provider")
            }
            throw MetadataError("provider auto: several clouds match (\(matches.map(\.cloud.rawValue).joined(separator: ", "))); set provider or --provider")
        }
        chosen = (p, "the only endpoint that answered as its cloud (DMI names no cloud)")
        return p
    }

    /// nil when the endpoint has the cloud's shape, else why not.
    static func probe(_ c: CloudMetadataProvider, _ session: HTTPSession, _ d: FetchDiscipline) -> String? {
        let pass = MetadataPass(session: session, base: c.baseURL, discipline: d, tokenFlow: c.tree.tokenFlow)
        do {
            if c.cloud == .aws {
                // The token must come from this cloud's own PUT, not be optional.
                guard try pass.currentToken() != nil else { return "no token" }
            }
            let path = CloudMetadataProvider.macsPath
            guard let entries = try pass.read([path]).value(path, .list), let first = entries.first else {
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
                return try pass.read([p]).value(p, .prefix) == nil ? "no vswitch-cidr-block" : nil
            }
        } catch {
            return "\(error)"
        }
    }
}

import ENIHTTP
import ENIModel

/// One ENI's directory in the tree, to read.
struct ENIDir {
    var mac: MACAddress
    /// Below the base, ending in `/`.
    var dir: String
    var isPrimary: Bool
}

/// What differs between the clouds: the token flow and how the ENIs' directories are read.
protocol CloudTree: AnyObject {
    var tokenFlow: TokenFlow? { get }
    /// What the tree keeps between passes, per ENI.
    var caches: [any MACKeyed] { get }
    /// Reads the ENIs, together (in as few batches of requests as the tree allows): each one's
    /// description, or why there is none.
    func readENIs(_ pass: MetadataPass, _ enis: [ENIDir]) -> [MACAddress: Result<ENI, ENIRead>]
    /// Why no ENI has IPv6 whatever the tree says (`Cloud.ipv6Note`), as far as the passes so far
    /// tell.
    var ipv6Note: String? { get }
}

extension CloudTree {
    var ipv6Note: String? { nil }
}

/// A tree whose ENIs are read in one batch: the paths each needs, with its IPv6 addresses, then the
/// ENI from the answers; then its IPv6 (`IPv6Leaves.describe`: a second batch only for an ENI
/// whose addresses are listed and whose IPv6 subnet is not cached yet).
protocol OneBatchTree: CloudTree {
    func paths(_ e: ENIDir) -> [String]
    func eni(_ e: ENIDir, _ reads: Reads) throws(ENIRead) -> ENI
    var ipv6: IPv6Leaves { get }
}

extension OneBatchTree {
    func readENIs(_ pass: MetadataPass, _ enis: [ENIDir]) -> [MACAddress: Result<ENI, ENIRead>] {
        let reads = pass.read(enis.flatMap { paths($0) + [ipv6.addressesPath($0)] })
        var out = Dictionary(enis.map { e in (e.mac, Result { () throws(ENIRead) in try eni(e, reads) }) }, uniquingKeysWith: { a, _ in a })
        ipv6.describe(pass, reads, enis, &out)
        return out
    }
}

/// A per-ENI cache's keys, so that the provider can drop the ENIs no longer listed.
protocol MACKeyed: AnyObject {
    var macs: Set<MACAddress> { get }
    func forget(keeping: Set<MACAddress>)
}

/// What a tree caches per ENI between passes. Entries of ENIs the `macs/` listing no longer has
/// are dropped after each listing, so the cache is bounded by the ENIs attached now, however many
/// come and go over the daemon's life.
final class MACCache<Value>: MACKeyed {
    private var entries: [MACAddress: Value] = [:]
    subscript(mac: MACAddress) -> Value? {
        get { entries[mac] }
        set { entries[mac] = newValue }
    }
    var values: [Value] { Array(entries.values) }
    var macs: Set<MACAddress> { Set(entries.keys) }
    func forget(keeping keep: Set<MACAddress>) { entries = entries.filter { keep.contains($0.key) } }
}

/// A cloud's metadata endpoint as a `MetadataProvider`. Keep one for the life of the process: it
/// caches what never changes for an attached ENI (the primary MAC, Tencent's per-IP gateway and
/// mask, Alibaba's and AWS's subnet and ids), so a pass where nothing changed costs little more
/// than the listings.
public final class CloudMetadataProvider: MetadataProvider {
    public let cloud: Cloud
    /// Where the metadata may be, in the order tried (one unless the cloud has several).
    public let baseURLs: [String]
    /// The base that answered first; kept for the life of the process.
    private var chosenBase: String?
    public let discipline: FetchDiscipline
    public let userAgent: String
    let tree: any CloudTree
    private var primaryMAC: MACAddress?

    public convenience init(cloud: Cloud, baseURL: String? = nil, discipline: FetchDiscipline = FetchDiscipline(), userAgent: String = "eni-agent") {
        self.init(cloud: cloud, baseURLs: baseURL.map { [$0] } ?? cloud.defaultBaseURLs, discipline: discipline, userAgent: userAgent)
    }

    /// A provider that tries each of `baseURLs` in order until one answers, and keeps that one.
    public init(cloud: Cloud, baseURLs: [String], discipline: FetchDiscipline = FetchDiscipline(), userAgent: String = "eni-agent") {
        self.cloud = cloud
        self.baseURLs = (baseURLs.isEmpty ? cloud.defaultBaseURLs : baseURLs).map(Cloud.metadataBase)
        self.discipline = discipline
        self.userAgent = userAgent
        switch cloud {
        case .tencent: tree = TencentTree()
        case .aliyun: tree = AliyunTree()
        case .aws: tree = AWSTree()
        }
    }

    /// The base in use: the one that answered, else the first to try.
    public var baseURL: String { chosenBase ?? baseURLs[0] }

    public var name: String { "\(cloud.rawValue) (\(baseURL))" }

    /// The first base whose top-level `mac` answers, tried in order with one attempt each.
    private func resolveBase(_ session: HTTPSession) throws(MetadataError) -> String {
        if baseURLs.count == 1 { return baseURLs[0] }
        if let b = chosenBase { return b }
        var once = discipline
        once.attempts = 1
        var why: [String] = []
        for b in baseURLs {
            let pass = MetadataPass(session: session, base: b, discipline: once, tokenFlow: tree.tokenFlow)
            do {
                if try pass.get("mac") != nil {
                    chosenBase = b
                    return b
                }
                why.append("\(pass.url("mac")): answers 404")
            } catch {
                why.append(error.message)
            }
        }
        throw MetadataError("no \(cloud.rawValue) metadata endpoint answered (\(why.joined(separator: "; ")))")
    }

    /// The ENIs whose metadata is cached between passes: at most those of the last listing.
    public var cachedMACs: Set<MACAddress> { tree.caches.reduce(into: []) { $0.formUnion($1.macs) } }

    public var ipv6Note: String? { tree.ipv6Note }

    static let macsPath = "network/interfaces/macs/"

    public func fetch(waitingFor: Set<MACAddress>) throws -> MetadataResult {
        try fetch(HTTPSession(maxConcurrent: discipline.concurrency, userAgent: userAgent), waitingFor: waitingFor)
    }

    /// One look at the tree: what it describes now. An ENI it lists but cannot describe yet (404),
    /// and a MAC in `waitingFor` it does not list, are pending; waiting for them is the caller's
    /// (`Agent`, with the same per-ENI state machine as the daemon).
    func fetch(_ session: HTTPSession, waitingFor: Set<MACAddress>) throws(MetadataError) -> MetadataResult {
        var warnings = Set<String>()
        var listed: [MACAddress: String] = [:]
        let primary: MACAddress
        let base = try resolveBase(session)
        let pass = MetadataPass(session: session, base: base, discipline: discipline, tokenFlow: tree.tokenFlow)
        // The instance's MAC (once: it never changes) and the listing, together.
        let top = pass.read(primaryMAC == nil ? ["mac", Self.macsPath] : [Self.macsPath])
        if let p = primaryMAC {
            primary = p
        } else {
            guard let v = try top.value("mac", .mac) else {
                throw MetadataError("\(pass.url("mac")): answers 404; is this a \(cloud.rawValue) metadata endpoint?")
            }
            primary = v
            primaryMAC = v
        }
        guard let entries = try top.value(Self.macsPath, .list) else {
            throw MetadataError("\(pass.url(Self.macsPath)): answers 404; is this a \(cloud.rawValue) metadata endpoint?")
        }
        for e in entries {
            let spelled = e.hasSuffix("/") ? String(e.dropLast()) : e
            guard let mac = try? parseMAC(spelled, at: "") else {
                warnings.insert("\(pass.url(Self.macsPath)): entry \(quoted(e)) is not a MAC address; ignored")
                continue
            }
            if let first = listed[mac] {
                warnings.insert("\(pass.url(Self.macsPath)): \(quoted(spelled)) repeats \(quoted(first)); ignored")
                continue
            }
            listed[mac] = spelled
        }
        // A listing without the instance's own MAC (empty, truncated, another instance's) is
        // not a description of this instance: nothing may be changed from it.
        guard listed[primary] != nil else {
            throw MetadataError("\(pass.url(Self.macsPath)): "
                + (listed.isEmpty ? "lists no ENI" : "lists \(listed.count) ENIs")
                + " but not the instance's MAC \(primary) (\(pass.url("mac"))); nothing is changed"
                + (warnings.isEmpty ? "" : " (\(warnings.sorted().joined(separator: "; ")))"))
        }
        for c in tree.caches { c.forget(keeping: Set(listed.keys)) }
        let dirs = listed.sorted { $0.key < $1.key }.map { ENIDir(mac: $0.key, dir: Self.macsPath + $0.value + "/", isPrimary: $0.key == primary) }
        var enis: [ENI] = []
        var unknown: [MACAddress: Undescribed] = [:]
        for (mac, r) in tree.readENIs(pass, dirs) {
            switch r {
            case .success(let eni): enis.append(eni)
            case .failure(let why): unknown[mac] = why.undescribed
            }
        }
        for mac in waitingFor where listed[mac] == nil {
            unknown[mac] = .pending("not listed in \(pass.url(Self.macsPath)) yet")
        }
        // An IP listed under two ENIs: neither can be trusted this pass.
        var owners: [IPv4Address: [MACAddress]] = [:]
        for e in enis { for ip in e.allIPs { owners[ip, default: []].append(e.mac) } }
        for (ip, macs) in owners where macs.count > 1 {
            for m in macs {
                unknown[m] = .invalid("IP \(ip) is listed under several ENIs: \(macs.sorted().map(\.description).joined(separator: ", "))")
            }
        }
        enis.removeAll { unknown[$0.mac] != nil }
        // In MAC order, so that what the instance says of several ENIs (an IPv6 address on two) is
        // the same every pass.
        enis.sort { $0.mac < $1.mac }
        let instance: Instance
        do { instance = try Instance(primaryMAC: primary, enis: enis, unknown: unknown) } catch {
            throw MetadataError("\(baseURL): \(error)")
        }
        return MetadataResult(instance: instance, warnings: warnings.sorted(), requests: session.requestCount)
    }
}

// MARK: Tencent Cloud

/// Tencent: gateway and mask are per IP (`local-ipv4s/<ip>/gateway`, `subnet-mask`); no device
/// number, no ENI id, no token. The per-IP leaves never change for an IP on an ENI: they are
/// cached, so a pass costs the MAC listing plus two requests per ENI when nothing changed. Two
/// batches: every ENI's primary IP and IP listing, then the per-IP leaves not cached yet.
///
/// Tencent documents no per-ENI IPv6 leaf (`Cloud.ipv6Note`). Its ENI directory is listed once per
/// ENI (with the first batch; cached): should it offer the IPv6 leaves AWS and Alibaba have
/// (`ipv6s` and an IPv6 subnet leaf, perhaps `ipv6-gateway`), they are read as theirs are
/// (`IPv6Leaves`, `ipv6s` of either form), and the note is not shown.
final class TencentTree: CloudTree {
    struct IPLeaves: Equatable { var gateway: IPv4Address; var maskLength: Int }
    let leaves = MACCache<[IPv4Address: IPLeaves]>()
    /// What each ENI's directory offers for IPv6: its reader, or none.
    struct Offer { var ipv6: IPv6Leaves? }
    let offers = MACCache<Offer>()
    var caches: [any MACKeyed] { [leaves, offers] + offers.values.compactMap { $0.ipv6?.statics } }

    var tokenFlow: TokenFlow? { nil }

    var ipv6Note: String? { offers.values.contains { $0.ipv6 != nil } ? nil : Cloud.tencent.ipv6Note }

    /// The IPv6 subnet leaves of the other clouds, and whether each is a listing.
    static let subnetLeaves: [(name: String, isListing: Bool)] = [
        ("subnet-ipv6-cidr-blocks", true), ("subnet-ipv6-cidr-block", false), ("vswitch-ipv6-cidr-block", false),
    ]

    /// The IPv6 reader for an ENI directory listing `entries`, if it offers `ipv6s` and a subnet.
    static func offer(_ entries: [String]) -> Offer {
        let names = Set(entries.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
        guard names.contains("ipv6s"), let subnet = subnetLeaves.first(where: { names.contains($0.name) }) else { return Offer(ipv6: nil) }
        return Offer(ipv6: IPv6Leaves(addresses: .eitherIPv6s, subnet: subnet.name, subnetIsListing: subnet.isListing,
                                      gateway: names.contains("ipv6-gateway") ? "ipv6-gateway" : nil))
    }

    func readENIs(_ pass: MetadataPass, _ enis: [ENIDir]) -> [MACAddress: Result<ENI, ENIRead>] {
        var out: [MACAddress: Result<ENI, ENIRead>] = [:]
        let first = pass.read(enis.flatMap { e in
            [e.dir + "primary-local-ipv4", e.dir + "local-ipv4s/"]
                + (offers[e.mac] == nil ? [e.dir] : offers[e.mac]!.ipv6.map { [$0.addressesPath(e)] } ?? [])
        })
        // Each ENI's directory, once: what it offers for IPv6 (a listing that fails is read again
        // next pass; its IPv6 is not read this one).
        var newlyOffered: [ENIDir] = []
        for e in enis where offers[e.mac] == nil {
            guard let entries = try? first.value(e.dir, .list) else { continue }
            let o = Self.offer(entries)
            offers[e.mac] = o
            if o.ipv6 != nil { newlyOffered.append(e) }
        }
        // Each ENI's IPs, and the leaves it has cached for them.
        var found: [(e: ENIDir, primaryIP: IPv4Address, ips: [IPv4Address], leaves: [IPv4Address: IPLeaves])] = []
        for e in enis {
            do throws(ENIRead) {
                let (primaryIP, ips) = try listing(e, first)
                found.append((e, primaryIP, ips, (leaves[e.mac] ?? [:]).filter { ips.contains($0.key) }))
            } catch { out[e.mac] = .failure(error) }
        }
        let second = pass.read(found.flatMap { f in
            f.ips.filter { f.leaves[$0] == nil }.flatMap { ["\(f.e.dir)local-ipv4s/\($0)/gateway", "\(f.e.dir)local-ipv4s/\($0)/subnet-mask"] }
        } + newlyOffered.map { offers[$0.mac]!.ipv6!.addressesPath($0) })
        for f in found {
            out[f.e.mac] = Result { () throws(ENIRead) in try eni(f.e, f.primaryIP, f.ips, f.leaves, second) }
        }
        // The IPv6 the directories offer, each ENI by its own reader.
        let newly = Set(newlyOffered.map(\.mac))
        for e in enis {
            guard let reader = offers[e.mac]?.ipv6 else { continue }
            reader.describe(pass, newly.contains(e.mac) ? second : first, [e], &out)
        }
        return out
    }

    /// The ENI's primary IP and its IPs, from the first batch.
    private func listing(_ e: ENIDir, _ reads: Reads) throws(ENIRead) -> (IPv4Address, [IPv4Address]) {
        let primaryPath = e.dir + "primary-local-ipv4"
        let listPath = e.dir + "local-ipv4s/"
        let primaryIP = try reads.need(primaryPath, .ipv4)
        let entries = try reads.need(listPath, .list)
        var ips: [IPv4Address] = []
        for entry in entries {
            do { ips.append(try parseIPv4(entry.hasSuffix("/") ? String(entry.dropLast()) : entry, at: reads.pass.url(listPath))) } catch {
                throw .invalid(error.message)
            }
        }
        guard ips.contains(primaryIP) else {
            throw .invalid("\(reads.pass.url(primaryPath)): \(primaryIP) is not listed in \(reads.pass.url(listPath))")
        }
        return (primaryIP, ips)
    }

    /// The ENI, from its IPs, its cached leaves and the second batch's.
    private func eni(_ e: ENIDir, _ primaryIP: IPv4Address, _ ips: [IPv4Address], _ cached: [IPv4Address: IPLeaves],
                     _ reads: Reads) throws(ENIRead) -> ENI {
        let listPath = e.dir + "local-ipv4s/"
        let url = reads.pass.url
        var leaves = cached
        // The first failure in IP order (deterministic); 404s only if nothing is invalid.
        var firstPending: String?
        for ip in ips.sorted() where leaves[ip] == nil {
            do throws(ENIRead) {
                let gw = try reads.need("\(listPath)\(ip)/gateway", .ipv4)
                let maskPath = "\(listPath)\(ip)/subnet-mask"
                let mask = try reads.need(maskPath, .text)
                let len: Int
                do { len = try IPv4Prefix.length(ofNetmask: mask) } catch { throw ENIRead.invalid("\(url(maskPath)): \(error)") }
                leaves[ip] = IPLeaves(gateway: gw, maskLength: len)
            } catch {
                switch error {
                case .invalid: throw error
                case .pending(let why): firstPending = firstPending ?? why
                }
            }
        }
        if let firstPending { throw .pending(firstPending) }

        let p = leaves[primaryIP]!
        let subnet: IPv4Prefix
        do { subnet = try IPv4Prefix(containing: primaryIP, length: p.maskLength) } catch { throw .invalid("\(url(e.dir)): \(error)") }
        guard subnet.contains(p.gateway) else {
            throw .invalid("\(url("\(listPath)\(primaryIP)/gateway")): gateway \(p.gateway) is outside the subnet \(subnet)")
        }
        for ip in ips {
            let l = leaves[ip]!
            if l.maskLength != p.maskLength {
                throw .invalid("\(url("\(listPath)\(ip)/subnet-mask")): mask /\(l.maskLength) differs from the primary IP's /\(p.maskLength)")
            }
            if l.gateway != p.gateway {
                throw .invalid("\(url("\(listPath)\(ip)/gateway")): \(l.gateway) differs from the primary IP's gateway \(p.gateway)")
            }
            if !subnet.contains(ip) {
                throw .invalid("\(url(listPath)): \(ip) is outside the subnet \(subnet)")
            }
        }
        let eni: ENI
        do { eni = try ENI(mac: e.mac, primaryIP: primaryIP, secondaryIPs: ips, subnet: subnet, gateway: p.gateway) } catch {
            throw .invalid("\(url(e.dir)): \(error)")
        }
        self.leaves[e.mac] = leaves
        return eni
    }
}

// MARK: Alibaba Cloud

/// Alibaba: per-ENI `vswitch-cidr-block` and `gateway`, IPs as a JSON array in `private-ipv4s`;
/// IPv6 in `ipv6s` (`[a,b]`), `vswitch-ipv6-cidr-block` and `ipv6-gateway`. Tokens optional
/// (hardened mode). Subnets, gateways and ENI id are cached per MAC.
final class AliyunTree: OneBatchTree {
    struct Static { var subnet: IPv4Prefix; var gateway: IPv4Address; var id: String? }
    let statics = MACCache<Static>()
    let ipv6 = IPv6Leaves(addresses: .bracketedIPv6s, subnet: "vswitch-ipv6-cidr-block", subnetIsListing: false, gateway: "ipv6-gateway")
    var caches: [any MACKeyed] { [statics, ipv6.statics] }

    var tokenFlow: TokenFlow? {
        TokenFlow(ttlHeader: "X-aliyun-ecs-metadata-token-ttl-seconds", tokenHeader: "X-aliyun-ecs-metadata-token", optional: true)
    }

    func paths(_ e: ENIDir) -> [String] {
        ((statics[e.mac] == nil ? ["vswitch-cidr-block", "gateway", "network-interface-id"] : [])
            + ["primary-ip-address", "private-ipv4s"]).map { e.dir + $0 }
    }

    func eni(_ e: ENIDir, _ reads: Reads) throws(ENIRead) -> ENI {
        let dir = e.dir, url = reads.pass.url
        let st: Static
        if let c = statics[e.mac] {
            st = c
        } else {
            let subnet = try reads.need(dir + "vswitch-cidr-block", .prefix)
            let gateway = try reads.need(dir + "gateway", .ipv4)
            guard subnet.contains(gateway) else {
                throw .invalid("\(url(dir + "gateway")): gateway \(gateway) is outside the subnet \(subnet) of \(url(dir + "vswitch-cidr-block"))")
            }
            let id = try reads.optional(dir + "network-interface-id", .text)
            st = Static(subnet: subnet, gateway: gateway, id: id)
        }
        let primaryPath = dir + "primary-ip-address"
        let listPath = dir + "private-ipv4s"
        let primaryIP = try reads.need(primaryPath, .ipv4)
        let text = try reads.need(listPath, .text)
        let ips = try Answer.jsonIPs(text, at: url(listPath), max: reads.pass.discipline.maxEntries)
        guard ips.contains(primaryIP) else {
            throw .invalid("\(url(primaryPath)): \(primaryIP) is not in \(url(listPath))")
        }
        for ip in ips where !st.subnet.contains(ip) {
            throw .invalid("\(url(listPath)): \(ip) is outside the subnet \(st.subnet)")
        }
        let eni: ENI
        do { eni = try ENI(mac: e.mac, primaryIP: primaryIP, secondaryIPs: ips, subnet: st.subnet, gateway: st.gateway, id: st.id) } catch {
            throw .invalid("\(url(dir)): \(error)")
        }
        statics[e.mac] = st
        return eni
    }
}

// MARK: AWS

/// AWS IMDSv2: a token per pass, renewed on 401. `local-ipv4s` (primary first), the subnet from
/// `subnet-ipv4-cidr-block`, the gateway is the subnet's first address. `device-number` 0 is
/// trusted only for the top-level MAC (a hot-plugged ENI reads 0 until it propagates);
/// `network-card` answers 404 on single-card instances. IPv6: `ipv6s` (one per line) and
/// `subnet-ipv6-cidr-blocks` (exactly one); no gateway leaf (router advertisements name it).
///
/// An ENI in an IPv6-only subnet has no IPv4: `local-ipv4s` and `subnet-ipv4-cidr-block` both
/// answer 404 and `ipv6s` answers. Only all three together say so: either IPv4 leaf missing alone,
/// or both with no `ipv6s`, is an ENI whose metadata has not propagated yet (pending).
final class AWSTree: OneBatchTree {
    /// `subnet` nil: an IPv6-only ENI.
    struct Static { var subnet: IPv4Prefix?; var id: String?; var deviceNumber: Int?; var networkCard: Int? }
    let statics = MACCache<Static>()
    let ipv6 = IPv6Leaves(addresses: .ipv6List, subnet: "subnet-ipv6-cidr-blocks", subnetIsListing: true, gateway: nil)
    var caches: [any MACKeyed] { [statics, ipv6.statics] }

    var tokenFlow: TokenFlow? {
        TokenFlow(ttlHeader: "X-aws-ec2-metadata-token-ttl-seconds", tokenHeader: "X-aws-ec2-metadata-token", optional: false)
    }

    func paths(_ e: ENIDir) -> [String] {
        let st = statics[e.mac]
        return ((st == nil ? ["subnet-ipv4-cidr-block", "interface-id", "network-card"] : [])
            + (st?.deviceNumber == nil ? ["device-number"] : []) + ["local-ipv4s"]).map { e.dir + $0 }
    }

    func eni(_ e: ENIDir, _ reads: Reads) throws(ENIRead) -> ENI {
        let dir = e.dir, url = reads.pass.url
        let subnetPath = dir + "subnet-ipv4-cidr-block", listPath = dir + "local-ipv4s"
        var st: Static
        if let c = statics[e.mac] {
            st = c
        } else {
            let subnet = try reads.optional(subnetPath, .prefix)
            let id = try reads.optional(dir + "interface-id", .text)
            let card = try reads.optional(dir + "network-card", .int(0...31))
            st = Static(subnet: subnet, id: id, deviceNumber: nil, networkCard: card)
        }
        if st.deviceNumber == nil {
            let n = try reads.optional(dir + "device-number", .int(0...255))
            st.deviceNumber = (n == 0 && !e.isPrimary) ? nil : n
        }
        let lines = try reads.optional(listPath, .list)
        guard let subnet = st.subnet else {
            // No IPv4 subnet: an IPv6-only ENI while `local-ipv4s` is 404 and `ipv6s` answers;
            // anything else is read again next pass, subnet included.
            guard lines == nil, reads.exists(ipv6.addressesPath(e)) else {
                statics[e.mac] = nil
                throw .pending("\(url(lines == nil ? listPath : subnetPath)) answers 404")
            }
            statics[e.mac] = st
            do {
                // Its IPv6 is read next (`IPv6Leaves.describe`).
                return try ENI(mac: e.mac, ipv4: nil, deviceNumber: st.deviceNumber, networkCard: st.networkCard, id: st.id,
                               ipv6Unknown: .pending("\(url(ipv6.addressesPath(e))) not read yet"))
            } catch {
                throw .invalid("\(url(dir)): \(error)")
            }
        }
        guard let lines else { throw .pending("\(url(listPath)) answers 404") }
        var ips: [IPv4Address] = []
        for l in lines {
            do { ips.append(try parseIPv4(l, at: url(listPath))) } catch { throw .invalid(error.message) }
        }
        guard let primaryIP = ips.first else { throw .pending("\(url(listPath)) is empty") }
        for ip in ips where !subnet.contains(ip) {
            throw .invalid("\(url(listPath)): \(ip) is outside the subnet \(subnet)")
        }
        let gateway = IPv4Address(value: subnet.network.value &+ 1)
        let eni: ENI
        do {
            eni = try ENI(mac: e.mac, primaryIP: primaryIP, secondaryIPs: Array(ips.dropFirst()), subnet: subnet,
                          gateway: gateway, deviceNumber: st.deviceNumber, networkCard: st.networkCard, id: st.id)
        } catch {
            throw .invalid("\(url(dir)): \(error)")
        }
        statics[e.mac] = st
        return eni
    }
}

// MARK: IPv6 (Alibaba, AWS)

/// An ENI's IPv6 leaves where the cloud has them (Alibaba, AWS; Tencent documents none). `ipv6s`
/// is read every pass with the ENI's other leaves (addresses come and go); 404 means the ENI has
/// no IPv6. The subnet, and the router where the cloud names one, never change for an attached
/// ENI: read in a second batch once the addresses are listed, then cached until the ENI leaves
/// the listing.
///
/// Whatever goes wrong here holds the ENI's IPv6 only (`ENI.ipv6Unknown`), never its IPv4:
/// pending for "not yet" as the IPv4 leaves have it (the subnet or router leaf answers 404, an
/// empty list of addresses or blocks), invalid for anything else (an HTTP error, a malformed
/// list, a bad value, what `ENIIPv6` refuses). Only an ENI whose IPv4 was described, or that the
/// tree found IPv6-only, gets its IPv6 (and its subnet read); an IPv6-only ENI whose IPv6 is held
/// has nothing configured and keeps what it has.
final class IPv6Leaves {
    struct Static: Equatable { var subnet: IPv6Prefix; var gateway: IPv6Address? }
    let statics = MACCache<Static>()
    /// How `ipv6s` reads: a listing (AWS) or `[a,b]` (Alibaba).
    let addresses: Leaf<[IPv6Address]>
    let subnetLeaf: String
    /// AWS's `subnet-ipv6-cidr-blocks` is a listing, of exactly one block (a subnet has one);
    /// Alibaba's `vswitch-ipv6-cidr-block` is one value.
    let subnetIsListing: Bool
    /// Alibaba's `ipv6-gateway`; nil where the cloud names no router (AWS).
    let gatewayLeaf: String?

    init(addresses: Leaf<[IPv6Address]>, subnet: String, subnetIsListing: Bool, gateway: String?) {
        self.addresses = addresses; subnetLeaf = subnet; self.subnetIsListing = subnetIsListing; gatewayLeaf = gateway
    }

    func addressesPath(_ e: ENIDir) -> String { e.dir + "ipv6s" }

    /// The paths of what is cached, for an ENI that has none cached yet.
    func staticPaths(_ e: ENIDir) -> [String] { ([subnetLeaf] + (gatewayLeaf.map { [$0] } ?? [])).map { e.dir + $0 } }

    /// Gives each ENI described in `out` its IPv6, or why its IPv6 is unknown. `first`: the batch
    /// that read the addresses.
    func describe(_ pass: MetadataPass, _ first: Reads, _ enis: [ENIDir], _ out: inout [MACAddress: Result<ENI, ENIRead>]) {
        var found: [MACAddress: Result<ENIIPv6?, ENIRead>] = [:]
        var listed: [(e: ENIDir, addresses: [IPv6Address])] = []
        for e in enis {
            guard case .success = out[e.mac] else { continue }
            do throws(ENIRead) {
                let path = addressesPath(e)
                guard let a = try first.optional(path, addresses) else {
                    found[e.mac] = .success(nil)
                    continue
                }
                guard !a.isEmpty else { throw .pending("\(pass.url(path)) lists no address") }
                listed.append((e, a))
            } catch { found[e.mac] = .failure(error) }
        }
        let uncached = listed.filter { statics[$0.e.mac] == nil }.flatMap { staticPaths($0.e) }
        let second = pass.read(uncached)
        for l in listed {
            found[l.e.mac] = Result { () throws(ENIRead) in try ipv6(l.e, l.addresses, second) }
        }
        for (mac, r) in found {
            guard case .success(var eni) = out[mac] else { continue }
            switch r {
            case .success(let v6):
                // An IPv6-only ENI whose `ipv6s` is gone meanwhile: not described yet.
                guard v6 != nil || eni.ipv4 != nil else {
                    out[mac] = .failure(.pending("\(pass.url(addressesPath(enis.first { $0.mac == mac }!))) answers 404"))
                    continue
                }
                eni.ipv6 = v6; eni.ipv6Unknown = nil
            case .failure(let why): eni.ipv6 = nil; eni.ipv6Unknown = why.undescribed
            }
            out[mac] = .success(eni)
        }
    }

    /// The ENI's IPv6 from its addresses and its subnet and router, cached or in `reads`.
    private func ipv6(_ e: ENIDir, _ addresses: [IPv6Address], _ reads: Reads) throws(ENIRead) -> ENIIPv6 {
        let url = reads.pass.url
        let st: Static
        if let c = statics[e.mac] {
            st = c
        } else {
            let path = e.dir + subnetLeaf
            let blocks = subnetIsListing ? try reads.need(path, .list) : [try reads.need(path, .text)]
            guard let block = blocks.first else { throw .pending("\(url(path)) lists no IPv6 block") }
            guard blocks.count == 1 else {
                throw .invalid("\(url(path)): a subnet has one IPv6 block, got \(blocks.count): \(quoted(blocks.joined(separator: "\n")))")
            }
            let subnet: IPv6Prefix
            do { subnet = try parseIPv6Prefix(block, at: url(path)) } catch { throw .invalid(error.message) }
            var gateway: IPv6Address?
            if let g = gatewayLeaf { gateway = try reads.need(e.dir + g, .ipv6) }
            st = Static(subnet: subnet, gateway: gateway)
        }
        let v6: ENIIPv6
        do { v6 = try ENIIPv6(addresses: addresses, subnet: st.subnet, gateway: st.gateway, name: "ENI \(e.mac)") } catch {
            throw .invalid("\(url(e.dir)): \(error)")
        }
        statics[e.mac] = st
        return v6
    }
}

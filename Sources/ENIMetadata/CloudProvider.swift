import ENIHTTP
import ENIModel
import Synchronization

/// What differs between the clouds: the token flow and how one ENI's directory is read.
protocol CloudTree: Sendable {
    var tokenFlow: TokenFlow? { get }
    /// What the tree keeps between passes, per ENI.
    var cache: any MACKeyed { get }
    /// Reads the ENI whose directory (below the base, ending in `/`) is `dir`.
    func readENI(_ pass: MetadataPass, dir: String, mac: MACAddress, isPrimary: Bool) async throws(ENIRead) -> ENI
}

/// A per-ENI cache's keys, so that the provider can drop the ENIs no longer listed.
protocol MACKeyed: Sendable {
    var macs: Set<MACAddress> { get }
    func forget(keeping: Set<MACAddress>)
}

/// What a tree caches per ENI between passes. Entries of ENIs the `macs/` listing no longer has
/// are dropped after each listing, so the cache is bounded by the ENIs attached now, however many
/// come and go over the daemon's life.
final class MACCache<Value: Sendable>: MACKeyed {
    private let entries = Mutex<[MACAddress: Value]>([:])
    subscript(mac: MACAddress) -> Value? {
        get { entries.withLock { $0[mac] } }
        set { entries.withLock { $0[mac] = newValue } }
    }
    var macs: Set<MACAddress> { entries.withLock { Set($0.keys) } }
    func forget(keeping keep: Set<MACAddress>) { entries.withLock { $0 = $0.filter { keep.contains($0.key) } } }
}

extension MetadataPass {
    /// A leaf the ENI needs: 404 means "not yet"; an error or invalid value means "unknown".
    func need<T>(_ path: String, _ read: (String) async throws(MetadataError) -> T?) async throws(ENIRead) -> T {
        let v: T?
        do { v = try await read(path) } catch { throw .invalid(error.message) }
        guard let v else { throw .pending("\(url(path)) answers 404") }
        return v
    }

    /// A leaf that may be absent (404 -> nil).
    func optional<T>(_ path: String, _ read: (String) async throws(MetadataError) -> T?) async throws(ENIRead) -> T? {
        do { return try await read(path) } catch { throw .invalid(error.message) }
    }
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
    private let chosenBase = Mutex<String?>(nil)
    public let discipline: FetchDiscipline
    public let userAgent: String
    let tree: any CloudTree
    private let primaryMAC = Mutex<MACAddress?>(nil)

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
    public var baseURL: String { chosenBase.withLock { $0 } ?? baseURLs[0] }

    public var name: String { "\(cloud.rawValue) (\(baseURL))" }

    /// The first base whose top-level `mac` answers, tried in order with one attempt each.
    private func resolveBase(_ session: HTTPSession) async throws(MetadataError) -> String {
        if baseURLs.count == 1 { return baseURLs[0] }
        if let b = chosenBase.withLock({ $0 }) { return b }
        var once = discipline
        once.attempts = 1
        var why: [String] = []
        for b in baseURLs {
            let pass = MetadataPass(session: session, base: b, discipline: once, tokenFlow: tree.tokenFlow)
            do {
                if try await pass.leaf("mac") != nil {
                    chosenBase.withLock { $0 = b }
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
    public var cachedMACs: Set<MACAddress> { tree.cache.macs }

    static let macsPath = "network/interfaces/macs/"

    public func fetch(waitingFor: Set<MACAddress>) async throws -> MetadataResult {
        let session = HTTPSession(maxConcurrent: discipline.concurrency, userAgent: userAgent)
        defer { session.close() }
        return try await fetch(session, waitingFor: waitingFor)
    }

    private enum Final { case ok(ENI), failed(String) }

    func fetch(_ session: HTTPSession, waitingFor: Set<MACAddress>) async throws(MetadataError) -> MetadataResult {
        let started = ContinuousClock.now
        let pendingDeadline = started.advanced(by: .milliseconds(discipline.pendingTimeoutMilliseconds))
        var final: [MACAddress: Final] = [:]
        var pending: [MACAddress: String] = [:]
        var warnings = Set<String>()
        var listed: [MACAddress: String] = [:]
        var primary: MACAddress
        var poll = 0
        let base = try await resolveBase(session)
        while true {
            let pass = MetadataPass(session: session, base: base, discipline: discipline, tokenFlow: tree.tokenFlow)
            if let p = primaryMAC.withLock({ $0 }) {
                primary = p
            } else {
                guard let v = try await pass.leaf("mac") else {
                    throw MetadataError("\(pass.url("mac")): answers 404; is this a \(cloud.rawValue) metadata endpoint?")
                }
                primary = try parseMAC(v, at: pass.url("mac"))
                primaryMAC.withLock { $0 = primary }
            }
            guard let entries = try await pass.list(Self.macsPath) else {
                throw MetadataError("\(pass.url(Self.macsPath)): answers 404; is this a \(cloud.rawValue) metadata endpoint?")
            }
            listed = [:]
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
            tree.cache.forget(keeping: Set(listed.keys))
            let todo = listed.filter { final[$0.key] == nil }.sorted { $0.key < $1.key }
            let tree = self.tree, top = primary
            let reads = await withTaskGroup(of: (MACAddress, Result<ENI, ENIRead>).self) { group in
                for (mac, spelled) in todo {
                    group.addTask {
                        do throws(ENIRead) {
                            return (mac, .success(try await tree.readENI(pass, dir: Self.macsPath + spelled + "/", mac: mac, isPrimary: mac == top)))
                        } catch { return (mac, .failure(error)) }
                    }
                }
                var out: [(MACAddress, Result<ENI, ENIRead>)] = []
                for await r in group { out.append(r) }
                return out
            }
            pending = [:]
            for (mac, r) in reads {
                switch r {
                case .success(let eni): final[mac] = .ok(eni)
                case .failure(.invalid(let why)): final[mac] = .failed(why)
                case .failure(.pending(let why)): pending[mac] = why
                }
            }
            for mac in waitingFor where listed[mac] == nil {
                pending[mac] = "not listed in \(pass.url(Self.macsPath)) yet"
            }
            if pending.isEmpty { break }
            let pause = backoff(discipline.pendingBackoffMilliseconds, step: poll, cap: 4000)
            if ContinuousClock.now.advanced(by: pause) >= pendingDeadline { break }
            try? await Task.sleep(for: pause)
            poll += 1
        }

        var enis: [ENI] = []
        var unknown: [MACAddress: Undescribed] = [:]
        for (mac, f) in final where listed[mac] != nil {
            switch f {
            case .ok(let eni): enis.append(eni)
            case .failed(let why): unknown[mac] = .invalid(why)
            }
        }
        let waited = started.duration(to: .now).components.seconds
        for (mac, why) in pending {
            unknown[mac] = .pending(why + (discipline.pendingTimeoutMilliseconds > 0 ? " (waited \(waited) s)" : ""))
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
/// cached, so a pass costs the MAC listing plus two requests per ENI when nothing changed.
final class TencentTree: CloudTree {
    struct IPLeaves: Sendable, Equatable { var gateway: IPv4Address; var maskLength: Int }
    let leaves = MACCache<[IPv4Address: IPLeaves]>()
    var cache: any MACKeyed { leaves }

    var tokenFlow: TokenFlow? { nil }

    func readENI(_ pass: MetadataPass, dir: String, mac: MACAddress, isPrimary: Bool) async throws(ENIRead) -> ENI {
        let primaryPath = dir + "primary-local-ipv4"
        let listPath = dir + "local-ipv4s/"
        let primaryIP = try await pass.need(primaryPath, pass.ipv4)
        let entries = try await pass.need(listPath, pass.list)
        var ips: [IPv4Address] = []
        for e in entries {
            do { ips.append(try parseIPv4(e.hasSuffix("/") ? String(e.dropLast()) : e, at: pass.url(listPath))) } catch {
                throw .invalid(error.message)
            }
        }
        guard ips.contains(primaryIP) else {
            throw .invalid("\(pass.url(primaryPath)): \(primaryIP) is not listed in \(pass.url(listPath))")
        }
        let known = self.leaves[mac] ?? [:]
        var leaves = known.filter { ips.contains($0.key) }
        let missing = ips.filter { leaves[$0] == nil }
        let fetched = await withTaskGroup(of: (IPv4Address, Result<IPLeaves, ENIRead>).self) { group in
            for ip in missing {
                group.addTask {
                    do throws(ENIRead) {
                        let gw = try await pass.need("\(listPath)\(ip)/gateway", pass.ipv4)
                        let maskPath = "\(listPath)\(ip)/subnet-mask"
                        let mask = try await pass.need(maskPath, pass.leaf)
                        let len: Int
                        do { len = try IPv4Prefix.length(ofNetmask: mask) } catch {
                            throw ENIRead.invalid("\(pass.url(maskPath)): \(error)")
                        }
                        return (ip, .success(IPLeaves(gateway: gw, maskLength: len)))
                    } catch { return (ip, .failure(error)) }
                }
            }
            var out: [(IPv4Address, Result<IPLeaves, ENIRead>)] = []
            for await r in group { out.append(r) }
            return out
        }
        // Report the first failure in IP order (deterministic); 404s only if nothing is invalid.
        var firstPending: String?
        for (ip, r) in fetched.sorted(by: { $0.0 < $1.0 }) {
            switch r {
            case .success(let l): leaves[ip] = l
            case .failure(.invalid(let why)): throw .invalid(why)
            case .failure(.pending(let why)): firstPending = firstPending ?? why
            }
        }
        if let firstPending { throw .pending(firstPending) }

        let p = leaves[primaryIP]!
        let subnet: IPv4Prefix
        do { subnet = try IPv4Prefix(containing: primaryIP, length: p.maskLength) } catch { throw .invalid("\(pass.url(dir)): \(error)") }
        guard subnet.contains(p.gateway) else {
            throw .invalid("\(pass.url("\(listPath)\(primaryIP)/gateway")): gateway \(p.gateway) is outside the subnet \(subnet)")
        }
        for ip in ips {
            let l = leaves[ip]!
            if l.maskLength != p.maskLength {
                throw .invalid("\(pass.url("\(listPath)\(ip)/subnet-mask")): mask /\(l.maskLength) differs from the primary IP's /\(p.maskLength)")
            }
            if l.gateway != p.gateway {
                throw .invalid("\(pass.url("\(listPath)\(ip)/gateway")): \(l.gateway) differs from the primary IP's gateway \(p.gateway)")
            }
            if !subnet.contains(ip) {
                throw .invalid("\(pass.url(listPath)): \(ip) is outside the subnet \(subnet)")
            }
        }
        let eni: ENI
        do { eni = try ENI(mac: mac, primaryIP: primaryIP, secondaryIPs: ips, subnet: subnet, gateway: p.gateway) } catch {
            throw .invalid("\(pass.url(dir)): \(error)")
        }
        self.leaves[mac] = leaves
        return eni
    }
}

// MARK: Alibaba Cloud

/// Alibaba: per-ENI `vswitch-cidr-block` and `gateway`, IPs as a JSON array in `private-ipv4s`.
/// Tokens optional (hardened mode). Subnet, gateway and ENI id are cached per MAC.
final class AliyunTree: CloudTree {
    struct Static: Sendable { var subnet: IPv4Prefix; var gateway: IPv4Address; var id: String? }
    let statics = MACCache<Static>()
    var cache: any MACKeyed { statics }

    var tokenFlow: TokenFlow? {
        TokenFlow(ttlHeader: "X-aliyun-ecs-metadata-token-ttl-seconds", tokenHeader: "X-aliyun-ecs-metadata-token", optional: true)
    }

    func readENI(_ pass: MetadataPass, dir: String, mac: MACAddress, isPrimary: Bool) async throws(ENIRead) -> ENI {
        let st: Static
        if let c = statics[mac] {
            st = c
        } else {
            let subnet = try await pass.need(dir + "vswitch-cidr-block", pass.prefix)
            let gateway = try await pass.need(dir + "gateway", pass.ipv4)
            guard subnet.contains(gateway) else {
                throw .invalid("\(pass.url(dir + "gateway")): gateway \(gateway) is outside the subnet \(subnet) of \(pass.url(dir + "vswitch-cidr-block"))")
            }
            let id = try await pass.optional(dir + "network-interface-id", pass.leaf)
            st = Static(subnet: subnet, gateway: gateway, id: id)
        }
        let primaryPath = dir + "primary-ip-address"
        let listPath = dir + "private-ipv4s"
        let primaryIP = try await pass.need(primaryPath, pass.ipv4)
        let text = try await pass.need(listPath, pass.leaf)
        let ips = try Answer.jsonIPs(text, at: pass.url(listPath), max: pass.discipline.maxEntries)
        guard ips.contains(primaryIP) else {
            throw .invalid("\(pass.url(primaryPath)): \(primaryIP) is not in \(pass.url(listPath))")
        }
        for ip in ips where !st.subnet.contains(ip) {
            throw .invalid("\(pass.url(listPath)): \(ip) is outside the subnet \(st.subnet)")
        }
        let eni: ENI
        do { eni = try ENI(mac: mac, primaryIP: primaryIP, secondaryIPs: ips, subnet: st.subnet, gateway: st.gateway, id: st.id) } catch {
            throw .invalid("\(pass.url(dir)): \(error)")
        }
        statics[mac] = st
        return eni
    }
}

// MARK: AWS

/// AWS IMDSv2: a token per pass, renewed on 401. `local-ipv4s` (primary first), the subnet from
/// `subnet-ipv4-cidr-block`, the gateway is the subnet's first address. `device-number` 0 is
/// trusted only for the top-level MAC (a hot-plugged ENI reads 0 until it propagates);
/// `network-card` answers 404 on single-card instances.
final class AWSTree: CloudTree {
    struct Static: Sendable { var subnet: IPv4Prefix; var id: String?; var deviceNumber: Int?; var networkCard: Int? }
    let statics = MACCache<Static>()
    var cache: any MACKeyed { statics }

    var tokenFlow: TokenFlow? {
        TokenFlow(ttlHeader: "X-aws-ec2-metadata-token-ttl-seconds", tokenHeader: "X-aws-ec2-metadata-token", optional: false)
    }

    func readENI(_ pass: MetadataPass, dir: String, mac: MACAddress, isPrimary: Bool) async throws(ENIRead) -> ENI {
        var st: Static
        if let c = statics[mac] {
            st = c
        } else {
            let subnet = try await pass.need(dir + "subnet-ipv4-cidr-block", pass.prefix)
            let id = try await pass.optional(dir + "interface-id", pass.leaf)
            let card = try await pass.optional(dir + "network-card", { (p: String) async throws(MetadataError) -> Int? in try await pass.int(p, 0...31) })
            st = Static(subnet: subnet, id: id, deviceNumber: nil, networkCard: card)
        }
        if st.deviceNumber == nil {
            let n = try await pass.optional(dir + "device-number", { (p: String) async throws(MetadataError) -> Int? in try await pass.int(p, 0...255) })
            st.deviceNumber = (n == 0 && !isPrimary) ? nil : n
        }
        let listPath = dir + "local-ipv4s"
        let lines = try await pass.need(listPath, pass.list)
        var ips: [IPv4Address] = []
        for l in lines {
            do { ips.append(try parseIPv4(l, at: pass.url(listPath))) } catch { throw .invalid(error.message) }
        }
        guard let primaryIP = ips.first else { throw .pending("\(pass.url(listPath)) is empty") }
        for ip in ips where !st.subnet.contains(ip) {
            throw .invalid("\(pass.url(listPath)): \(ip) is outside the subnet \(st.subnet)")
        }
        let gateway = IPv4Address(value: st.subnet.network.value &+ 1)
        let eni: ENI
        do {
            eni = try ENI(mac: mac, primaryIP: primaryIP, secondaryIPs: Array(ips.dropFirst()), subnet: st.subnet,
                          gateway: gateway, deviceNumber: st.deviceNumber, networkCard: st.networkCard, id: st.id)
        } catch {
            throw .invalid("\(pass.url(dir)): \(error)")
        }
        statics[mac] = st
        return eni
    }
}

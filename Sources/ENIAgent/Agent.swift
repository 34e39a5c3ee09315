import ENIMetadata
import ENIModel
import ENINetlink
import ENIPlanner
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the instance description came from and which files are written, each with why.
public struct About: Sendable, Equatable, Encodable {
    public var provider: String
    public var renderer: String
}

/// What became of one planned action.
public struct Outcome: Sendable {
    public enum Result: Sendable, Equatable { case done, failed(String), skipped(String) }
    public var action: Action
    public var result: Result
}

/// One reconcile pass: the plan, what was done, and what (if anything) still differs afterwards.
public struct PassResult: Sendable {
    public var plan: Plan
    public var outcomes: [Outcome]
    public var netlinkWrites: Int
    public var fileWrites: Int
    public var sysctlWrites: Int
    /// HTTP requests sent to the metadata endpoint.
    public var metadataRequests = 0
    /// The instance the pass planned from.
    public var instance: Instance?
    /// Changes a fresh plan still wants after applying (empty when the pass converged).
    public var remaining: [Action]

    public var failed: [Outcome] { outcomes.filter { if case .failed = $0.result { true } else { false } } }
}

public enum AgentError: Error, CustomStringConvertible {
    case noMetadataSource(String)
    public var description: String {
        switch self { case .noMetadataSource(let m): m }
    }
}

/// fetch -> observe -> plan -> apply. The only place that knows both the kernel and the files.
public struct Agent {
    public let config: AgentConfig
    public let files: FileStore
    public let procSys: ProcSys
    /// The renderer in effect (`auto` resolved against the system), and why.
    public let renderer: RendererChoice
    /// Which links udev has not finished with.
    public var udev = Udev()
    /// Built once: the HTTP providers keep caches across passes.
    private let source: Result<any MetadataProvider, AgentError>

    /// `dmiDirectory`: where the machine's DMI is read (for `provider = "auto"`); the kernel's,
    /// never below `--root`.
    public init(config: AgentConfig, procSys: ProcSys = ProcSys(), dmiDirectory: String = "/sys/class/dmi/id") {
        self.config = config
        self.files = FileStore(root: config.root)
        self.procSys = procSys
        self.renderer = config.rendererChoice(files)
        self.source = Self.makeProvider(config, dmiDirectory: dmiDirectory)
    }

    /// The DMI values that name a cloud; absent or unreadable ones are nil.
    static func readDMI(_ directory: String) -> DMIIdentity {
        func value(_ name: String) -> String? {
            guard let bytes = try? FileStore.readFile(atPath: directory + "/" + name, limit: 4096) else { return nil }
            let v = String(decoding: bytes, as: UTF8.self).trimmingTrailingWhitespace
            return v.isEmpty ? nil : v
        }
        return DMIIdentity(sysVendor: value("sys_vendor"), productName: value("product_name"), productUUID: value("product_uuid"))
    }

    /// The metadata source the config names.
    public func provider() throws(AgentError) -> any MetadataProvider { try source.get() }

    private static func makeProvider(_ config: AgentConfig, dmiDirectory: String) -> Result<any MetadataProvider, AgentError> {
        let ua = "eni-agent/\(eniAgentVersion)"
        switch config.provider {
        case .file:
            guard let f = config.metadataFile else {
                return .failure(.noMetadataSource("provider 'file' needs metadata_file (or --metadata-file PATH)"))
            }
            return .success(MetadataFileProvider(path: f))
        case .auto:
            if let f = config.metadataFile { return .success(MetadataFileProvider(path: f)) }
            return .success(AutoMetadataProvider(baseURL: config.metadataURL, discipline: config.fetch, userAgent: ua,
                                                 dmi: readDMI(dmiDirectory)))
        case .tencent, .aliyun, .aws:
            let cloud = Cloud(rawValue: config.provider.rawValue)!
            return .success(CloudMetadataProvider(cloud: cloud, baseURL: config.metadataURL, discipline: config.fetch, userAgent: ua))
        }
    }

    /// MACs to wait for when the metadata does not list them yet: the links named with
    /// `--interface`, or else every physical NIC (no link kind: in a cloud VM each one is an ENI).
    /// Virtual links (veth, bridges, VLANs...) and enslaved links are never waited for.
    /// Excluded links are never waited for.
    public static func expectedMACs(_ links: [Link], interfaces: Set<String>, exclusions: Exclusions = .none) -> Set<MACAddress> {
        Set(links.compactMap { l -> MACAddress? in
            guard let mac = l.mac, l.master == nil, l.name != "lo", mac.bytes.contains(where: { $0 != 0 }),
                  !exclusions.excludes(name: l.name, mac: mac) else { return nil }
            if !interfaces.isEmpty { return interfaces.contains(l.name) ? mac : nil }
            return l.kind == nil ? mac : nil
        })
    }

    /// Every link that may be an ENI (physical or veth, not enslaved, not excluded): what `status`
    /// and the daemon report as pending when the metadata does not describe it.
    public static func candidateMACs(_ links: [Link], exclusions: Exclusions) -> Set<MACAddress> {
        Set(links.filter { isCandidate($0, exclusions: exclusions) }.compactMap(\.mac))
    }

    /// A link that may be an ENI: physical or veth, with a MAC, not enslaved, not excluded.
    public static func isCandidate(_ l: Link, exclusions: Exclusions) -> Bool {
        guard let mac = l.mac, l.master == nil, l.name != "lo", l.kind == nil || l.kind == "veth" else { return false }
        return !exclusions.excludes(name: l.name, mac: mac)
    }

    /// The metadata for this pass, waiting for `waitingFor` (default: the MACs the kernel has that
    /// `expectedMACs` picks) when the metadata lacks them.
    public func fetch(_ nl: Netlink, interfaces: Set<String>, waitingFor: Set<MACAddress>? = nil) throws -> MetadataResult {
        let provider = try provider()
        let expected = try waitingFor ?? Self.expectedMACs(try nl.links(), interfaces: interfaces, exclusions: config.exclusions)
        return try provider.fetch(waitingFor: expected)
    }

    /// Reads everything the planner needs from the kernel, /proc/sys, udev and the files. Links in
    /// `assumeSettled` are taken as finished by udev whatever its database says.
    public func observe(_ nl: Netlink, assumeSettled: Set<String> = []) throws -> ObservedState {
        let finished = udev.finished()  // before the links: see `Udev.finished`
        let links = try nl.links()
        var sysctls: [String: String] = [:]
        var keys = ["all", "default"].map { SysctlSetting.ipv4Conf($0, "rp_filter") }
        for l in links where l.mac != nil {
            keys += ["rp_filter", "promote_secondaries"].map { SysctlSetting.ipv4Conf(l.name, $0) }
        }
        for k in keys { sysctls[k] = procSys.read(k) }
        let r = fileRenderer
        return ObservedState(links: links, addresses: try nl.addresses(), routes: try nl.routes(), rules: try nl.rules(),
                             sysctls: sysctls, files: try files.observe(directories: r.directories, files: r.files),
                             unsettled: Udev.unsettled(links, finished: finished).subtracting(assumeSettled))
    }

    public func plan(_ instance: Instance, _ observed: ObservedState, interfaces: Set<String>, warnings: [String] = []) -> Plan {
        var pc = config.plannerConfig
        pc.interfaces = interfaces
        var plan = Planner.plan(desired: instance, observed: observed, config: pc, renderer: fileRenderer)
        plan.problems += (warnings + [renderer.problem].compactMap { $0 }).map { Problem(interface: nil, message: $0) }
        return plan
    }

    var fileRenderer: any FileRenderer { renderer.kind.renderer(nmControlled: config.nmControlled) }

    /// The metadata source and the renderer in effect, and why: `status`, `diff --json`.
    public var about: About { About(provider: (try? provider().name) ?? config.provider.rawValue, renderer: renderer.description) }

    /// The plan, without changing anything (`eni-agent diff`).
    public func diff(interfaces: Set<String> = []) throws -> Plan {
        let nl = try Netlink()
        let metadata = try fetch(nl, interfaces: interfaces)
        return plan(metadata.instance, try observe(nl), interfaces: interfaces, warnings: metadata.warnings)
    }

    /// The plan for every link that may be an ENI, with the links it was made on (`eni-agent status`).
    public func status() throws -> (plan: Plan, links: [Link]) {
        let nl = try Netlink()
        let links = try nl.links()
        let metadata = try fetch(nl, interfaces: [], waitingFor: Self.candidateMACs(links, exclusions: config.exclusions))
        return (plan(metadata.instance, try observe(nl), interfaces: [], warnings: metadata.warnings), links)
    }

    /// Plans and applies under the lock (`eni-agent reconfigure`). `udevWait`: how long to wait for
    /// udev to finish with the links before planning (one-shot runs; what it has not finished with
    /// by then is configured as it is); `assumeSettled`: links to configure whatever udev says (the
    /// daemon's, awaited past its grace).
    /// `instance`: plan from this description instead of reading the metadata (the daemon's
    /// restore of what another program removed).
    public func reconfigure(interfaces: Set<String> = [], waitingFor: ((_ links: [Link]) -> Set<MACAddress>)? = nil,
                            udevWait: Duration = .zero, assumeSettled: Set<String> = [],
                            instance given: Instance? = nil) throws -> PassResult {
        let lock = try RunLock(files: files, path: config.lockPath, timeoutSeconds: config.lockTimeoutSeconds)
        defer { withExtendedLifetime(lock) {} }
        let nl = try Netlink()
        var settled = assumeSettled
        if udevWait > .zero, udev.isActive {
            let deadline = ContinuousClock.now + udevWait
            func unsettled() throws -> Set<String> {
                let finished = udev.finished()
                return Udev.unsettled(try nl.links(), finished: finished)
            }
            while try !unsettled().isEmpty, ContinuousClock.now < deadline {
                _ = poll(nil, 0, 50)  // udev's database has no event to wait on: a look every 50 ms
            }
            settled.formUnion(try unsettled())
        }
        let metadata = if let given { MetadataResult(instance: given) } else {
            try fetch(nl, interfaces: interfaces, waitingFor: try waitingFor.map { $0(try nl.links()) })
        }
        let instance = metadata.instance
        let plan = plan(instance, try observe(nl, assumeSettled: settled), interfaces: interfaces, warnings: metadata.warnings)
        var result = apply(plan, nl)
        result.metadataRequests = metadata.requests
        result.instance = instance
        if !plan.isEmpty {
            result.remaining = self.plan(instance, try observe(nl, assumeSettled: settled), interfaces: interfaces).actions
        }
        return result
    }

    /// Carries out the plan in order. When a change for an interface fails, the rest of that
    /// interface's changes are skipped (they build on it); other interfaces go ahead.
    public func apply(_ plan: Plan, _ nl: Netlink) -> PassResult {
        var outcomes: [Outcome] = []
        var broken: [String: String] = [:]
        var fileWrites = 0, sysctlWrites = 0
        let netlinkBefore = nl.writes
        for a in plan.actions {
            let group = a.interface ?? ""
            if let why = broken[group] {
                outcomes.append(Outcome(action: a, result: .skipped(why)))
                continue
            }
            do {
                switch a.change {
                case .linkUp(let dev): try nl.setUp(dev)
                case .addAddress(let x): try tolerate(.exists) { () throws(NetlinkError) in try nl.add(x) }
                case .removeAddress(let x): try tolerate(.notFound) { () throws(NetlinkError) in try nl.remove(x) }
                case .addRoute(let x): try tolerate(.exists) { () throws(NetlinkError) in try nl.add(x) }
                case .removeRoute(let x): try tolerate(.notFound) { () throws(NetlinkError) in try nl.remove(x) }
                case .addRule(let x): try tolerate(.exists) { () throws(NetlinkError) in try nl.add(x) }
                case .removeRule(let x): try tolerate(.notFound) { () throws(NetlinkError) in try nl.remove(x) }
                case .setSysctl(let k, _, let v): sysctlWrites += 1; try procSys.write(k, v)
                case .writeFile(let p, _, let c): fileWrites += 1; try files.write(c, to: p)
                case .removeFile(let p, _): fileWrites += 1; try files.remove(p)
                }
                outcomes.append(Outcome(action: a, result: .done))
            } catch let e as NetlinkError where e.code == .noDevice && !group.isEmpty {
                // The link went away during the pass (a detach racing it): nothing left to configure,
                // not a failure. Its removal starts the next pass, which cleans up after it.
                broken[group] = "\(group) went away during the pass"
                outcomes.append(Outcome(action: a, result: .skipped("\(group) went away during the pass (\(e))")))
            } catch let e as FileError where e.errno == ENOENT && !group.isEmpty && a.change.isInterfaceSysctl(of: group) {
                // The link's settings are gone under this name: it was renamed (udev) or removed
                // during the pass. Not a failure: the rename or removal starts the next pass.
                broken[group] = "\(group) was renamed or went away during the pass"
                outcomes.append(Outcome(action: a, result: .skipped("\(group) was renamed or went away during the pass (\(e))")))
            } catch {
                broken[group] = "earlier change for \(group.isEmpty ? "the machine" : group) failed: \(error)"
                outcomes.append(Outcome(action: a, result: .failed("\(error)")))
            }
        }
        return PassResult(plan: plan, outcomes: outcomes, netlinkWrites: nl.writes - netlinkBefore, fileWrites: fileWrites,
                          sysctlWrites: sysctlWrites, remaining: [])
    }

    /// A change the kernel already has (added meanwhile, or removed meanwhile) is not a failure.
    private func tolerate(_ code: NetlinkError.Code, _ body: () throws(NetlinkError) -> Void) throws(NetlinkError) {
        do { try body() } catch where error.code == code {}
    }
}

extension Change {
    /// A setting of the interface's own (`net.ipv4.conf.IF.*`).
    func isInterfaceSysctl(of interface: String) -> Bool {
        guard case .setSysctl(let key, _, _) = self else { return false }
        return key.hasPrefix(SysctlSetting.ipv4Conf(interface, ""))
    }
}

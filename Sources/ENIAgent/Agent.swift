import ENIApply
import ENIDBus
import ENIMetadata
import ENIModel
import ENIPlanner
import ENIRender
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the instance description came from and which files are written, each with why.
public struct About: Sendable, Equatable, Encodable {
    public var provider: String
    public var renderer: String
    /// Why no ENI has IPv6 whatever the metadata says (Tencent's has no IPv6 leaf); nil elsewhere.
    public var ipv6: String?
    public init(provider: String, renderer: String, ipv6: String? = nil) {
        self.provider = provider; self.renderer = renderer; self.ipv6 = ipv6
    }
}

/// One reconcile pass: the plan, what was done, and what (if anything) still differs afterwards.
public struct PassResult: Sendable {
    public var plan: Plan
    public var applied: Applied
    /// HTTP requests sent to the metadata endpoint.
    public var metadataRequests = 0
    /// The instance the pass planned from.
    public var instance: Instance?
    /// Changes a fresh plan still wants after applying (empty when the pass converged).
    public var remaining: [Action] = []
    /// What NetworkManager could not be told of the keyfiles the pass wrote or removed, one line
    /// per condition (a warning each; it reads the files at its next start); and the router
    /// solicitations that could not be sent.
    public var managerProblems: [String] = []
    /// What the network manager was told, beyond the files (one line each, for the log at info).
    public var managerNotes: [String] = []

    public var outcomes: [Outcome] { applied.outcomes }
    public var failed: [Outcome] { applied.failed }
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
    /// Opens the kernel for a pass: libnl's, or a fake in the unit tests.
    let openKernel: () throws -> any Kernel
    /// NetworkManager's API on the system bus, opened for one pass (a fake in the unit tests).
    public var openNetworkManager: () throws(BusError) -> any NetworkManagerAPI = { () throws(BusError) in try NetworkManagerBus() }
    /// `networkctl reload` over the system bus (a fake in the unit tests).
    public var reloadNetworkd: () throws(BusError) -> Void = { () throws(BusError) in try NetworkdBus.reload() }
    /// Sends a router solicitation on a link (a fake in the unit tests).
    public var solicitRouter: (Link) throws -> Void = { try RouterSolicitation.send(on: $0) }
    /// What networkd says of the link with that index (a fake in the unit tests).
    public var networkdLink: (Int32) -> NetworkdLinkState? = { NetworkdLinkState.read(index: $0) }
    /// The links (index and the file networkd ran on it) networkd was told to reload for: once
    /// each, so that a file networkd will not take cannot make every pass reload it.
    let networkdReloads = ReloadMemory()

    /// Built once: the HTTP providers keep caches across passes.
    private let source: Result<any MetadataProvider, AgentError>

    /// `dmiDirectory`: where the machine's DMI is read (for `provider = "auto"`); the kernel's,
    /// never below `--root`. `provider` and `kernel`: instead of the config's provider and this
    /// namespace's kernel (the unit tests' fakes).
    public init(config: AgentConfig, procSys: ProcSys = ProcSys(), dmiDirectory: String = "/sys/class/dmi/id",
                provider: (any MetadataProvider)? = nil, kernel: @escaping () throws -> any Kernel = systemKernel) {
        self.config = config
        self.files = FileStore(root: config.root)
        self.procSys = procSys
        self.renderer = config.rendererChoice(files)
        self.openKernel = kernel
        self.source = provider.map { .success($0) } ?? Self.makeProvider(config, dmiDirectory: dmiDirectory)
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
            return .success(MetadataFileProvider(path: f, readFile: { try FileStore.readFile(atPath: $0, limit: $1) }))
        case .auto:
            if let f = config.metadataFile { return .success(MetadataFileProvider(path: f, readFile: { try FileStore.readFile(atPath: $0, limit: $1) })) }
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
            guard isCandidate(l, exclusions: exclusions), let mac = l.mac else { return nil }
            if !interfaces.isEmpty { return interfaces.contains(l.name) ? mac : nil }
            return l.kind == nil ? mac : nil
        })
    }

    /// Every link that may be an ENI (physical or veth, not enslaved, not excluded): what `status`
    /// and the daemon report as pending when the metadata does not describe it.
    public static func candidateMACs(_ links: [Link], exclusions: Exclusions) -> Set<MACAddress> {
        Set(links.filter { isCandidate($0, exclusions: exclusions) }.compactMap(\.mac))
    }

    /// A link that may be an ENI (`Link.mayBeENI`), not enslaved, not excluded.
    public static func isCandidate(_ l: Link, exclusions: Exclusions) -> Bool {
        guard l.mayBeENI, l.master == nil, let mac = l.mac else { return false }
        return !exclusions.excludes(name: l.name, mac: mac)
    }

    /// What the metadata describes, and the plan for it on this machine. While an ENI in
    /// `waitingFor` (default: the MACs the kernel has that `expectedMACs` picks) is pending, the
    /// metadata is polled again with backoff, up to `pendingTimeoutMilliseconds`; the same per-ENI
    /// state machine as the daemon's (`ENIWatches`) decides. What is still pending then is planned
    /// as pending (left as it is).
    func describe(_ m: Machine, interfaces: Set<String>, waitingFor: ((_ links: [Link]) -> Set<MACAddress>)? = nil,
                  assumeSettled: Set<String> = []) throws -> (MetadataResult, Plan) {
        let provider = try provider()
        let links = try m.kernel.links()
        let expected = waitingFor?(links) ?? Self.expectedMACs(links, interfaces: interfaces, exclusions: config.exclusions)
        let names = Dictionary(links.compactMap { l in l.mac.map { ($0, l.name) } }, uniquingKeysWith: { a, _ in a })
        let started = ContinuousClock.now
        var watches = ENIWatches(deadline: .milliseconds(config.pendingTimeoutMilliseconds))
        for mac in expected { watches.appeared(mac, name: names[mac] ?? "\(mac)", at: started) }
        while true {
            var metadata = try provider.fetch(waitingFor: expected)
            let observed = try m.observe(renderer: observedPaths, assumeSettled: assumeSettled, for: metadata.instance)
            let plan = self.plan(metadata.instance, observed, interfaces: interfaces, warnings: metadata.warnings)
            let now = ContinuousClock.now
            _ = watches.passed(plan.enis, names: names, at: now) { ENIWatches.pollDelay($0, base: config.pendingBackoffMilliseconds) }
            if let next = watches.attaching.compactMap(\.next).min() {
                // One thread: the wait is a sleep until the next poll (rounded up to the millisecond).
                let wait = now.duration(to: next)
                _ = poll(nil, 0, Int32(clamping: wait.milliseconds + 1))
                continue
            }
            // Waited, and still pending: say how long (the same observed state, planned again).
            let waitedFor = metadata.instance.unknown.filter { $0.value.isPending && expected.contains($0.key) }
            guard config.pendingTimeoutMilliseconds > 0, !waitedFor.isEmpty else { return (metadata, plan) }
            let waited = (ContinuousClock.now - started).components.seconds
            for (mac, why) in waitedFor { metadata.instance.unknown[mac] = .pending("\(why.reason) (waited \(waited) s)") }
            return (metadata, self.plan(metadata.instance, observed, interfaces: interfaces, warnings: metadata.warnings))
        }
    }

    /// The longest a one-shot run waits for the IPv6 routers of its ENIs (`pending_timeout` if
    /// shorter): a router solicitation is sent within a second of the link coming up, and again
    /// every 4 s.
    static let routerWait: Duration = .seconds(10)

    /// Sends a router solicitation on each of the links named (those of ENIs whose IPv6 waits for
    /// its router); returns what failed, one line each.
    public func solicitRouters(_ names: Set<String>, links: [Link]) -> [String] {
        links.filter { names.contains($0.name) }.sorted { $0.name < $1.name }.compactMap { l in
            do { try solicitRouter(l); return nil } catch { return "\(error)" }
        }
    }

    /// The links of the ENIs whose IPv6 waits for a router.
    public static func awaitingRouter(_ plan: Plan) -> Set<String> {
        Set(plan.enis.compactMap { e in
            if case .managed(let d) = e.state, d.eni.ipv6 != nil, d.ipv6Held?.isPending == true { return d.name }
            return nil
        })
    }

    /// The kernel's links now.
    public func links() throws -> [Link] { try openKernel().links() }

    /// This machine, with the kernel opened for one pass.
    func machine() throws -> Machine { Machine(kernel: try openKernel(), files: files, procSys: procSys, udev: udev) }

    public func plan(_ instance: Instance, _ observed: ObservedState, interfaces: Set<String>, warnings: [String] = []) -> Plan {
        var pc = config.plannerConfig
        pc.interfaces = interfaces
        var plan = Planner.plan(desired: instance, observed: observed, config: pc, renderer: fileRenderer, retired: retiredRenderers)
        plan.problems += (warnings + [renderer.problem].compactMap { $0 }).map { Problem(interface: nil, message: $0) }
        return plan
    }

    var fileRenderer: any FileRenderer { renderer.kind.renderer(nmControlled: config.nmControlled) }

    /// The renderers not in effect: the agent's own files at their paths are removed (after a
    /// change of renderer, or of what `auto` finds), so that no network manager reads a second,
    /// stale profile of an ENI. None while the renderer in effect cannot write its files: then
    /// every file stays as it is.
    var retiredRenderers: [any FileRenderer] {
        guard renderer.problem == nil else { return [] }
        return RendererKind.allCases.filter { $0 != renderer.kind && $0 != .auto && $0 != .none }
            .map { $0.renderer(nmControlled: config.nmControlled) }
    }

    /// What a pass reads of the files: the paths of every renderer, the one in effect and the
    /// retired ones.
    var observedPaths: any FileRenderer { Renderers([fileRenderer] + retiredRenderers) }

    /// The protocol the network manager gives the rules the agent's files declare, where it is
    /// not the agent's own (networkd: static); the agent's rules carry it too.
    public var ruleProtocol: UInt8? { fileRenderer.ruleProtocol }

    /// The protocol the network manager gives the routes the agent's files declare, where it is
    /// not the agent's own (NetworkManager: static); the agent's routes carry it too.
    public var routeProtocol: UInt8? { fileRenderer.routeProtocol }

    /// The metadata source and the renderer in effect, and why: `status`, `diff --json`.
    public var about: About {
        let p = try? provider()
        return About(provider: p?.name ?? config.provider.rawValue, renderer: renderer.description, ipv6: p?.ipv6Note)
    }

    /// The plan, without changing anything (`eni-agent diff`).
    public func diff(interfaces: Set<String> = []) throws -> Plan {
        try describe(try machine(), interfaces: interfaces).1
    }

    /// The plan for every link that may be an ENI, with the links it was made on (`eni-agent status`).
    public func status() throws -> (plan: Plan, links: [Link]) {
        let m = try machine()
        let links = try m.kernel.links()
        let exclusions = config.exclusions
        return (try describe(m, interfaces: [], waitingFor: { Self.candidateMACs($0, exclusions: exclusions) }).1, links)
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
        let m = try machine()
        let settled = assumeSettled.union(try m.waitForUdev(udevWait))
        let (metadata, first) = if let given {
            (MetadataResult(instance: given), self.plan(given, try m.observe(renderer: observedPaths, assumeSettled: settled, for: given), interfaces: interfaces))
        } else {
            try describe(m, interfaces: interfaces, waitingFor: waitingFor, assumeSettled: settled)
        }
        let instance = metadata.instance
        var plan = first
        var applied: Applied
        var networkd: (notes: [String], problems: [String]) = ([], [])
        let replan = { [self] () throws -> Plan in
            self.plan(instance, try m.observe(renderer: observedPaths, assumeSettled: settled, for: instance), interfaces: interfaces)
        }
        if tellsNetworkd, let h = try handOverToNetworkd(plan, applied: false, on: m, replan: replan) {
            (plan, applied, networkd.notes, networkd.problems) = h
        } else {
            applied = m.apply(plan)
        }
        var solicitationProblems: [String] = []
        // A one-shot run waits for the routers of the ENIs whose IPv6 awaits one (the link just
        // came up: its router solicitation is answered within a second or so), then plans again.
        let awaiting = Self.awaitingRouter(plan)
        if given == nil, config.pendingTimeoutMilliseconds > 0, !awaiting.isEmpty {
            let start = ContinuousClock.now
            let deadline = start + min(.milliseconds(config.pendingTimeoutMilliseconds), Self.routerWait)
            var nextSolicitation = start
            while Set(try m.kernel.routers().map(\.device)).intersection(awaiting).count < awaiting.count, ContinuousClock.now < deadline {
                if ContinuousClock.now >= nextSolicitation {
                    solicitationProblems += solicitRouters(awaiting, links: try m.kernel.links())
                    nextSolicitation += RouterSolicitation.interval
                }
                _ = poll(nil, 0, 50)  // the neighbour table has no event to wait on here: a look every 50 ms
            }
            let again = try replan()
            applied = applied.followed(by: m.apply(again))
            plan = Plan(actions: plan.actions + again.actions, problems: again.problems, enis: again.enis, design: again.design)
        }
        var result = PassResult(plan: plan, applied: applied, metadataRequests: metadata.requests, instance: instance)
        if tellsNetworkManager {
            result.managerProblems = tellNetworkManager(after: applied, links: (try? m.kernel.links()).map { Set($0.map(\.name)) })
        }
        if tellsNetworkd {
            // networkd may have taken a hot-plugged NIC with another file during the pass.
            if let h = try handOverToNetworkd(plan, applied: true, on: m, replan: replan) {
                plan = Plan(actions: plan.actions + h.plan.actions, problems: h.plan.problems, enis: h.plan.enis, design: h.plan.design)
                result.plan = plan
                result.applied = result.applied.followed(by: h.applied)
                (networkd.notes, networkd.problems) = (networkd.notes + h.notes, networkd.problems + h.problems)
            }
            (result.managerNotes, result.managerProblems) = (networkd.notes, result.managerProblems + networkd.problems)
        }
        result.managerProblems += solicitationProblems
        if !plan.isEmpty {
            result.remaining = try replan().actions
        }
        return result
    }
}

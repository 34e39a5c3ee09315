import ENINetlink
import ENIModel
import ENIPlanner
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The kernel's routing objects, as the executor reads and changes them: libnl's `Netlink` on a
/// real system, an in-memory kernel in the unit tests. A change the kernel refuses throws a
/// `KernelError` (a `NetlinkError` from libnl).
public protocol Kernel {
    func links() throws -> [Link]
    func addresses() throws -> [InterfaceAddress]
    func routes() throws -> [Route]
    func rules() throws -> [Rule]
    /// The IPv6 routers the kernel learned on each link (`ip -6 neigh`, router flag).
    func routers() throws -> [IPv6Router]
    func setUp(_ device: String) throws
    func add(_ a: InterfaceAddress) throws
    func remove(_ a: InterfaceAddress) throws
    func add(_ r: Route) throws
    func remove(_ r: Route) throws
    func add(_ r: Rule) throws
    func remove(_ r: Rule) throws
    /// Change requests sent so far (for accounting).
    var writes: Int { get }
}

/// Why the kernel refused a change, as far as the executor cares: what already exists (or is
/// already gone) is no failure, a link that went away ends its interface's changes quietly.
public enum KernelRefusal: Sendable, Equatable {
    case exists, notFound, noDevice, other
}

/// An error from a `Kernel` that says which refusal it is.
public protocol KernelError: Error {
    var refusal: KernelRefusal { get }
}

extension Netlink: Kernel {}

extension NetlinkError: KernelError {
    public var refusal: KernelRefusal {
        switch code {
        case .exists: .exists
        case .notFound: .notFound
        case .noDevice: .noDevice
        default: .other
        }
    }
}

/// The kernel of this process's network namespace, through libnl.
public func systemKernel() throws -> any Kernel { try Netlink() }

/// What became of one planned action.
public struct Outcome: Sendable {
    public enum Result: Sendable, Equatable { case done, failed(String), skipped(String) }
    public var action: Action
    public var result: Result

    public var reason: String {
        switch result {
        case .done: "done"
        case .failed(let why), .skipped(let why): why
        }
    }
}

/// What carrying out a plan did.
public struct Applied: Sendable {
    public var outcomes: [Outcome]
    public var netlinkWrites: Int
    public var fileWrites: Int
    public var sysctlWrites: Int

    public var failed: [Outcome] { outcomes.filter { if case .failed = $0.result { true } else { false } } }

    /// This and then `next`, as one.
    public func followed(by next: Applied) -> Applied {
        Applied(outcomes: outcomes + next.outcomes, netlinkWrites: netlinkWrites + next.netlinkWrites,
                fileWrites: fileWrites + next.fileWrites, sysctlWrites: sysctlWrites + next.sysctlWrites)
    }
}

/// This machine as the agent sees it: the kernel's links, addresses, routes and rules, the sysctls
/// in /proc/sys, the files below the root and udev's view of the links. It reads the state a plan
/// is made on, and carries the plan out.
public struct Machine {
    public let kernel: any Kernel
    public let files: FileStore
    public let procSys: ProcSys
    public let udev: Udev

    public init(kernel: any Kernel, files: FileStore, procSys: ProcSys = ProcSys(), udev: Udev = Udev()) {
        self.kernel = kernel; self.files = files; self.procSys = procSys; self.udev = udev
    }

    /// Reads everything the planner needs: the kernel, /proc/sys, udev and the renderer's files.
    /// Links in `assumeSettled` are taken as finished by udev whatever its database says. The IPv6
    /// settings are read only for the links of the ENIs in `for` that have IPv6, and the routers
    /// only where one of them has no gateway in the metadata: an IPv4-only machine reads neither.
    public func observe(renderer: any FileRenderer, assumeSettled: Set<String> = [], for instance: Instance? = nil) throws -> ObservedState {
        let finished = udev.finished()  // before the links: see `Udev.finished`
        let links = try kernel.links()
        let ipv6 = (instance?.enis ?? []).filter { $0.ipv6 != nil }
        let ipv6MACs = Set(ipv6.map(\.mac))
        var sysctls: [String: String] = [:]
        var keys = ["all", "default"].map { SysctlSetting.ipv4Conf($0, "rp_filter") }
        for l in links {
            guard let mac = l.mac else { continue }
            keys += ["rp_filter", "promote_secondaries"].map { SysctlSetting.ipv4Conf(l.name, $0) }
            if ipv6MACs.contains(mac) { keys += SysctlSetting.ipv6ENILeaves.map { SysctlSetting.ipv6Conf(l.name, $0.leaf) } }
        }
        for k in keys { sysctls[k] = procSys.read(k) }
        return ObservedState(links: links, addresses: try kernel.addresses(), routes: try kernel.routes(), rules: try kernel.rules(),
                             routers: ipv6.contains { $0.ipv6?.gateway == nil } ? try kernel.routers() : [],
                             sysctls: sysctls, files: try files.observe(directories: renderer.directories, files: renderer.files),
                             unsettled: Udev.unsettled(links, finished: finished).subtracting(assumeSettled))
    }

    /// Links udev has not finished with, waiting up to `limit` for it (one-shot runs; what it has
    /// not finished with by then is configured as it is).
    public func waitForUdev(_ limit: Duration) throws -> Set<String> {
        guard limit > .zero, udev.isActive else { return [] }
        let deadline = ContinuousClock.now + limit
        func unsettled() throws -> Set<String> {
            let finished = udev.finished()
            return Udev.unsettled(try kernel.links(), finished: finished)
        }
        while try !unsettled().isEmpty, ContinuousClock.now < deadline {
            _ = poll(nil, 0, 50)  // udev's database has no event to wait on: a look every 50 ms
        }
        return try unsettled()
    }

    /// Carries out the plan in order. When a change for an interface fails, the rest of that
    /// interface's changes are skipped (they build on it); other interfaces go ahead.
    public func apply(_ plan: Plan) -> Applied {
        var outcomes: [Outcome] = []
        var broken: [String: String] = [:]
        var fileWrites = 0, sysctlWrites = 0
        let nl = kernel
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
                case .addAddress(let x): try tolerate(.exists) { try nl.add(x) }
                case .removeAddress(let x): try tolerate(.notFound) { try nl.remove(x) }
                case .addRoute(let x): try tolerate(.exists) { try nl.add(x) }
                case .removeRoute(let x): try tolerate(.notFound) { try nl.remove(x) }
                case .addRule(let x): try tolerate(.exists) { try nl.add(x) }
                case .removeRule(let x): try tolerate(.notFound) { try nl.remove(x) }
                case .setSysctl(let k, _, let v): sysctlWrites += 1; try procSys.write(k, v)
                case .writeFile(let p, _, let c, let mode, _): fileWrites += 1; try files.write(c, to: p, mode: mode)
                case .removeFile(let p, _): fileWrites += 1; try files.remove(p)
                }
                outcomes.append(Outcome(action: a, result: .done))
            } catch let e as KernelError where e.refusal == .noDevice && !group.isEmpty {
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
        return Applied(outcomes: outcomes, netlinkWrites: nl.writes - netlinkBefore, fileWrites: fileWrites, sysctlWrites: sysctlWrites)
    }

    /// A change the kernel already has (added meanwhile, or removed meanwhile) is not a failure.
    private func tolerate(_ refusal: KernelRefusal, _ body: () throws -> Void) throws {
        do { try body() } catch let e as KernelError where e.refusal == refusal {}
    }
}

extension Change {
    /// A setting of the interface's own (`net.ipv4.conf.IF.*`).
    func isInterfaceSysctl(of interface: String) -> Bool {
        guard case .setSysctl(let key, _, _) = self else { return false }
        return key.hasPrefix(SysctlSetting.ipv4Conf(interface, "")) || key.hasPrefix(SysctlSetting.ipv6Conf(interface, ""))
    }
}

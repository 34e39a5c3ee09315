@testable import ENIAgent
@testable import ENIDaemon
@testable import ENIApply
import ENIDBus
import ENIMetadata
import ENIModel
import ENINetlink
import ENIPlanner
import ENIRender
import Foundation
import XCTest

/// A pass and the daemon's loop with a fake kernel and a fake metadata source: events in, changes
/// out, no namespace needed.
class FakeMachineTestCase: XCTestCase {
    func mac(_ s: String) -> MACAddress { try! MACAddress(s) }
    lazy var eth0 = Link(index: 2, name: "eth0", mac: mac("52:54:00:00:01:0a"), isUp: true)
    lazy var eth1 = Link(index: 3, name: "eth1", mac: mac("52:54:00:00:02:0a"), isUp: false)
    lazy var eth2 = Link(index: 4, name: "eth2", mac: mac("52:54:00:00:03:0a"), isUp: false)

    func eni(_ n: Int, _ ips: [String] = []) -> ENI {
        try! ENI(mac: mac("52:54:00:00:0\(n):0a"), primaryIP: IPv4Address("10.0.\(n).10"), secondaryIPs: ips.map { try IPv4Address($0) },
                 subnet: IPv4Prefix("10.0.\(n).0/24"), gateway: IPv4Address("10.0.\(n).1"))
    }

    func instance(_ enis: [ENI]) -> Instance { try! Instance(primaryMAC: mac("52:54:00:00:01:0a"), enis: enis) }

    var scratch: Scratch!
    override func setUpWithError() throws { scratch = try Scratch() }
    override func tearDown() { scratch = nil }

    /// `pendingTimeout`: how long a one-shot run waits for what is pending (polls 1 ms apart).
    func agent(_ kernel: FakeKernel, _ metadata: FakeMetadata, pendingTimeout: Int = 0) throws -> Agent {
        try scratch.sysctls(for: kernel.linkList.map(\.name) + ["eth2", "eth3"])
        var c = AgentConfig()
        c.root = scratch.root
        c.renderer = .ifcfg
        c.pendingTimeoutMilliseconds = pendingTimeout
        c.pendingBackoffMilliseconds = 1
        var a = Agent(config: c, procSys: ProcSys(base: scratch.procSys), provider: metadata, kernel: { kernel })
        a.udev = Udev(runDirectory: scratch.dir + "/no-udev")
        return a
    }

    func rule(_ n: Int, _ ip: String) -> Rule {
        Rule(priority: UInt32(10000 + n - 1), source: try! IPv4Prefix("\(ip)/32"), table: UInt32(10000 + n - 1), proto: 234)
    }
}

final class PassTests: FakeMachineTestCase {
    func testAPassConfiguresTheENIsAndTheNextChangesNothing() throws {
        let kernel = FakeKernel(links: [eth0, eth1])
        let metadata = FakeMetadata(instance([eni(1), eni(2, ["10.0.2.11"])]))
        let agent = try agent(kernel, metadata)
        let r = try agent.reconfigure()
        XCTAssertEqual(r.failed.map(\.reason), [])
        XCTAssertEqual(r.remaining, [], "the pass converged")
        XCTAssertEqual(Set(kernel.addressSet.map { "\($0.address)/\($0.prefixLength) \($0.device)" }), ["10.0.2.10/24 eth1", "10.0.2.11/24 eth1"])
        XCTAssertEqual(Set(kernel.routeSet.map(\.description)),
                       ["default via 10.0.2.1 dev eth1 table 10001 proto 234", "10.0.2.0/24 dev eth1 scope link table 10001 proto 234"])
        XCTAssertEqual(kernel.ruleSet, [rule(2, "10.0.2.10"), rule(2, "10.0.2.11")])
        XCTAssertTrue(kernel.linkList[1].isUp, "eth1 brought up")
        XCTAssertEqual(try String(contentsOfFile: scratch.procSys + "/net/ipv4/conf/eth1/rp_filter", encoding: .utf8), "2\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.root + "/etc/sysconfig/network-scripts/rule-eth1"))
        XCTAssertNil(kernel.routeSet.first { $0.device == "eth0" }, "the primary's routing is untouched")

        let writes = kernel.writes
        let again = try agent.reconfigure()
        XCTAssertTrue(again.outcomes.isEmpty, "\(again.outcomes.map(\.action.change.command))")
        XCTAssertEqual(kernel.writes, writes, "a pass with nothing to do writes nothing")
        XCTAssertEqual(metadata.fetches, 2)
    }

    /// An ENI whose link is there and that the metadata lists only at its third look: one
    /// `reconfigure` waits for it (the daemon's state machine decides) and configures it.
    func testAnENIListedLateIsWaitedForThenConfigured() throws {
        let kernel = FakeKernel(links: [eth0, eth1, eth2])
        let metadata = FakeMetadata(instance([eni(1), eni(2), eni(3)]))
        metadata.later = [instance([eni(1), eni(2)]), instance([eni(1), eni(2)])]
        let agent = try agent(kernel, metadata, pendingTimeout: 60_000)
        let r = try agent.reconfigure()
        XCTAssertEqual(metadata.fetches, 3, "two looks while eth2 was not listed, then the one that lists it")
        XCTAssertTrue(kernel.ruleSet.contains(rule(3, "10.0.3.10")), "eth2 configured")
        XCTAssertFalse(r.plan.enis.contains { if case .unknown = $0.state { true } else { false } }, "\(r.plan.enis)")
    }

    /// Never listed: pending once the wait is over, with how long it waited; the others go ahead.
    func testAnENINeverListedIsPendingAfterTheWait() throws {
        let kernel = FakeKernel(links: [eth0, eth1, eth2])
        let metadata = FakeMetadata(instance([eni(1), eni(2)]))
        let agent = try agent(kernel, metadata, pendingTimeout: 30)
        let r = try agent.reconfigure()
        XCTAssertGreaterThan(metadata.fetches, 1, "looked again while it waited")
        let state = r.plan.enis.first { $0.mac == eth2.mac! }?.state
        guard case .unknown(.pending(let why))? = state else { return XCTFail("\(String(describing: state))") }
        XCTAssertEqual(why, "not listed yet (waited 0 s)")
        XCTAssertTrue(kernel.ruleSet.contains(rule(2, "10.0.2.10")), "eth1 configured all the same")
    }

    /// A link gone between the plan and its changes: the rest of its changes are skipped, not
    /// failed, and the other ENIs are configured.
    func testALinkGoneDuringThePassIsSkippedAndOthersGoAhead() throws {
        let kernel = FakeKernel(links: [eth0, eth1, eth2])
        let agent = try agent(kernel, FakeMetadata(instance([eni(1), eni(2), eni(3)])))
        let m = try agent.machine()
        let plan = agent.plan(instance([eni(1), eni(2), eni(3)]), try m.observe(renderer: agent.fileRenderer), interfaces: [])
        kernel.linkList.removeAll { $0.name == "eth1" }
        let applied = m.apply(plan)
        XCTAssertEqual(applied.failed.map(\.reason), [])
        XCTAssertTrue(applied.outcomes.filter { $0.action.interface == "eth1" }.allSatisfy { if case .skipped = $0.result { true } else { false } })
        XCTAssertTrue(kernel.ruleSet.contains(rule(3, "10.0.3.10")), "eth2 configured all the same")
    }
}

/// NetworkManager as the agent sees it (nothing is sent): what it was asked, and what it answers.
final class RecordingNetworkManager: NetworkManagerAPI {
    var opened = 0
    var loaded: [[String]] = []
    var activated: [(uuid: String, interface: String)] = []
    var failures: [String] = []
    var loadError: BusError?
    var activateError: [String: BusError] = [:]

    func loadConnections(_ paths: [String]) throws(BusError) -> [String] {
        loaded.append(paths)
        if let loadError { throw loadError }
        return failures
    }

    func activate(uuid: String, interface: String) throws(BusError) -> NMActivation {
        activated.append((uuid, interface))
        if let e = activateError[interface] { throw e }
        return .activated("/org/freedesktop/NetworkManager/ActiveConnection/1")
    }
}

/// After a pass that wrote or removed keyfiles in NetworkManager's directory, NetworkManager is
/// told: it loads them, and each written one's ENI runs its profile; failures are one line each.
final class NetworkManagerNoticeTests: FakeMachineTestCase {
    let dir = "/etc/NetworkManager/system-connections"
    func keyfile(_ uuid: String) -> String {
        "[connection]\nid=eni-agent-x\nuuid=\(uuid)\ntype=ethernet\n\n[ethernet]\nmac-address=52:54:00:00:02:0A\n"
    }

    func outcome(_ change: Change, _ interface: String?, _ result: Outcome.Result = .done) -> Outcome {
        Outcome(action: Action(change, interface: interface, reason: "t"), result: result)
    }

    func applied(_ outcomes: [Outcome]) -> Applied {
        Applied(outcomes: outcomes, netlinkWrites: 0, fileWrites: outcomes.count, sysctlWrites: 0)
    }

    /// An agent whose NetworkManager is `nm`.
    func agent(_ nm: RecordingNetworkManager, renderer: RendererKind = .ifcfg, root: String? = nil) throws -> Agent {
        var a = try agent(FakeKernel(links: [eth0, eth1]), FakeMetadata(instance([eni(1), eni(2)])))
        if root != nil || renderer != .ifcfg {
            var c = a.config
            c.renderer = renderer
            if let root { c.root = root }
            a = Agent(config: c, procSys: a.procSys, provider: FakeMetadata(instance([eni(1), eni(2)])), kernel: { FakeKernel(links: []) })
        }
        a.openNetworkManager = { () throws(BusError) in nm.opened += 1; return nm }
        return a
    }

    func testChangedKeyfilesAreLoadedAndTheWrittenOnesRun() throws {
        let nm = RecordingNetworkManager()
        let a = try agent(nm)
        let p1 = dir + "/eni-agent-eth1.nmconnection", p2 = dir + "/eni-agent-eth2.nmconnection"
        let p3 = dir + "/eni-agent-eth3.nmconnection", p4 = dir + "/eni-agent-eth4.nmconnection"
        let problems = a.tellNetworkManager(after: applied([
            outcome(.writeFile(path: p1, old: nil, new: keyfile("uuid-1")), "eth1"),
            outcome(.removeFile(path: p2, old: keyfile("uuid-2")), "eth2"),
            outcome(.writeFile(path: p3, old: nil, new: keyfile("uuid-3")), "eth3", .failed("EACCES")),
            outcome(.writeFile(path: p4, old: keyfile("old"), new: keyfile("uuid-4")), "eth4"),
            outcome(.writeFile(path: "/etc/sysctl.d/90-eni-agent.conf", old: nil, new: ""), nil),
            outcome(.linkUp(device: "eth1"), "eth1"),
        ]), links: ["eth0", "eth1", "eth2"])
        XCTAssertEqual(problems, [])
        XCTAssertEqual(nm.opened, 1, "one connection for the pass")
        XCTAssertEqual(nm.loaded, [[p1, p2, p4]], "the files written or removed (a failed write changed nothing)")
        XCTAssertEqual(nm.activated.map { "\($0.uuid) \($0.interface)" }, ["uuid-1 eth1"],
                       "eth2's file was removed; eth4 has no link (NetworkManager picks the loaded profile when it appears)")
    }

    func testNoKeyfileChangedNothingIsSent() throws {
        let nm = RecordingNetworkManager()
        let a = try agent(nm)
        XCTAssertEqual(a.tellNetworkManager(after: applied([]), links: nil), [])
        XCTAssertEqual(a.tellNetworkManager(after: applied([
            outcome(.writeFile(path: "/etc/systemd/network/05-eni-agent-eth1.network", old: nil, new: ""), "eth1"),
            outcome(.removeFile(path: "/etc/NetworkManager/NetworkManager.conf.d-eth1", old: ""), "eth1"),
        ]), links: nil), [])
        XCTAssertEqual(nm.opened, 0)
        // A whole pass that changes nothing in that directory (ifcfg files below a test's root).
        var a2 = try agent(FakeKernel(links: [eth0, eth1]), FakeMetadata(instance([eni(1), eni(2)])))
        a2.openNetworkManager = { () throws(BusError) in nm.opened += 1; return nm }
        let r = try a2.reconfigure()
        XCTAssertFalse(r.outcomes.isEmpty)
        XCTAssertEqual(try a2.reconfigure().outcomes.count, 0, "a no-op pass")
        XCTAssertEqual(r.managerProblems, [])
        XCTAssertEqual(nm.opened, 0)
    }

    func testOnlyTheNetworkManagerRendererOnTheRealSystemTellsIt() throws {
        let nm = RecordingNetworkManager()
        XCTAssertFalse(try agent(nm, renderer: .ifcfg, root: "/").tellsNetworkManager)
        XCTAssertFalse(try agent(nm, renderer: .networkd, root: "/").tellsNetworkManager)
        XCTAssertFalse(try agent(nm, renderer: .none, root: "/").tellsNetworkManager)
        let kind = RendererKind.networkmanager
        XCTAssertFalse(try agent(nm, renderer: kind, root: scratch.root).tellsNetworkManager, "below another root: never")
        let real = try agent(nm, renderer: kind, root: "/")
        guard real.renderer.kind == kind else { throw XCTSkip("the keyfile directory cannot be written here: \(real.renderer)") }
        XCTAssertEqual(real.tellsNetworkManager, Udev.sharesPID1NetworkNamespace)
    }

    func testFailuresAreOneLineEach() throws {
        let nm = RecordingNetworkManager()
        var a = try agent(nm)
        let p1 = dir + "/eni-agent-eth1.nmconnection", p2 = dir + "/eni-agent-eth2.nmconnection"
        let both = applied([outcome(.writeFile(path: p1, old: nil, new: keyfile("uuid-1")), "eth1"),
                            outcome(.writeFile(path: p2, old: nil, new: keyfile("uuid-2")), "eth2")])
        // A file NetworkManager could not load is named, and not activated.
        nm.failures = [p2]
        XCTAssertEqual(a.tellNetworkManager(after: both, links: nil),
                       ["NetworkManager could not load \(p2) (LoadConnections; its log says why)"])
        XCTAssertEqual(nm.activated.map(\.interface), ["eth1"])
        // An activation that fails names the file, the interface and the error; the others go on.
        nm.failures = []
        nm.activated = []
        nm.activateError["eth1"] = .remote(name: "org.freedesktop.NetworkManager.Device.NotActive", message: "Reapply: Device is not activated")
        XCTAssertEqual(a.tellNetworkManager(after: both, links: nil),
                       ["NetworkManager did not run \(p1) on eth1: org.freedesktop.NetworkManager.Device.NotActive: Reapply: Device is not activated"])
        XCTAssertEqual(nm.activated.map(\.interface), ["eth1", "eth2"])
        // A transport error ends the sequence: the connection is gone or out of time.
        nm.activated = []
        nm.activateError["eth1"] = .transport("GetDeviceByIpIface: /run/dbus/system_bus_socket: no answer in time (receive)")
        XCTAssertEqual(a.tellNetworkManager(after: both, links: nil).count, 1)
        XCTAssertEqual(nm.activated.map(\.interface), ["eth1"])
        // LoadConnections failing, or no bus: one line, nothing activated.
        nm.activated = []
        nm.loadError = .remote(name: "org.freedesktop.DBus.Error.ServiceUnknown", message: "LoadConnections: The name is not activatable")
        XCTAssertEqual(a.tellNetworkManager(after: both, links: nil),
                       ["NetworkManager did not load \(p1), \(p2): LoadConnections: org.freedesktop.DBus.Error.ServiceUnknown: LoadConnections: The name is not activatable; it reads them when it restarts"])
        XCTAssertEqual(nm.activated.count, 0)
        a.openNetworkManager = { () throws(BusError) in throw .transport("connect /run/dbus/system_bus_socket: No such file or directory") }
        XCTAssertEqual(a.tellNetworkManager(after: both, links: nil),
                       ["NetworkManager was not told of the agent's keyfiles (connect /run/dbus/system_bus_socket: No such file or directory); it reads them when it restarts"])
        // A keyfile without a uuid cannot be activated.
        nm.loadError = nil
        a = try agent(nm)
        XCTAssertEqual(a.tellNetworkManager(after: applied([outcome(.writeFile(path: p1, old: nil, new: "[connection]\nid=x\n"), "eth1")]), links: nil),
                       ["\(p1) has no uuid in [connection]: not activated on eth1"])
    }

    func testTheUUIDIsTheConnectionSections() {
        XCTAssertEqual(Agent.keyfileUUID("[ethernet]\nuuid=no\n[connection]\nid=a\n  uuid = \n"), nil)
        XCTAssertEqual(Agent.keyfileUUID("[ethernet]\nuuid=no\n[connection]\nid=a\nuuid=0c2d9a4e-5b7f\n[ipv4]\nuuid=no\n"), "0c2d9a4e-5b7f")
        XCTAssertEqual(Agent.keyfileUUID("[ipv4]\nuuid=no\n"), nil)
    }
}

/// The daemon's loop, driven by a script of inputs.
final class LoopTests: FakeMachineTestCase {
    /// Each `wait` runs the next step (a change to the fakes) and returns what it says arrived;
    /// settle windows see nothing more; an empty script stops the loop.
    final class Script: LoopInputs {
        var steps: [() -> Input]
        init(_ steps: [() -> Input]) { self.steps = steps }
        func wait(until deadline: ContinuousClock.Instant) -> Input { steps.isEmpty ? Input(stop: true) : steps.removeFirst()() }
        func more(until deadline: ContinuousClock.Instant) -> Input { Input() }
    }

    func linkEvent(_ kind: LinkEvents.Kind, _ l: Link) -> Input {
        Input(batches: [(LinkEvents(events: [.init(kind: kind, link: l)]), .now)])
    }

    func testAttachRestoreAndDetachThroughTheLoop() throws {
        let kernel = FakeKernel(links: [eth0, eth1])
        let metadata = FakeMetadata(instance([eni(1), eni(2)]))
        let log = LogLines()
        var settings = DaemonSettings()
        settings.resyncInterval = .seconds(3600)
        let daemon = Daemon(agent: try agent(kernel, metadata), settings: settings, logger: log.logger,
                            notifier: SystemdNotifier(environment: [:]))
        var loop = Loop(daemon: daemon, links: kernel.linkList)
        var fetchesBeforeRestore = 0
        let script = Script([
            // eth2 hot-attached; the metadata describes it.
            { [self] in
                kernel.linkList.append(eth2)
                metadata.instance = instance([eni(1), eni(2), eni(3)])
                return linkEvent(.new, eth2)
            },
            // Another program deletes eth1's rule: put back from the last description, no fetch.
            { [self] in
                fetchesBeforeRestore = metadata.fetches
                kernel.ruleSet.remove(rule(2, "10.0.2.10"))
                return Input(batches: [(LinkEvents(objects: [.init(kind: .deleted, change: .rule(rule(2, "10.0.2.10")))]), .now)])
            },
            // eth2 detached, and the metadata no longer lists it.
            { [self] in
                kernel.linkList.removeAll { $0.name == "eth2" }
                kernel.addressSet = kernel.addressSet.filter { $0.device != "eth2" }
                kernel.routeSet = kernel.routeSet.filter { $0.device != "eth2" }
                metadata.instance = instance([eni(1), eni(2)])
                return linkEvent(.deleted, eth2)
            },
        ])
        loop.run(script)

        XCTAssertEqual(kernel.ruleSet, [rule(2, "10.0.2.10")], "eth1's rule restored, eth2's removed after its detach")
        XCTAssertEqual(metadata.fetches, fetchesBeforeRestore + 1, "the restore read no metadata; the detach's pass did")
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.root + "/etc/sysconfig/network-scripts/rule-eth2"))
        let lines = log.all.filter { !$0.hasPrefix("debug") }
        XCTAssertTrue(lines.contains { $0.hasPrefix("info eth2: ENI 52:54:00:00:03:0a configured") }, "\(lines)")
        XCTAssertTrue(lines.contains("info eth1: ENI 52:54:00:00:02:0a, table 10001, rule priority 10001: +1 rule"), "\(lines)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("warning") || $0.hasPrefix("error") }, [])
        XCTAssertEqual(lines.last, "notice eni-agent stopping")
        XCTAssertTrue(loop.watches.watches.isEmpty, "nothing left to wait for")
    }

    /// A failed pass is retried with backoff, and logged once.
    func testAFailingPassIsLoggedOnceAndRetried() throws {
        let kernel = FakeKernel(links: [eth0, eth1])
        let metadata = FakeMetadata(instance([eni(1), eni(2)]))
        metadata.failure = "GET http://x/mac: connection failed"
        let log = LogLines()
        let daemon = Daemon(agent: try agent(kernel, metadata), settings: DaemonSettings(), logger: log.logger,
                            notifier: SystemdNotifier(environment: [:]))
        var loop = Loop(daemon: daemon, links: kernel.linkList)
        let script = Script([
            { Input(reload: true) },
            { metadata.failure = nil; return Input(reload: true) },
        ])
        loop.run(script)
        let lines = log.all.filter { !$0.hasPrefix("debug") }
        XCTAssertEqual(lines.filter { $0.hasPrefix("error") }, ["error pass failed: GET http://x/mac: connection failed; retrying"])
        XCTAssertTrue(lines.contains("notice pass succeeded after 2 failed"), "\(lines)")
        XCTAssertEqual(kernel.ruleSet, [rule(2, "10.0.2.10")])
        XCTAssertNil(loop.retryAt, "no retry pending after success")
    }
}

/// networkd is told to read the agent's files only when it runs another file (an image's
/// catch-all DHCP file) on an ENI's link that has the agent's `.network` file: never for a link it
/// does not manage (a reload would make it configure the link and drop every foreign rule), and
/// once for each link and file.
final class NetworkdNoticeTests: FakeMachineTestCase {
    let catchAll = "/etc/systemd/network/99-catch-all.network"

    /// The agent, networkd running `running` (by link index), the agent's files for `files`, and
    /// how many times networkd was reloaded.
    func agent(_ running: [Int32: String], files: [String], fails: BusError? = nil) throws -> (Agent, () -> Int) {
        var a = try agent(FakeKernel(links: [eth0, eth1, eth2]), FakeMetadata(instance([eni(1), eni(2), eni(3)])))
        for f in files { try a.files.write("# Managed by eni-agent\n", to: NetworkdRenderer.path(f)) }
        final class Count: @unchecked Sendable { var n = 0 }
        let count = Count()
        a.reloadNetworkd = { () throws(BusError) in
            count.n += 1
            if let fails { throw fails }
        }
        a.networkdLink = { running[$0].map { NetworkdLinkState(networkFile: $0) } ?? NetworkdLinkState(networkFile: nil) }
        return (a, { count.n })
    }

    func testACatchAllFileOnAnENIsLinkIsReplacedByOneReload() throws {
        let (a, reloads) = try agent([eth1.index: catchAll, eth2.index: "/run/systemd/network/10-netplan-all.network"], files: ["eth1", "eth2"])
        let r = a.tellNetworkd(links: [eth0, eth1, eth2])
        XCTAssertEqual(reloads(), 1, "once for the pass")
        XCTAssertEqual(r.notes, ["systemd-networkd told to read the agent's files (networkctl reload): it ran another file on "
                                 + "eth1 (\(catchAll)), eth2 (/run/systemd/network/10-netplan-all.network)"])
        XCTAssertEqual(r.problems, [])
        // networkd did not take the agent's file: the next passes do not reload it again.
        XCTAssertEqual(a.tellNetworkd(links: [eth0, eth1, eth2]).notes, [])
        XCTAssertEqual(reloads(), 1)
    }

    /// An agent with the networkd renderer on `kernel`, the metadata describing `described`.
    func networkdAgent(_ kernel: FakeKernel, _ described: Instance) throws -> Agent {
        try scratch.sysctls(for: kernel.linkList.map(\.name))
        var c = AgentConfig()
        c.root = scratch.root
        c.renderer = .networkd
        var a = Agent(config: c, procSys: ProcSys(base: scratch.procSys), provider: FakeMetadata(described), kernel: { kernel })
        a.udev = Udev(runDirectory: scratch.dir + "/no-udev")
        return a
    }

    /// Where networkd runs an image's DHCP file on an ENI's link, the agent's files go first,
    /// networkd is told to read them, and the kernel changes come only once it runs the agent's
    /// file there (planned afresh on what networkd left): networkd's takeover must not find the
    /// ENI's secondary IPs beside its lease's address (systemd 252 loops, see
    /// `handOverToNetworkd`).
    func testNetworkdTakesTheLinkBeforeTheAgentAddsAnything() throws {
        let described = instance([eni(1), eni(2, ["10.0.2.11"])])
        let kernel = FakeKernel(links: [eth0, eth1])
        var a = try networkdAgent(kernel, described)
        final class Networkd: @unchecked Sendable {
            var running: [Int32: String] = [:]
            var addressesAtReload: [InterfaceAddress]?
            var looks = 0
        }
        let networkd = Networkd()
        networkd.running[eth1.index] = catchAll
        let ours = NetworkdRenderer.path("eth1")
        a.reloadNetworkd = { () throws(BusError) in
            networkd.addressesAtReload = kernel.addressSet.filter { $0.device == "eth1" }.sorted()
            XCTAssertTrue(a.files.isRegularFile(ours), "the agent's file is there before the reload")
        }
        a.networkdLink = { index in
            // networkd takes the link a few looks after the reload.
            if networkd.addressesAtReload != nil, index == self.eth1.index { networkd.looks += 1; if networkd.looks > 2 { networkd.running[index] = ours } }
            return NetworkdLinkState(networkFile: networkd.running[index])
        }
        let m = try a.machine()
        let plan = a.plan(described, try m.observe(renderer: a.observedPaths), interfaces: [])
        let h = try XCTUnwrap(try a.handOverToNetworkd(plan, applied: false, on: m, replan: {
            a.plan(described, try m.observe(renderer: a.observedPaths), interfaces: [])
        }))
        XCTAssertEqual(networkd.addressesAtReload, [], "nothing added to eth1 before networkd read the agent's file")
        XCTAssertEqual(networkd.running[eth1.index], ours)
        XCTAssertEqual(h.notes, ["systemd-networkd told to read the agent's files (networkctl reload): it ran another file on eth1 (\(catchAll))"])
        XCTAssertEqual(Set(kernel.addressSet.filter { $0.device == "eth1" }.map(\.address.description)), ["10.0.2.10", "10.0.2.11"])
        XCTAssertTrue(h.applied.failed.isEmpty)
        XCTAssertTrue(h.plan.actions.first?.change.isFile ?? false, "files first")
        // Once networkd runs the agent's file, a pass applies as usual.
        XCTAssertNil(try a.handOverToNetworkd(plan, applied: true, on: m, replan: { plan }))
    }

    /// networkd took a hot-plugged NIC with its DHCP file after the agent configured it (its
    /// lease naming the ENI's primary IP): before the reload the ENI's secondary IPs go, so that
    /// networkd's takeover removes the lease's address with nothing to promote; then they are back.
    func testAfterThePassTheSecondaryIPsWaitForTheTakeover() throws {
        let described = instance([eni(1), eni(2, ["10.0.2.11", "10.0.2.12"])])
        let kernel = FakeKernel(links: [eth0, eth1])
        var a = try networkdAgent(kernel, described)
        final class Networkd: @unchecked Sendable { var running: [Int32: String] = [:]; var atReload: [String]? }
        let networkd = Networkd()
        let ours = NetworkdRenderer.path("eth1")
        a.reloadNetworkd = { () throws(BusError) in
            networkd.atReload = kernel.addressSet.filter { $0.device == "eth1" }.map(\.address.description).sorted()
            networkd.running[self.eth1.index] = ours
        }
        a.networkdLink = { NetworkdLinkState(networkFile: networkd.running[$0]) }
        let m = try a.machine()
        let replan = { a.plan(described, try m.observe(renderer: a.observedPaths), interfaces: []) }
        // The agent's pass, networkd not running a file on eth1 yet: applied as usual.
        let plan = try replan()
        XCTAssertNil(try a.handOverToNetworkd(plan, applied: false, on: m, replan: replan))
        _ = m.apply(plan)
        // Then networkd takes eth1 with its catch-all.
        networkd.running[eth1.index] = catchAll
        let h = try XCTUnwrap(try a.handOverToNetworkd(try replan(), applied: true, on: m, replan: replan))
        XCTAssertEqual(networkd.atReload, ["10.0.2.10"], "only the address its lease may name")
        XCTAssertEqual(kernel.addressSet.filter { $0.device == "eth1" }.map(\.address.description).sorted(),
                       ["10.0.2.10", "10.0.2.11", "10.0.2.12"], "back once networkd runs the agent's file")
        XCTAssertTrue(h.applied.failed.isEmpty)
    }

    func testNoReloadWithoutTheAgentsFileOrForALinkNetworkdDoesNotManageOrRunsTheAgentsFile() throws {
        let (a, reloads) = try agent([eth0.index: "/etc/systemd/network/10-primary.network", eth1.index: NetworkdRenderer.path("eth1")],
                                     files: ["eth1", "eth2"])
        XCTAssertEqual(a.tellNetworkd(links: [eth0, eth1, eth2]).notes, [])
        XCTAssertEqual(reloads(), 0, "eth0 has no file of the agent's, eth1 runs it, networkd does not manage eth2")
    }

    func testAFailedReloadIsOneProblem() throws {
        let (a, _) = try agent([eth1.index: catchAll], files: ["eth1"],
                               fails: .remote(name: "org.freedesktop.DBus.Error.AccessDenied", message: "Reload: denied"))
        let r = a.tellNetworkd(links: [eth0, eth1])
        XCTAssertEqual(r.problems, ["systemd-networkd was not told to read the agent's files for eth1 (\(catchAll)) "
                                    + "(org.freedesktop.DBus.Error.AccessDenied: Reload: denied); it reads them when it restarts"])
    }

    func testTheStateFile() {
        XCTAssertEqual(NetworkdLinkState(parsing: "# This is private data. Do not parse.\nADMIN_STATE=configured\nOPER_STATE=routable\nNETWORK_FILE=/etc/systemd/network/10-primary.network\n"),
                       NetworkdLinkState(networkFile: "/etc/systemd/network/10-primary.network"))
        XCTAssertEqual(NetworkdLinkState(parsing: "ADMIN_STATE=unmanaged\nNETWORK_FILE=\n"), NetworkdLinkState(networkFile: nil))
    }

    /// networkd runs (its state file below the root), the renderer is networkd: below another root
    /// than `/`, never.
    func testOnlyTheNetworkdRendererOnTheRealSystemTellsIt() throws {
        let a = try agent([:], files: []).0
        try a.files.write("OPER_STATE=routable\n", to: NetworkdRenderer.runningMarker)
        var c = a.config
        c.renderer = .networkd
        c.root = scratch.root
        XCTAssertFalse(Agent(config: c, procSys: a.procSys, provider: FakeMetadata(instance([eni(1)])), kernel: { FakeKernel(links: []) }).tellsNetworkd)
    }
}

@testable import ENIDaemon
@testable import ENIApply
@testable import ENIAgent
import ENIModel
import ENINetlink
import ENIPlanner
import Foundation
import Logging
import Synchronization
import XCTest

final class NotifierTests: XCTestCase {
    /// A datagram socket bound at `path` (a leading NUL: abstract) and a reader of one message.
    func withReceiver(_ path: [UInt8], _ body: () throws -> Void) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: path) }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        XCTAssertEqual(rc, 0, String(cString: strerror(errno)))
        try body()
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
        return n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : ""
    }

    func testSendsLinesToThePathSocket() throws {
        let path = FileManager.default.temporaryDirectory.appending(path: "eni-notify-\(getpid())").path
        defer { unlink(path) }
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        let got = try withReceiver(Array(path.utf8)) { try n.notify(["READY=1", "STATUS=ENIs: 2 configured"]) }
        XCTAssertEqual(got, "READY=1\nSTATUS=ENIs: 2 configured\n")
    }

    func testSendsToAnAbstractSocket() throws {
        let name = "eni-notify-test-\(getpid())"
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name])
        let got = try withReceiver([0] + Array(name.utf8)) { try n.notify(["WATCHDOG=1"]) }
        XCTAssertEqual(got, "WATCHDOG=1\n")
    }

    /// A receiver that never reads (its queue full) makes notify fail with EAGAIN; it never blocks
    /// the daemon's loop. (It once did: the loop stopped at the eleventh STATUS= line.)
    func testAReceiverThatDoesNotReadNeverBlocksTheSender() throws {
        let name = "eni-notify-full-\(getpid())"
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name])
        let errnos = Mutex<[Int32]>([])
        _ = try withReceiver([0] + Array(name.utf8)) {
            let done = expectation(description: "1000 notifications return")
            Thread.detachNewThread {
                for _ in 0..<1000 {
                    do { try n.notify(["STATUS=ENIs: 1 configured"]) } catch let f as SystemdNotifier.Failure {
                        if case .send(_, let e) = f { errnos.withLock { $0.append(e) } }
                    } catch {}
                }
                done.fulfill()
            }
            wait(for: [done], timeout: 20)
        }
        let failed = errnos.withLock { $0 }
        XCTAssertFalse(failed.isEmpty, "the receiver's queue never filled")
        XCTAssertEqual(Set(failed), [EAGAIN])
    }

    func testWithoutTheVariableNothingIsSent() throws {
        XCTAssertNoThrow(try SystemdNotifier(environment: [:]).notify(["READY=1"]))
        XCTAssertThrowsError(try SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]).notify(["READY=1"])) {
            XCTAssertEqual("\($0)", "NOTIFY_SOCKET \"relative\" is not a usable socket address")
        }
    }

    func testWatchdogIntervalIsForThisProcessOnly() {
        XCTAssertEqual(SystemdNotifier(environment: ["WATCHDOG_USEC": "120000000"]).watchdogInterval, .seconds(120))
        XCTAssertEqual(SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "\(getpid())"]).watchdogInterval, .milliseconds(1))
        XCTAssertNil(SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"]).watchdogInterval)
        XCTAssertNil(SystemdNotifier(environment: ["WATCHDOG_USEC": "x"]).watchdogInterval)
    }
}

final class LogTests: XCTestCase {
    func testLinesCarrySyslogPrioritiesAndSortedMetadata() {
        XCTAssertEqual(SyslogLogHandler.format(.info, "eth1 configured", [:]), "<6>eth1 configured")
        XCTAssertEqual(SyslogLogHandler.format(.error, "a\nb", ["z": "1", "a": "2"]), "<3>a b a=2 z=1")
        XCTAssertEqual([Logger.Level.trace, .debug, .notice, .warning, .critical].map(SyslogLogHandler.priority), [7, 7, 5, 4, 2])
    }

    func testPassDurationsPrintAsMillisecondsWithTwoDecimals() {
        XCTAssertEqual(Loop.milliseconds(.microseconds(3070)), "3.07")
        XCTAssertEqual(Loop.milliseconds(.microseconds(120_504)), "120.50")
        XCTAssertEqual(Loop.milliseconds(.microseconds(4)), "0.00")
        XCTAssertEqual(Loop.milliseconds(.microseconds(6)), "0.01")
    }

    func testTallySaysWhatAPassDid() throws {
        let a = InterfaceAddress(address: try IPv4Address("10.0.2.10"), prefixLength: 24, device: "eth1")
        let r = Rule(priority: 10001, source: try IPv4Prefix("10.0.2.10/32"), table: 10001, proto: 234)
        XCTAssertEqual(Change.tally([.addAddress(a), .addAddress(a), .addRule(r), .linkUp(device: "eth1"),
                                     .writeFile(path: "/x", old: nil, new: ""), .removeRule(r)]),
                       "-1 rule, link up, +2 addresses, +1 rule, 1 file written")
    }
}

/// The loop's one wait: signals from the signalfd, netlink from the monitor, or the deadline.
final class InputsTests: XCTestCase {
    /// Signals raised on this thread (thread-directed, so no other test thread can take them),
    /// blocked and read back from the descriptor; unblocked again afterwards.
    func testSignalsAreReadFromTheDescriptor() throws {
        let inputs = PollInputs(monitor: try LinkMonitor(), signals: try SignalDescriptor([SIGHUP, SIGTERM]))
        defer {
            var set = sigset_t()
            sigemptyset(&set); sigaddset(&set, SIGHUP); sigaddset(&set, SIGTERM)
            sigprocmask(SIG_UNBLOCK, &set, nil)
        }
        raise(SIGHUP)
        var got = inputs.wait(until: .now + .seconds(10))
        XCTAssertTrue(got.reload, "SIGHUP asks for a pass")
        XCTAssertFalse(got.stop)
        raise(SIGTERM)
        got = inputs.wait(until: .now + .seconds(10))
        XCTAssertTrue(got.stop, "SIGTERM stops")
        XCTAssertFalse(got.reload)
    }

    func testADeadlineEndsTheWaitWithNoSignal() throws {
        let inputs = PollInputs(monitor: try LinkMonitor(), signals: try SignalDescriptor([SIGHUP]))
        defer {
            var set = sigset_t()
            sigemptyset(&set); sigaddset(&set, SIGHUP)
            sigprocmask(SIG_UNBLOCK, &set, nil)
        }
        let deadline = ContinuousClock.now + .milliseconds(20)
        let got = inputs.wait(until: deadline)
        XCTAssertFalse(got.reload || got.stop)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now, deadline, "returned before its deadline with nothing to say")
    }
}

/// Which link events call for a pass (no root needed: events are made up).
final class LinkEventTests: XCTestCase {
    func loop(_ links: [Link], excluding: [String] = [], solicitRouter: @escaping (Link) throws -> Void = { _ in }) -> Loop {
        var c = AgentConfig()
        c.metadataFile = "/nonexistent"
        c.provider = .file
        c.exclusions = Exclusions(interfaces: excluding)
        var agent = Agent(config: c)
        agent.solicitRouter = solicitRouter
        let d = Daemon(agent: agent, settings: DaemonSettings(), logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() },
                       notifier: SystemdNotifier(environment: [:]))
        return Loop(daemon: d, links: links)
    }

    struct NoInputs: LoopInputs {
        func wait(until deadline: ContinuousClock.Instant) -> Input { Input() }
    }

    /// While an ENI's IPv6 waits for its router, a router solicitation goes out on its link at
    /// once, then every 4 s for three in all, then once per resync interval; none once it stops
    /// waiting. The next one is a deadline of the loop.
    func testRouterSolicitationsWhileAnENIAwaitsItsRouter() {
        let eth1 = Link(index: 3, name: "eth1", mac: mac("52:54:00:00:02:0a"), isUp: true)
        final class Sent: @unchecked Sendable { var links: [String] = [] }
        let sent = Sent()
        var l = loop([eth1]) { sent.links.append($0.name) }
        let t0 = ContinuousClock.now
        l.followRouters(NoInputs(), at: t0)
        XCTAssertEqual(sent.links, [], "no ENI waits")
        l.awaitingRouter = ["eth1"]
        let at: [(Duration, Int)] = [(.zero, 1), (.seconds(1), 1), (.seconds(4), 2), (.seconds(8), 3), (.seconds(12), 3), (.seconds(37), 3), (.seconds(38), 4)]
        for (offset, count) in at {
            l.followRouters(NoInputs(), at: t0 + offset)
            XCTAssertEqual(sent.links.count, count, "at \(offset)")
        }
        XCTAssertEqual(Set(sent.links), ["eth1"])
        XCTAssertLessThanOrEqual(l.wakeAt, t0 + .seconds(38 + 30))
        l.awaitingRouter = []
        l.followRouters(NoInputs(), at: t0 + .seconds(100))
        XCTAssertEqual(sent.links.count, 4)
        XCTAssertTrue(l.solicitations.isEmpty)
    }
    func mac(_ s: String) -> MACAddress { try! MACAddress(s) }
    func event(_ kind: LinkEvents.Kind, _ l: Link) -> LinkEvents { LinkEvents(events: [.init(kind: kind, link: l)]) }

    func testANewCandidateLinkIsAwaitedAndCallsForAPass() {
        let eth0 = Link(index: 2, name: "eth0", mac: mac("52:54:00:00:01:0a"), isUp: true)
        var l = loop([eth0])
        let eth1 = Link(index: 3, name: "eth1", mac: mac("52:54:00:00:02:0a"), isUp: false, kind: "veth")
        XCTAssertEqual(l.handle(event(.new, eth1)), ["eth1 attached"])
        XCTAssertEqual(l.watches[eth1.mac!]?.phase, .attaching)
        // Its flags change (the pass's own `link up`): no pass.
        var up = eth1
        up.isUp = true
        XCTAssertEqual(l.handle(event(.new, up)), [])
        // Renamed (udev): a pass.
        var renamed = up
        renamed.name = "ens6"
        XCTAssertEqual(l.handle(event(.new, renamed)), ["eth1 changed"])
        XCTAssertEqual(l.watches[eth1.mac!]?.name, "ens6")
        // Gone: a pass, and the metadata is polled until it drops the ENI.
        XCTAssertEqual(l.handle(event(.deleted, renamed)), ["ens6 detached"])
        XCTAssertEqual(l.watches[eth1.mac!]?.phase, .detaching)
    }

    /// Taking a link down drops the routes through it: its coming back up calls for a pass,
    /// unless the last pass brought it up itself.
    func testALinkComingBackUpCallsForAPass() {
        let eth1 = Link(index: 3, name: "eth1", mac: mac("52:54:00:00:02:0a"), isUp: true, hasCarrier: true)
        var l = loop([eth1])
        var down = eth1
        down.isUp = false
        down.hasCarrier = false
        XCTAssertEqual(l.handle(event(.new, down)), [])
        // Up without carrier yet, then carrier: one pass, when it runs again.
        var upNoCarrier = down
        upNoCarrier.isUp = true
        XCTAssertEqual(l.handle(event(.new, upNoCarrier)), [])
        XCTAssertEqual(l.handle(event(.new, eth1)), ["eth1 came up"])
        // The pass's own `link up`: no pass.
        XCTAssertEqual(l.handle(event(.new, down)), [])
        l.raisedByPass = ["eth1"]
        XCTAssertEqual(l.handle(event(.new, eth1)), [])
        XCTAssertEqual(l.handle(event(.new, down)), [])
        XCTAssertEqual(l.handle(event(.new, eth1)), ["eth1 came up"])
        // A link that cannot be an ENI: nothing.
        let br = Link(index: 4, name: "br0", mac: mac("52:54:00:00:09:0a"), isUp: false, kind: "bridge")
        var lb = loop([br])
        var brUp = br
        brUp.isUp = true
        brUp.hasCarrier = true
        XCTAssertEqual(lb.handle(event(.new, brUp)), [])
    }

    /// Addresses, routes and rules: the agent's own removed by another program call for a
    /// restore; the removals of its own last pass, its additions and other programs' objects
    /// elsewhere do not.
    func testObjectsRemovedByAnotherProgramCallForARestore() throws {
        let eth1 = Link(index: 3, name: "eth1", mac: mac("52:54:00:00:02:0a"), isUp: true)
        let br = Link(index: 4, name: "br0", mac: mac("52:54:00:00:09:0a"), isUp: true, kind: "bridge")
        var l = loop([eth1, br])
        let rule = Rule(priority: 10001, source: try IPv4Prefix("10.0.2.10/32"), table: 10001, proto: 234)
        let route = Route(table: 10001, destination: try IPv4Prefix("10.0.2.0/24"), device: nil, scope: .link, proto: 234)
        let address = InterfaceAddress(address: try IPv4Address("10.0.2.11"), prefixLength: 24, device: "")
        func ev(_ kind: LinkEvents.Kind, _ c: LinkEvents.Change) -> LinkEvents.ObjectEvent { .init(kind: kind, change: c) }
        XCTAssertEqual(l.handleObjects([ev(.deleted, .rule(rule))]), ["rule \(rule) removed"])
        XCTAssertEqual(l.handleObjects([ev(.deleted, .route(route, link: 3))]), ["route in table 10001 removed"])
        XCTAssertEqual(l.handleObjects([ev(.deleted, .address(address, link: 3))]), ["10.0.2.11/24 removed from eth1"])
        // Its own additions, others' rules and routes elsewhere, addresses of links that are not ENIs.
        var foreign = rule
        foreign.proto = 3
        var mainRoute = route
        mainRoute.proto = 3
        mainRoute.table = 254
        XCTAssertEqual(l.handleObjects([ev(.new, .rule(rule)), ev(.new, .route(route, link: 3)), ev(.new, .address(address, link: 3)),
                                        ev(.deleted, .rule(foreign)), ev(.deleted, .route(mainRoute, link: 3)),
                                        ev(.new, .route(mainRoute, link: 3)), ev(.deleted, .address(address, link: 4))]), [])
        // What the last pass removed itself: once.
        l.removedByPass = [Loop.key(.rule(rule)), Loop.key(.address(address, link: 0))]
        XCTAssertEqual(l.handleObjects([ev(.deleted, .rule(rule)), ev(.deleted, .address(address, link: 3))]), [])
        XCTAssertEqual(l.handleObjects([ev(.deleted, .rule(rule))]).count, 1)
        // Another program's route in the agent's tables: a pass (a conflict to report).
        var inTable = route
        inTable.proto = 4
        XCTAssertEqual(l.handleObjects([ev(.new, .route(inTable, link: 3))]), ["a route of another program in table 10001"])
        // A default route in the main table through an ENI (DHCP on it): a pass. Not through the
        // primary ENI, nor a link that cannot be an ENI, nor the agent's own.
        let eth0 = Link(index: 2, name: "eth0", mac: mac("52:54:00:00:01:0a"), isUp: true)
        l = loop([eth0, eth1, br])
        l.lastInstance = try Instance(primaryMAC: mac("52:54:00:00:01:0a"), enis: [], unknown: [mac("52:54:00:00:01:0a"): .pending("t")])
        var dhcpDefault = Route(table: 254, destination: .any, gateway: try IPv4Address("10.0.2.1"), device: nil, proto: 16)
        XCTAssertEqual(l.handleObjects([ev(.new, .route(dhcpDefault, link: 3))]), ["a default route in the main table through eth1"])
        XCTAssertEqual(l.handleObjects([ev(.new, .route(dhcpDefault, link: 2)), ev(.new, .route(dhcpDefault, link: 4)),
                                        ev(.deleted, .route(dhcpDefault, link: 3))]), [])
        dhcpDefault.proto = 234
        XCTAssertEqual(l.handleObjects([ev(.new, .route(dhcpDefault, link: 3))]), [])
    }

    /// IPv6: the agent's IPv6 rules and routes removed call for a restore as IPv4 ones do (an IPv6
    /// rule and an IPv4 rule of the same priority and table are two objects); a default route that
    /// a router advertisement put in the main table through an ENI calls for a pass; a router
    /// learned on an ENI's link calls for one only while that ENI's IPv6 waits for it.
    func testIPv6ObjectsAndRouters() throws {
        let eth1 = Link(index: 3, name: "eth1", mac: mac("52:54:00:00:02:0a"), isUp: true)
        var l = loop([eth1])
        func ev(_ kind: LinkEvents.Kind, _ c: LinkEvents.Change) -> LinkEvents.ObjectEvent { .init(kind: kind, change: c) }
        let rule6 = Rule(priority: 10001, source: .v6(try IPv6Prefix("2001:db8:2::a/128")), table: 10001, proto: 234)
        let route6 = Route(table: 10001, destination: .any(.v6), gateway: .v6(try IPv6Address("fe80::1")), device: nil, proto: 234)
        XCTAssertEqual(l.handleObjects([ev(.deleted, .rule(rule6)), ev(.deleted, .route(route6, link: 3))]),
                       ["rule \(rule6) removed", "route in table 10001 removed"])
        let all4 = Rule(priority: 10001, source: nil, family: .v4, table: 10001, proto: 234)
        var all6 = all4
        all6.family = .v6
        l.removedByPass = [Loop.key(.rule(all4))]
        XCTAssertEqual(l.handleObjects([ev(.deleted, .rule(all6))]).count, 1, "the IPv4 rule's removal is not the IPv6 one's")
        var advertised = route6
        advertised.table = 254
        advertised.proto = 9
        XCTAssertEqual(l.handleObjects([ev(.new, .route(advertised, link: 3))]), ["a default route in the main table through eth1"])
        let router = LinkEvents.Change.router(try IPv6Address("fe80::1"), link: 3)
        XCTAssertEqual(l.handleObjects([ev(.new, router)]), [])
        l.awaitingRouter = ["eth1"]
        XCTAssertEqual(l.handleObjects([ev(.new, router)]), ["IPv6 router fe80::1 announced on eth1"])
    }

    /// A condition is logged once while it lasts, whatever the milliseconds in its text (curl's
    /// "after 0 ms" / "after 1 ms" made one failure three lines).
    func testConditionsThatDifferOnlyInMillisecondsAreLoggedOnce() {
        let a = "pass failed: GET http://169.254.0.23/latest/meta-data/mac: connection failed (Failed to connect to 169.254.0.23 port 80 after 0 ms: Couldn't connect to server)"
        let b = a.replacingOccurrences(of: "after 0 ms", with: "after 1 ms")
        var r = Loop.Reported()
        let logger = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        r.once(.error, a, in: \.passFailures, logger)
        r.once(.error, b, in: \.passFailures, logger)
        XCTAssertEqual(r.passFailures.count, 1)
        r.once(.error, a.replacingOccurrences(of: "169.254.0.23", with: "169.254.169.254"), in: \.passFailures, logger)
        XCTAssertEqual(r.passFailures.count, 2, "another condition")
    }

    func testLinksThatCannotBeENIsAreIgnored() {
        var l = loop([], excluding: ["docker*"])
        let bridge = Link(index: 4, name: "br0", mac: mac("52:54:00:00:09:0a"), isUp: true, kind: "bridge")
        let docker = Link(index: 5, name: "docker0", mac: mac("52:54:00:00:09:0b"), isUp: true)
        let enslaved = Link(index: 6, name: "eth5", mac: mac("52:54:00:00:09:0c"), isUp: true, master: 4)
        let noMAC = Link(index: 7, name: "tun0", mac: nil, isUp: true)
        for x in [bridge, docker, enslaved, noMAC] {
            XCTAssertEqual(l.handle(event(.new, x)), [], x.name)
            XCTAssertEqual(l.handle(event(.deleted, x)), [], x.name)
        }
        XCTAssertTrue(l.watches.watches.isEmpty)
    }

    func testColdAttachedLinksAreAwaitedFromTheStart() {
        let l = loop([Link(index: 2, name: "eth0", mac: mac("52:54:00:00:01:0a"), isUp: true),
                      Link(index: 3, name: "veth9", mac: mac("52:54:00:00:01:0b"), isUp: true, kind: "veth")],
                     excluding: ["veth*"])
        XCTAssertEqual(Set(l.watches.attaching.map(\.name)), ["eth0"])
    }
}

/// The per-ENI state machine: links and pass results in, polls and reports out.
final class ENIWatchTests: XCTestCase {
    let mac = try! MACAddress("52:54:00:00:02:0a")
    let t0 = ContinuousClock.now
    let design = InterfaceDesign(name: "eth1", role: .secondary,
                                 eni: try! ENI(mac: MACAddress("52:54:00:00:02:0a"), primaryIP: IPv4Address("10.0.2.10"), secondaryIPs: [],
                                               subnet: IPv4Prefix("10.0.2.0/24"), gateway: IPv4Address("10.0.2.1")),
                                 table: 10001, priority: 10001, proto: 234)
    func status(_ s: ENIStatus.State) -> [ENIStatus] { [ENIStatus(mac: mac, state: s)] }
    func step(_ n: Int) -> Duration { .milliseconds(250 * n) }

    func testAnAttachIsPolledUntilDescribedThenReportedOnce() {
        var w = ENIWatches(deadline: .seconds(60))
        w.appeared(mac, name: "eth1", at: t0)
        XCTAssertEqual(w.due(at: t0).attaching, ["eth1"])
        var r = w.passed(status(.unknown(.pending("not listed yet"))), names: [mac: "eth1"], at: t0 + .seconds(1), backoff: step)
        XCTAssertEqual(r.reports, [])
        XCTAssertEqual(r.quiet, [mac], "pending within the deadline: nothing said")
        XCTAssertEqual(w[mac]?.next, t0 + .seconds(1) + .milliseconds(250), "polled again after the backoff")
        XCTAssertEqual(w.due(at: t0 + .seconds(1)).attaching, [], "not before its poll")
        r = w.passed(status(.managed(design)), names: [mac: "eth1"], at: t0 + .seconds(2), backoff: step)
        XCTAssertEqual(r.reports, [.configured(name: "eth1", mac: mac, after: .seconds(2))])
        XCTAssertNil(w[mac], "configured: nothing left to wait for")
        XCTAssertNil(w.nextPoll)
    }

    /// An ENI whose IPv6 leaves lag the others (pending) is configured, and said so, for its IPv4,
    /// and polled on until its IPv6 is described (until the deadline); an IPv6-only one is said
    /// configured only then.
    func testAnENIWhoseIPv6LagsIsPolledOn() throws {
        var lagging = design
        lagging.eni.ipv6Unknown = .pending("http://x/ipv6s lists no address")
        var w = ENIWatches(deadline: .seconds(60))
        w.appeared(mac, name: "eth1", at: t0)
        var r = w.passed(status(.managed(lagging)), names: [mac: "eth1"], at: t0 + .seconds(1), backoff: step)
        XCTAssertEqual(r.reports, [.configured(name: "eth1", mac: mac, after: .seconds(1))])
        XCTAssertEqual(w[mac]?.next, t0 + .seconds(1) + .milliseconds(250), "polled again for its IPv6")
        r = w.passed(status(.managed(lagging)), names: [mac: "eth1"], at: t0 + .seconds(2), backoff: step)
        XCTAssertEqual(r.reports, [], "said once")
        _ = w.passed(status(.managed(design)), names: [mac: "eth1"], at: t0 + .seconds(3), backoff: step)
        XCTAssertNil(w[mac], "its IPv6 described: nothing left to wait for")
        // Past the deadline: left to the resyncs.
        w.appeared(mac, name: "eth1", at: t0)
        _ = w.passed(status(.managed(lagging)), names: [mac: "eth1"], at: t0 + .seconds(61), backoff: step)
        XCTAssertNil(w[mac])
        // IPv6-only: nothing configured until its IPv6 is described.
        var only = lagging
        only.eni = try ENI(mac: mac, ipv4: nil, ipv6Unknown: .pending("http://x/ipv6s lists no address"))
        w.appeared(mac, name: "eth1", at: t0)
        r = w.passed(status(.managed(only)), names: [mac: "eth1"], at: t0 + .seconds(1), backoff: step)
        XCTAssertEqual(r.reports, [])
        XCTAssertNotNil(w[mac]?.next)
    }

    /// A link the plan does not mention (no metadata source waits for it) is not polled for ever:
    /// a poll due at every turn of the loop was a busy loop.
    func testALinkThePlanDoesNotMentionIsNotPolled() {
        var w = ENIWatches(deadline: .seconds(60))
        w.appeared(mac, name: "p0", at: t0)
        _ = w.passed([], names: [mac: "p0"], at: t0, backoff: step)
        XCTAssertNil(w[mac])
        XCTAssertNil(w.nextPoll)
    }

    func testPendingPastTheDeadlineIsLeftToTheResyncsAndReported() {
        var w = ENIWatches(deadline: .seconds(60))
        w.appeared(mac, name: "eth1", at: t0)
        let r = w.passed(status(.unknown(.pending("404"))), names: [mac: "eth1"], at: t0 + .seconds(61), backoff: step)
        XCTAssertEqual(r.quiet, [], "past the deadline: reported")
        XCTAssertEqual(w[mac]?.phase, .pending)
        XCTAssertNil(w.nextPoll, "no more polls: the resyncs look again")
        XCTAssertTrue(w.attaching.isEmpty, "READY=1 does not wait for it any more")
    }

    func testAnInvalidDescriptionIsReportedAtOnce() {
        var w = ENIWatches(deadline: .seconds(60))
        w.appeared(mac, name: "eth1", at: t0)
        let r = w.passed(status(.unknown(.invalid("bad mask"))), names: [mac: "eth1"], at: t0, backoff: step)
        XCTAssertEqual(r.quiet, [])
        XCTAssertNil(w[mac])
    }

    func testADetachIsPolledUntilTheMetadataDropsTheENI() {
        var w = ENIWatches(deadline: .seconds(60))
        w.departed(mac, name: "eth1", at: t0)
        XCTAssertEqual(w.due(at: t0).detaching, ["eth1"])
        _ = w.passed(status(.waiting), names: [:], at: t0, backoff: step)
        XCTAssertEqual(w[mac]?.phase, .detaching, "still listed: polled again")
        XCTAssertNotNil(w.nextPoll)
        _ = w.passed([], names: [:], at: t0 + .seconds(1), backoff: step)
        XCTAssertNil(w[mac], "no longer listed: done")
    }

    /// The metadata caught dropping the detached ENI (listed, its leaves 404: pending): polled
    /// again soon, quietly, not left to the resync (seen in the VM lab: the files went 30 s late).
    func testADetachCaughtWhileTheMetadataDropsItIsPolledAgain() {
        var w = ENIWatches(deadline: .seconds(60))
        w.departed(mac, name: "eth1", at: t0)
        let r = w.passed(status(.unknown(.pending("404"))), names: [mac: "eth1"], at: t0, backoff: step)
        XCTAssertEqual(r.quiet, [mac])
        XCTAssertEqual(w[mac]?.phase, .detaching)
        XCTAssertNotNil(w.nextPoll)
        _ = w.passed([], names: [:], at: t0 + .seconds(1), backoff: step)
        XCTAssertNil(w[mac], "no longer listed: done")
    }

    func testAPresentENIThatTurnsPendingIsQuietUntilTheDeadline() {
        var w = ENIWatches(deadline: .seconds(60))
        var r = w.passed(status(.unknown(.pending("404"))), names: [mac: "eth1"], at: t0, backoff: step)
        XCTAssertEqual(r.quiet, [mac])
        XCTAssertEqual(w[mac]?.phase, .pending)
        r = w.passed(status(.unknown(.pending("404"))), names: [mac: "eth1"], at: t0 + .seconds(60), backoff: step)
        XCTAssertEqual(r.quiet, [], "pending for the whole deadline: reported")
        _ = w.passed(status(.managed(design)), names: [mac: "eth1"], at: t0 + .seconds(90), backoff: step)
        XCTAssertNil(w[mac])
    }

    func testAFailedPassPostponesThePolls() {
        var w = ENIWatches(deadline: .seconds(60))
        w.appeared(mac, name: "eth1", at: t0)
        w.postpone(until: t0 + .seconds(4))
        XCTAssertEqual(w.nextPoll, t0 + .seconds(4))
        XCTAssertEqual(w.due(at: t0 + .seconds(1)).attaching, [])
    }
}

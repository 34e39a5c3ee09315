import ENIApply
import ENIAgent
import ENIModel
import ENINetlink
@testable import ENIPlanner
import Foundation
import XCTest

/// Runs a command (test set-up only: the product never spawns `ip`); fails the test on error.
@discardableResult
func sh(_ args: String..., file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let p = Process()
    p.executableURL = URL(filePath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw FixtureFailure(description: "\(args.joined(separator: " ")): exit \(p.terminationStatus): \(String(decoding: e, as: UTF8.self))")
    }
    return String(decoding: o, as: UTF8.self)
}

struct FixtureFailure: Error, CustomStringConvertible { var description: String }

/// A throwaway network namespace with one veth pair (`eth1` / `peer1`), deleted afterwards.
class NamespaceTestCase: XCTestCase {
    var ns = ""
    nonisolated(unsafe) static var counter = 0

    override func setUpWithError() throws {
        guard getuid() == 0 else {
            print("SKIP \(name): needs root to create network namespaces")
            throw XCTSkip("needs root to create network namespaces")
        }
        Self.counter += 1
        ns = "eni-ut-\(getpid())-\(Self.counter)"
        try sh("ip", "netns", "add", ns)
        try sh("ip", "-n", ns, "link", "add", "eth1", "address", "52:54:00:00:02:0a", "type", "veth", "peer", "name", "peer1")
        try sh("ip", "-n", ns, "link", "set", "peer1", "up")
    }

    override func tearDownWithError() throws {
        if !ns.isEmpty { _ = try? sh("ip", "netns", "del", ns) }
    }
}

final class NetlinkTests: NamespaceTestCase {
    func testDumpsLinksWithMACAndState() throws {
        let nl = try Netlink(namespace: "/run/netns/\(ns)")
        let links = try nl.links()
        let eth1 = try XCTUnwrap(links.first { $0.name == "eth1" })
        XCTAssertEqual(eth1.mac, try MACAddress("52:54:00:00:02:0A"))
        XCTAssertFalse(eth1.isUp)
        XCTAssertEqual(eth1.kind, "veth")
        XCTAssertNil(links.first { $0.name == "lo" }?.mac, "all-zero MAC is no MAC")
    }

    func testAddressRouteRuleRoundTripWithProtocol() throws {
        let nl = try Netlink(namespace: "/run/netns/\(ns)")
        let addr = InterfaceAddress(address: try IPv4Address("10.0.2.10"), prefixLength: 24, device: "eth1")
        let subnet = Route(table: 10001, destination: try IPv4Prefix("10.0.2.0/24"), device: "eth1", scope: .link, proto: 234)
        let dflt = Route(table: 10001, destination: .any, gateway: try IPv4Address("10.0.2.1"), device: "eth1", proto: 234)
        let rule = Rule(priority: 10001, source: try IPv4Prefix("10.0.2.10/32"), table: 10001, proto: 234)
        try nl.setUp("eth1")
        try nl.add(addr)
        try nl.add(subnet)
        try nl.add(dflt)
        try nl.add(rule)
        XCTAssertEqual(nl.writes, 5)
        XCTAssertTrue(try nl.links().first { $0.name == "eth1" }!.isUp)
        XCTAssertTrue(try nl.addresses().contains { $0.sameAs(addr) })
        let routes = try nl.routes()
        XCTAssertTrue(routes.contains(subnet), "\(routes)")
        XCTAssertTrue(routes.contains(dflt), "\(routes)")
        XCTAssertTrue(try nl.rules().contains(rule))
        // What `ip` shows agrees.
        XCTAssertTrue(try sh("ip", "-n", ns, "rule").contains("from 10.0.2.10 lookup 10001 proto 234"))
        XCTAssertTrue(try sh("ip", "-n", ns, "route", "show", "table", "10001").contains("default via 10.0.2.1 dev eth1 proto 234"))

        try nl.remove(rule)
        try nl.remove(dflt)
        try nl.remove(subnet)
        try nl.remove(addr)
        XCTAssertFalse(try nl.rules().contains(rule))
        XCTAssertFalse(try nl.routes().contains { $0.table == 10001 })
        XCTAssertFalse(try nl.addresses().contains { $0.sameAs(addr) })
    }

    /// IPv6: an address added without duplicate address detection (usable at once), a link-local
    /// default route and the on-link subnet in a table, a `from ADDR` rule; read back as written,
    /// beside the IPv4 ones, and removed.
    func testIPv6AddressRouteRuleRoundTrip() throws {
        let nl = try Netlink(namespace: "/run/netns/\(ns)")
        try nl.setUp("eth1")
        let addr = InterfaceAddress(address: try IPv6Address("2001:db8:2::a"), prefixLength: 128, device: "eth1")
        let subnet = Route(table: 10001, destination: .v6(try IPv6Prefix("2001:db8:2::/64")), device: "eth1", proto: 234)
        let dflt = Route(table: 10001, destination: .any(.v6), gateway: .v6(try IPv6Address("fe80::1")), device: "eth1", proto: 234)
        let rule = Rule(priority: 10001, source: .v6(try IPv6Prefix("2001:db8:2::a/128")), table: 10001, proto: 234)
        let rule4 = Rule(priority: 10001, source: try IPv4Prefix("10.0.2.10/32"), table: 10001, proto: 234)
        try nl.add(addr)
        try nl.add(subnet)
        try nl.add(dflt)
        try nl.add(rule)
        try nl.add(rule4)
        let read = try XCTUnwrap(try nl.addresses().first { $0.sameAs(addr) })
        XCTAssertFalse(read.isTentative, "added with nodad: usable at once")
        XCTAssertTrue(try sh("ip", "-n", ns, "-6", "addr", "show", "eth1").contains("inet6 2001:db8:2::a/128 scope global nodad noprefixroute"))
        let routes = try nl.routes()
        XCTAssertTrue(routes.contains(subnet), "\(routes)")
        XCTAssertTrue(routes.contains(dflt), "\(routes)")
        XCTAssertTrue(routes.contains(Route(table: 254, destination: .v6(try IPv6Prefix("fe80::/64")), device: "eth1", proto: 2, metric: 256)),
                      "the kernel's own IPv6 routes are read too: \(routes)")
        let rules = try nl.rules()
        XCTAssertTrue(rules.contains(rule) && rules.contains(rule4), "\(rules)")
        XCTAssertTrue(rules.contains(Rule(priority: 32766, source: nil, family: .v6, table: 254, proto: 2)), "\(rules)")
        XCTAssertTrue(try sh("ip", "-n", ns, "-6", "rule").contains("from 2001:db8:2::a lookup 10001 proto 234"))
        XCTAssertTrue(try sh("ip", "-n", ns, "-6", "route", "show", "table", "10001").contains("default via fe80::1 dev eth1 proto 234 metric 1024"))

        try nl.remove(rule)
        try nl.remove(dflt)
        try nl.remove(subnet)
        try nl.remove(addr)
        XCTAssertEqual(try nl.rules().filter { $0.table == 10001 }, [rule4])
        XCTAssertFalse(try nl.routes().contains { $0.table == 10001 })
        XCTAssertFalse(try nl.addresses().contains { $0.sameAs(addr) })
    }

    /// An address added by someone else while duplicate address detection runs is tentative; a
    /// neighbour with the router flag is a router on its link.
    func testTentativeAddressesAndRouterNeighbours() throws {
        let nl = try Netlink(namespace: "/run/netns/\(ns)")
        try sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth1.dad_transmits=60")
        try sh("ip", "-n", ns, "link", "set", "eth1", "up")
        try sh("ip", "-n", ns, "addr", "add", "2001:db8:2::b/128", "dev", "eth1")
        try sh("ip", "-n", ns, "-6", "neigh", "add", "fe80::2:1", "lladdr", "52:54:00:00:00:01", "dev", "eth1", "router")
        try sh("ip", "-n", ns, "-6", "neigh", "add", "fe80::2:2", "lladdr", "52:54:00:00:00:02", "dev", "eth1")
        let b = try XCTUnwrap(try nl.addresses().first { $0.address == .v6(try IPv6Address("2001:db8:2::b")) })
        XCTAssertTrue(b.isTentative, "2001:db8:2::b is in duplicate address detection for 60 s")
        XCTAssertEqual(try nl.routers(), [IPv6Router(device: "eth1", address: try IPv6Address("fe80::2:1"))])
    }

    /// A link that goes away during a pass (a detach racing it) skips its remaining changes; it is
    /// not a failure, and other interfaces go ahead.
    func testALinkGoneDuringThePassIsSkippedNotFailed() throws {
        let machine = Machine(kernel: try Netlink(namespace: "/run/netns/\(ns)"),
                              files: FileStore(root: FileManager.default.temporaryDirectory.appending(path: "eni-ut-\(getpid())").path))
        let gone = InterfaceAddress(address: try IPv4Address("10.0.9.10"), prefixLength: 24, device: "eth9")
        let here = InterfaceAddress(address: try IPv4Address("10.0.2.10"), prefixLength: 24, device: "eth1")
        let rule = Rule(priority: 10009, source: try IPv4Prefix("10.0.9.10/32"), table: 10009, proto: 234)
        let plan = Plan(actions: [Action(.addAddress(gone), interface: "eth9", reason: "test"),
                                  Action(.addRule(rule), interface: "eth9", reason: "test"),
                                  Action(.addAddress(here), interface: "eth1", reason: "test")],
                        problems: [], enis: [], design: NetworkDesign(interfaces: [], sysctls: []))
        let result = machine.apply(plan)
        XCTAssertTrue(result.failed.isEmpty, "\(result.failed)")
        XCTAssertEqual(result.outcomes.map(\.result), [.skipped("eth9 went away during the pass (add address 10.0.9.10/24 dev eth9: no such interface)"),
                                                     .skipped("eth9 went away during the pass"), .done])
        XCTAssertTrue(try sh("ip", "-n", ns, "addr", "show", "eth1").contains("10.0.2.10/24"))
    }

    /// A default route a router advertisement gave the main table is read with its protocol (ra).
    func testAnAdvertisedRouteIsReadWithItsProtocol() throws {
        try sh("ip", "-n", ns, "link", "set", "eth1", "up")
        try sh("ip", "-n", ns, "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth1", "proto", "ra")
        let routes = try Netlink(namespace: "/run/netns/\(ns)").routes().filter { $0.family == .v6 && $0.table == 254 }
        XCTAssertTrue(routes.contains(Route(table: 254, destination: .any(.v6), gateway: .v6(try IPv6Address("fe80::1")), device: "eth1", proto: 9)),
                      "\(routes)")
    }

    /// Two IPv6 routes with the same table, destination and metric through two links (the image's
    /// default route and one from an advertisement) are two routes, each with its link: libnl's
    /// route cache would have made them one route with two next hops.
    func testIPv6RoutesWithOneKeyAreReadApart() throws {
        try sh("ip", "-n", ns, "link", "add", "eth2", "type", "veth", "peer", "name", "peer2")
        try sh("ip", "-n", ns, "link", "set", "eth1", "up")
        try sh("ip", "-n", ns, "link", "set", "eth2", "up")
        try sh("ip", "-n", ns, "-6", "route", "add", "default", "via", "fe80::2", "dev", "eth2", "proto", "static")
        try sh("ip", "-n", ns, "-6", "route", "append", "default", "dev", "eth1", "proto", "ra")
        let defaults = try Netlink(namespace: "/run/netns/\(ns)").routes().filter { $0.family == .v6 && $0.destination.isDefault }
        XCTAssertEqual(Set(defaults), [
            Route(table: 254, destination: .any(.v6), gateway: .v6(try IPv6Address("fe80::2")), device: "eth2", proto: 4),
            Route(table: 254, destination: .any(.v6), device: "eth1", proto: 9),
        ])
    }

    func testForeignRuleIsReadWithItsProtocol() throws {
        try sh("ip", "-n", ns, "rule", "add", "from", "10.0.2.10", "lookup", "10001", "priority", "10001")
        try sh("ip", "-n", ns, "rule", "add", "fwmark", "0x1", "lookup", "10001", "priority", "10001", "protocol", "234")
        let rules = try Netlink(namespace: "/run/netns/\(ns)").rules().filter { $0.priority == 10001 }
        XCTAssertEqual(rules.count, 2)
        XCTAssertTrue(rules.contains { $0.proto != 234 && !$0.hasOtherSelectors && $0.source?.description == "10.0.2.10/32" })
        XCTAssertTrue(rules.contains { $0.proto == 234 && $0.hasOtherSelectors })
    }

    func testErrorsAreTypedAndNameTheObject() throws {
        let nl = try Netlink(namespace: "/run/netns/\(ns)")
        try nl.setUp("eth1")
        let addr = InterfaceAddress(address: try IPv4Address("10.0.2.10"), prefixLength: 24, device: "eth1")
        try nl.add(addr)
        XCTAssertThrowsError(try nl.add(addr)) { e in
            XCTAssertEqual((e as? NetlinkError)?.code, .exists)
            XCTAssertTrue("\(e)".hasPrefix("add address 10.0.2.10/24 dev eth1: "), "\(e)")
        }
        let r = Route(table: 10001, destination: .any, gateway: try IPv4Address("10.0.2.1"), device: "eth1", proto: 234)
        XCTAssertThrowsError(try nl.remove(r)) { e in
            XCTAssertEqual((e as? NetlinkError)?.code, .notFound, "\(e)")
            XCTAssertTrue("\(e)".hasPrefix("delete route default via 10.0.2.1 dev eth1 table 10001 proto 234: "), "\(e)")
        }
        XCTAssertThrowsError(try nl.add(InterfaceAddress(address: try IPv4Address("10.0.9.9"), prefixLength: 24, device: "eth9"))) { e in
            XCTAssertEqual("\(e)", "add address 10.0.9.9/24 dev eth9: no such interface")
        }
    }
}

final class LinkMonitorTests: NamespaceTestCase {
    /// The next batch: waits (poll, 10 s at most) until the socket is readable, then reads it.
    func next(_ m: LinkMonitor) -> LinkEvents? {
        var fd = pollfd(fd: m.fileDescriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&fd, 1, 10_000) == 1 else { return nil }
        return m.read()
    }

    /// Reads batches until `done` holds for what was collected, or gives up after `limit` batches
    /// or a batch that does not come within 10 s.
    func collect(_ m: LinkMonitor, limit: Int = 20, until done: ([LinkEvents.Event]) -> Bool) -> [LinkEvents.Event] {
        var all: [LinkEvents.Event] = []
        for _ in 0..<limit {
            guard let batch = next(m) else { break }
            all += batch.events
            if done(all) { break }
        }
        return all
    }

    /// With `objects`, IPv6 addresses and rules are reported as IPv4 ones are; routers only while
    /// `watchRouters` is on.
    func testReportsIPv6ObjectsAndRoutersWhileWatched() throws {
        let m = try LinkMonitor(namespace: "/run/netns/\(ns)", objects: true)
        func objects(until done: ([LinkEvents.ObjectEvent]) -> Bool) -> [LinkEvents.ObjectEvent] {
            var all: [LinkEvents.ObjectEvent] = []
            for _ in 0..<20 {
                guard let batch = next(m) else { break }
                all += batch.objects
                if done(all) { break }
            }
            return all
        }
        try sh("ip", "-n", ns, "link", "set", "eth1", "up")
        try sh("ip", "-n", ns, "-6", "rule", "add", "from", "2001:db8:2::a", "lookup", "10001", "priority", "10001", "protocol", "234")
        let rule = Rule(priority: 10001, source: .v6(try IPv6Prefix("2001:db8:2::a/128")), table: 10001, proto: 234)
        XCTAssertTrue(objects { $0.contains(.init(kind: .new, change: .rule(rule))) }.contains(.init(kind: .new, change: .rule(rule))))
        // Not watched: a router neighbour is no event; then watched: it is.
        try sh("ip", "-n", ns, "-6", "neigh", "add", "fe80::2:1", "lladdr", "52:54:00:00:00:01", "dev", "eth1", "router")
        try sh("ip", "-n", ns, "-6", "rule", "del", "from", "2001:db8:2::a", "lookup", "10001", "priority", "10001")
        let before = objects { $0.contains(.init(kind: .deleted, change: .rule(rule))) }
        XCTAssertFalse(before.contains { if case .router = $0.change { true } else { false } }, "\(before)")
        try m.watchRouters(true)
        XCTAssertTrue(m.watchesRouters)
        try sh("ip", "-n", ns, "-6", "neigh", "add", "fe80::2:2", "lladdr", "52:54:00:00:00:02", "dev", "eth1", "router")
        let eth1 = try XCTUnwrap(try Netlink(namespace: "/run/netns/\(ns)").links().first { $0.name == "eth1" })
        let router = LinkEvents.ObjectEvent(kind: .new, change: .router(try IPv6Address("fe80::2:2"), link: eth1.index))
        XCTAssertTrue(objects { $0.contains(router) }.contains(router))
        try m.watchRouters(false)
        XCTAssertFalse(m.watchesRouters)
    }

    func testReportsLinksAddedRenamedAndDeleted() throws {
        let m = try LinkMonitor(namespace: "/run/netns/\(ns)")
        try sh("ip", "-n", ns, "link", "add", "eth2", "address", "52:54:00:00:03:0a", "type", "veth", "peer", "name", "peer2")
        var seen = collect(m) { $0.contains { $0.kind == .new && $0.link.name == "eth2" } }
        let eth2 = try XCTUnwrap(seen.first { $0.kind == .new && $0.link.name == "eth2" }?.link)
        XCTAssertEqual(eth2.mac, try MACAddress("52:54:00:00:03:0a"))
        XCTAssertEqual(eth2.kind, "veth")

        try sh("ip", "-n", ns, "link", "set", "eth2", "name", "ens6")
        seen = collect(m) { $0.contains { $0.kind == .new && $0.link.name == "ens6" } }
        XCTAssertEqual(seen.first { $0.link.name == "ens6" }?.link.index, eth2.index, "a rename keeps the index")

        try sh("ip", "-n", ns, "link", "del", "ens6")
        seen = collect(m) { $0.contains { $0.kind == .deleted && $0.link.index == eth2.index } }
        XCTAssertTrue(seen.contains { $0.kind == .deleted && $0.link.index == eth2.index && $0.link.mac == eth2.mac })
    }

    func testALinkMovedInIsNewAndMovedOutIsDeleted() throws {
        let other = ns + "-x"
        try sh("ip", "netns", "add", other)
        defer { _ = try? sh("ip", "netns", "del", other) }
        try sh("ip", "-n", other, "link", "add", "eth3", "address", "52:54:00:00:04:0a", "type", "veth", "peer", "name", "peer3")
        let m = try LinkMonitor(namespace: "/run/netns/\(ns)")
        try sh("ip", "-n", other, "link", "set", "eth3", "netns", ns)
        var seen = collect(m) { $0.contains { $0.kind == .new && $0.link.name == "eth3" } }
        XCTAssertEqual(seen.first { $0.link.name == "eth3" }?.link.mac, try MACAddress("52:54:00:00:04:0a"))
        try sh("ip", "-n", ns, "link", "set", "eth3", "netns", other)
        seen = collect(m) { $0.contains { $0.kind == .deleted && $0.link.name == "eth3" } }
        XCTAssertTrue(seen.contains { $0.kind == .deleted && $0.link.name == "eth3" })
    }

    /// A receive buffer too small for the burst: the kernel drops notifications and the monitor
    /// says so (the daemon then reads everything again), instead of losing them silently.
    func testOverrunIsReported() throws {
        let m = try LinkMonitor(namespace: "/run/netns/\(ns)", receiveBuffer: 1)
        var batch = ""
        for i in 0..<100 { batch += "link add d\(i) type veth peer name p\(i)\n" }
        let f = FileManager.default.temporaryDirectory.appending(path: "eni-batch-\(getpid())")
        try Data(batch.utf8).write(to: f)
        defer { try? FileManager.default.removeItem(at: f) }
        try sh("ip", "-n", ns, "-batch", f.path)
        let b = try XCTUnwrap(next(m))
        XCTAssertTrue(b.overrun, "200 links added with a minimal receive buffer: \(b.events.count) events read, no overrun reported")
    }

    /// The socket never blocks: with nothing queued, a read returns an empty batch at once.
    func testReadWithNothingQueuedReturnsAnEmptyBatch() throws {
        let m = try LinkMonitor(namespace: "/run/netns/\(ns)")
        XCTAssertEqual(m.read(), LinkEvents())
    }
}

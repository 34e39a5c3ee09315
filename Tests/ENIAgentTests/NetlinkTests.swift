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

import ENIModel
import ENIPlanner
import XCTest

/// A secondary ENI's IPv6: its addresses, rules and table routes, the router from the metadata or
/// from router advertisements, the per-ENI sysctls, and what is held when its IPv6 is not known.
final class IPv6PlanTests: XCTestCase {
    let renderer = TestRenderer()
    let primaryMAC = try! MACAddress("52:54:00:00:01:0a")
    let mac = try! MACAddress("52:54:00:00:02:0a")
    let mac3 = try! MACAddress("52:54:00:00:03:0a")
    let subnet6 = try! IPv6Prefix("2001:db8:2::/64")

    func ip6(_ s: String) -> IPv6Address { try! IPv6Address(s) }

    func eni(_ n: UInt8, v6: [String]? = nil, gateway6: String? = nil, unknown: Undescribed? = nil) throws -> ENI {
        let v6 = try v6.map { try ENIIPv6(addresses: $0.map(ip6), subnet: subnet6, gateway: gateway6.map(ip6), name: "ENI") }
        return try ENI(mac: MACAddress(bytes: [0x52, 0x54, 0, 0, n, 0x0a]), primaryIP: IPv4Address("10.0.\(n).10"),
                       subnet: IPv4Prefix("10.0.\(n).0/24"), gateway: IPv4Address("10.0.\(n).1"), ipv6: v6, ipv6Unknown: unknown)
    }

    func instance(_ secondaries: ENI...) throws -> Instance {
        try Instance(primaryMAC: primaryMAC, enis: [try eni(1, v6: ["2001:db8:2::1:10"], gateway6: "fe80::1")] + secondaries)
    }

    /// eth0 (primary, up, with IPv6 from the image), eth1 and eth2 down.
    var machine: ObservedState {
        ObservedState(
            links: [Link(index: 1, name: "eth0", mac: primaryMAC, isUp: true), Link(index: 2, name: "eth1", mac: mac, isUp: false),
                    Link(index: 3, name: "eth2", mac: mac3, isUp: false)],
            addresses: [InterfaceAddress(address: try! IPv4Address("10.0.1.10"), prefixLength: 24, device: "eth0"),
                        InterfaceAddress(address: ip6("2001:db8:2::1:10"), prefixLength: 128, device: "eth0"),
                        InterfaceAddress(address: ip6("fe80::5054:ff:fe00:10a"), prefixLength: 64, device: "eth0")],
            routes: [Route(table: 254, destination: .any(.v6), gateway: .v6(ip6("fe80::1")), device: "eth0", proto: 9),
                     Route(table: 254, destination: .v6(subnet6), device: "eth0", proto: 9)])
    }

    func plan(_ i: Instance, _ s: ObservedState) -> Plan {
        Planner.plan(desired: i, observed: s, config: PlannerConfig(), renderer: renderer)
    }

    /// Applies the plan and checks that planning again changes nothing.
    func converge(_ i: Instance, _ s: ObservedState, file: StaticString = #filePath, line: UInt = #line) -> ObservedState {
        let after = simulate(plan(i, s), on: s)
        XCTAssertEqual(plan(i, after).actions.map(\.change.command), [], file: file, line: line)
        return after
    }

    /// eth1's IPv6 settings, then its link up: how a secondary ENI's IPv6 begins.
    let eth1SettingsThenUp = SysctlSetting.ipv6ENILeaves.map { "[eth1] + sysctl -w net.ipv6.conf.eth1.\($0.leaf)=\($0.value)" }
        + ["[eth1] + ip link set dev eth1 up"]

    func kernelChanges(_ p: Plan) -> [String] { p.actions.filter { !$0.change.isFile }.map { "[\($0.interface ?? "-")] \($0.change.command)" } }

    func testDualStackWithTheMetadatasGateway() throws {
        let i = try instance(try eni(2, v6: ["2001:db8:2::b", "2001:DB8:2::a"], gateway6: "fe80::1"))
        let p = plan(i, machine)
        XCTAssertEqual(kernelChanges(p), eth1SettingsThenUp + [
            "[eth1] + ip addr add 10.0.2.10/24 dev eth1",
            "[eth1] + ip -6 addr add 2001:db8:2::a/128 dev eth1",
            "[eth1] + ip -6 addr add 2001:db8:2::b/128 dev eth1",
            "[eth1] + ip route add 10.0.2.0/24 dev eth1 scope link table 10001 proto 234",
            "[eth1] + ip route add default via 10.0.2.1 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 route add 2001:db8:2::/64 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 route add default via fe80::1 dev eth1 table 10001 proto 234",
            "[eth1] + ip rule add from 10.0.2.10 lookup 10001 priority 10001 protocol 234",
            "[eth1] + ip -6 rule add from 2001:db8:2::a lookup 10001 priority 10001 protocol 234",
            "[eth1] + ip -6 rule add from 2001:db8:2::b lookup 10001 priority 10001 protocol 234",
            "[eth1] + sysctl -w net.ipv4.conf.eth1.rp_filter=2",
        ])
        XCTAssertEqual(p.problems, [])
        // The primary's IPv6 and the main table's routes from its router advertisements are the image's.
        XCTAssertFalse(p.actions.contains { $0.interface == "eth0" })
        let after = converge(i, machine)
        XCTAssertEqual(after.rules.filter { $0.family == .v6 }.count, 2)
    }

    /// AWS: no gateway leaf. Until the kernel knows a router on the link, the ENI's IPv6 waits
    /// (its settings are made, so that the advertisement adds nothing to the main table); its IPv4
    /// does not wait.
    func testTheRouterComesFromRouterAdvertisements() throws {
        let i = try instance(try eni(2, v6: ["2001:db8:2::a"]))
        let p = plan(i, machine)
        guard case .managed(let d) = p.enis.first(where: { $0.mac == mac })?.state else { return XCTFail("eth1 not managed") }
        XCTAssertEqual(d.ipv6Held, .pending("no IPv6 router known on eth1 yet (its router advertisements name it)"))
        XCTAssertEqual(p.problems, [], "a router not yet known is waited for, not an error")
        XCTAssertFalse(kernelChanges(p).contains { $0.contains("2001:db8:2") })
        XCTAssertTrue(kernelChanges(p).contains("[eth1] + sysctl -w net.ipv6.conf.eth1.accept_ra_defrtr=0"))
        var s = converge(i, machine)

        // The advertisement arrives: the kernel has the router as a neighbour.
        s.routers = [IPv6Router(device: "eth1", address: ip6("fe80::2:1")), IPv6Router(device: "eth0", address: ip6("fe80::1"))]
        XCTAssertEqual(kernelChanges(plan(i, s)), [
            "[eth1] + ip -6 addr add 2001:db8:2::a/128 dev eth1",
            "[eth1] + ip -6 route add 2001:db8:2::/64 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 route add default via fe80::2:1 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 rule add from 2001:db8:2::a lookup 10001 priority 10001 protocol 234",
        ])
        s = converge(i, s)

        // The neighbour entry expires: the route the agent made keeps the router.
        s.routers = []
        XCTAssertEqual(kernelChanges(plan(i, s)), [])
        // Another router announces itself and the first is gone: the route follows it.
        s.routers = [IPv6Router(device: "eth1", address: ip6("fe80::2:2"))]
        XCTAssertEqual(kernelChanges(plan(i, s)), [
            "[eth1] - ip -6 route del default via fe80::2:1 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 route add default via fe80::2:2 dev eth1 table 10001 proto 234",
        ])
    }

    /// An ENI whose link was up before the agent set its sysctls got a default route (protocol ra)
    /// and its subnet on-link (protocol kernel) in the main table from the advertisement: the
    /// router is taken from it, and both routes go (the kernel will not add them again).
    func testTheMainTablesRoutesFromAnAdvertisementAreTakenOut() throws {
        let i = try instance(try eni(2, v6: ["2001:db8:2::a"]))
        var s = machine
        s.links[1].isUp = true
        s.routes += [Route(table: 254, destination: .any(.v6), gateway: .v6(ip6("fe80::2:1")), device: "eth1", proto: 9),
                     Route(table: 254, destination: .v6(subnet6), device: "eth1", proto: 2, metric: 256)]
        let p = plan(i, s)
        XCTAssertEqual(kernelChanges(p).filter { $0.contains("route") && $0.contains(":") }, [
            "[eth1] - ip -6 route del default via fe80::2:1 dev eth1 table 254 proto 9",
            "[eth1] - ip -6 route del 2001:db8:2::/64 dev eth1 table 254 proto 2 metric 256",
            "[eth1] + ip -6 route add 2001:db8:2::/64 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 route add default via fe80::2:1 dev eth1 table 10001 proto 234",
        ])
        let after = converge(i, s)
        XCTAssertEqual(after.routes.filter { $0.table == 254 && $0.family == .v6 }.map(\.device), ["eth0", "eth0"])
    }

    func testAnIPv6AddressMovesBetweenENIs() throws {
        let before = try instance(try eni(2, v6: ["2001:db8:2::a", "2001:db8:2::b"], gateway6: "fe80::1"),
                                  try eni(3, v6: ["2001:db8:2::c"], gateway6: "fe80::1"))
        let s = converge(before, machine)
        let after = try instance(try eni(2, v6: ["2001:db8:2::a"], gateway6: "fe80::1"),
                                 try eni(3, v6: ["2001:db8:2::b", "2001:db8:2::c"], gateway6: "fe80::1"))
        XCTAssertEqual(kernelChanges(plan(after, s)), [
            "[eth1] - ip -6 rule del from 2001:db8:2::b lookup 10001 priority 10001 protocol 234",
            "[eth1] - ip -6 addr del 2001:db8:2::b/128 dev eth1",
            "[eth2] + ip -6 addr add 2001:db8:2::b/128 dev eth2",
            "[eth2] + ip -6 rule add from 2001:db8:2::b lookup 10002 priority 10002 protocol 234",
        ])
        _ = converge(after, s)
    }

    /// An IPv6 leaf in error leaves the ENI's IPv6 as it is (addresses, rules, routes, persisted
    /// lines) and says so; its IPv4 goes on: a new IPv4 address is added.
    func testAnIPv6ErrorHoldsItsIPv6AndNotItsIPv4() throws {
        let s = converge(try instance(try eni(2, v6: ["2001:db8:2::a"], gateway6: "fe80::1")), machine)
        var broken = try eni(2, unknown: .invalid("http://100.100.100.200/latest/meta-data/network/interfaces/macs/52:54:00:00:02:0a/ipv6s: invalid IPv6 address \"zz\""))
        broken.ipv4!.secondaryIPs = [try IPv4Address("10.0.2.11")]
        let p = plan(try instance(broken), s)
        XCTAssertEqual(kernelChanges(p), [
            "[eth1] + ip addr add 10.0.2.11/24 dev eth1",
            "[eth1] + ip rule add from 10.0.2.11 lookup 10001 priority 10001 protocol 234",
        ])
        XCTAssertEqual(p.problems.map(\.description), [
            "eth1: IPv6 of 52:54:00:00:02:0a left as it is: http://100.100.100.200/latest/meta-data/network/interfaces/macs/52:54:00:00:02:0a/ipv6s: invalid IPv6 address \"zz\"",
        ])
        // The persisted IPv6 settings stay in the file.
        let file = p.actions.compactMap { a -> String? in
            if case .writeFile(let path, _, let new, _, _) = a.change, path == TestRenderer.settings { return new }
            return nil
        }
        XCTAssertTrue(file.isEmpty || file[0].contains("net.ipv6.conf.eth1.accept_dad=0"), "\(file)")
        XCTAssertTrue(simulate(p, on: s).files[TestRenderer.settings]?.content?.contains("52:54:00:00:02:0a net.ipv6.conf.eth1.accept_dad=0") ?? false)
        // Its own file is kept as it is, IPv6 included (rewritten without it, a network manager
        // would drop its IPv6); its IPv4 change is persisted once its IPv6 is known again.
        XCTAssertFalse(p.actions.contains { $0.change.isFile && $0.interface == "eth1" }, "\(p.actions.map(\.change.command))")
        XCTAssertTrue(s.files["\(TestRenderer.directory)/eth1"]?.content?.contains("from 2001:db8:2::a lookup 10001") ?? false)
    }

    /// IPv6 taken off the ENI (the metadata answers 404): the addresses the agent added (those its
    /// rules name) go, with the rules and the routes; an address someone else added stays.
    func testIPv6RemovedFromTheENI() throws {
        var s = converge(try instance(try eni(2, v6: ["2001:db8:2::a"], gateway6: "fe80::1")), machine)
        s.addresses.append(InterfaceAddress(address: ip6("2001:db8:99::1"), prefixLength: 64, device: "eth1"))
        let i = try instance(try eni(2))
        XCTAssertEqual(kernelChanges(plan(i, s)), [
            "[eth1] - ip -6 rule del from 2001:db8:2::a lookup 10001 priority 10001 protocol 234",
            "[eth1] - ip -6 route del default via fe80::1 dev eth1 table 10001 proto 234",
            "[eth1] - ip -6 route del 2001:db8:2::/64 dev eth1 table 10001 proto 234",
            "[eth1] - ip -6 addr del 2001:db8:2::a/128 dev eth1",
        ])
        let after = converge(i, s)
        XCTAssertTrue(after.addresses.contains { $0.address == .v6(ip6("2001:db8:99::1")) })
    }

    /// An address on its way through duplicate address detection (or failed by it) does not work:
    /// it is added again without it, after the ENI's `accept_dad` is 0.
    func testATentativeAddressIsAddedAgain() throws {
        var s = converge(try instance(try eni(2, v6: ["2001:db8:2::a"], gateway6: "fe80::1")), machine)
        let i = s.addresses.firstIndex { $0.address == .v6(ip6("2001:db8:2::a")) }!
        s.addresses[i].isTentative = true
        s.sysctls[SysctlSetting.ipv6Conf("eth1", "accept_dad")] = "1"
        let p = plan(try instance(try eni(2, v6: ["2001:db8:2::a"], gateway6: "fe80::1")), s)
        XCTAssertEqual(kernelChanges(p), [
            "[eth1] - ip -6 addr del 2001:db8:2::a/128 dev eth1",
            "[eth1] + sysctl -w net.ipv6.conf.eth1.accept_dad=0  # was 1",
            "[eth1] + ip -6 addr add 2001:db8:2::a/128 dev eth1",
        ])
        XCTAssertEqual(p.actions.first?.reason, "duplicate address detection has not passed: added again without it")
    }

    /// An IPv6-only ENI (no IPv4 in the metadata).
    func v6Only(_ v6: [String], gateway6: String? = "fe80::1", unknown: Undescribed? = nil) throws -> ENI {
        try ENI(mac: mac, ipv4: nil, ipv6: ENIIPv6(addresses: v6.map(ip6), subnet: subnet6, gateway: gateway6.map(ip6), name: "ENI"),
                ipv6Unknown: unknown)
    }

    /// An IPv6-only ENI gets its IPv6 alone: its settings, link, addresses, table and rules; no
    /// IPv4 object and no `rp_filter` (IPv4's). An IPv4 address someone else put on it stays.
    func testAnIPv6OnlyENI() throws {
        var m = machine
        m.addresses.append(InterfaceAddress(address: try IPv4Address("192.168.50.5"), prefixLength: 24, device: "eth1"))
        let i = try instance(try v6Only(["2001:db8:2::a"]))
        let p = plan(i, m)
        XCTAssertEqual(kernelChanges(p), eth1SettingsThenUp + [
            "[eth1] + ip -6 addr add 2001:db8:2::a/128 dev eth1",
            "[eth1] + ip -6 route add 2001:db8:2::/64 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 route add default via fe80::1 dev eth1 table 10001 proto 234",
            "[eth1] + ip -6 rule add from 2001:db8:2::a lookup 10001 priority 10001 protocol 234",
        ])
        XCTAssertEqual(p.problems, [])
        let eth1 = p.enis.first { $0.mac == mac }!
        XCTAssertEqual(p.condition(of: eth1).condition, .unconfigured)
        let after = converge(i, m)
        XCTAssertTrue(after.addresses.contains { $0.address == .v4(try! IPv4Address("192.168.50.5")) })
        XCTAssertEqual(plan(i, after).condition(of: eth1).condition, .configured)
    }

    /// Its IPv6 held (an error, a router not known yet): nothing of it changes, and its state is
    /// its IPv6's (error, pending), not "configured".
    func testAnIPv6OnlyENIWhoseIPv6IsHeld() throws {
        let s = converge(try instance(try v6Only(["2001:db8:2::a"])), machine)
        let broken = try instance(try v6Only(["2001:db8:2::a"], unknown: .invalid("ipv6s: invalid IPv6 address \"zz\"")))
        let p = plan(broken, s)
        XCTAssertEqual(p.actions.map(\.change.command), [])
        let eth1 = p.enis.first { $0.mac == mac }!
        XCTAssertEqual(p.condition(of: eth1).condition, .error)
        XCTAssertEqual(p.condition(of: eth1).reason, "ipv6s: invalid IPv6 address \"zz\"")
        // No router known: pending, its settings set, nothing else.
        let waiting = plan(try instance(try v6Only(["2001:db8:2::a"], gateway6: nil)), machine)
        XCTAssertEqual(waiting.condition(of: waiting.enis.first { $0.mac == mac }!).condition, .pending)
        XCTAssertEqual(kernelChanges(waiting).filter { !$0.contains("sysctl") }, ["[eth1] + ip link set dev eth1 up"])
    }

    /// A dual-stack ENI that the metadata now describes as IPv6-only: the IPv4 addresses the agent
    /// added (those its rules name) go, with their rules and routes; its IPv6 stays.
    func testADualStackENIBecomesIPv6Only() throws {
        let s = converge(try instance(try eni(2, v6: ["2001:db8:2::a"], gateway6: "fe80::1")), machine)
        let i = try instance(try v6Only(["2001:db8:2::a"]))
        XCTAssertEqual(kernelChanges(plan(i, s)), [
            "[eth1] - ip rule del from 10.0.2.10 lookup 10001 priority 10001 protocol 234",
            "[eth1] - ip route del default via 10.0.2.1 dev eth1 table 10001 proto 234",
            "[eth1] - ip route del 10.0.2.0/24 dev eth1 scope link table 10001 proto 234",
            "[eth1] - ip addr del 10.0.2.10/24 dev eth1",
        ])
        let after = converge(i, s)
        XCTAssertFalse(after.addresses.contains { $0.family == .v4 && $0.device == "eth1" })
        XCTAssertTrue(after.addresses.contains { $0.address == .v6(ip6("2001:db8:2::a")) })
    }
}

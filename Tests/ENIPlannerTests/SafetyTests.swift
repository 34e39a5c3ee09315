import ENIModel
import ENIPlanner
import XCTest

/// The rule behind the planner's safety: an ENI description that is incomplete, invalid or unusable
/// changes nothing it covers. Checked as a property over every secondary ENI of a configured
/// machine (8 ENIs × 30 IPs) and every way an ENI can be left alone, with `TestRenderer`'s files.
/// The checks are `SafetyChecks`, which ENIGoldenTests runs with the renderer the agent ships.
final class SafetyTests: XCTestCase {
    let checks = SafetyChecks(renderer: TestRenderer())

    func testAnENILeftAloneKeepsEverythingItHas() throws { try checks.anENILeftAloneKeepsEverythingItHas() }
    func testANewLinkTakesNoTableFromAConfiguredENI() throws { try checks.aNewLinkTakesNoTableFromAConfiguredENI() }
    func testAnUnknownENIKeepsItsLineFromAnOlderFile() throws {
        try checks.anUnknownENIKeepsItsLineFromAnOlderFile(
            TestRenderer.settings,
            // Each setting's owner `-`.
            older: { $0.split(separator: "\n").map { $0.hasPrefix("#") ? $0 : "- " + $0.split(separator: " ").last! }
                .joined(separator: "\n") + "\n" },
            line: { "\($0) net.ipv4.conf.eth3.rp_filter=2\n" }, setting: "rp_filter=2")
    }
    func testLeftoverTempFilesAreRemoved() throws { try checks.leftoverTempFilesAreRemoved() }
    func testTenThousandIPsNoOp() throws { try checks.tenThousandIPsNoOp() }
}

/// The safety checks, with the files of any renderer.
struct SafetyChecks {
    var renderer: any FileRenderer

    /// The machine of the golden case `eight-secondaries` (ENIGoldenTests checks that it is), as
    /// booted: the primary ENI on eth0 (up, 10.0.1.10; the instance adds 10.0.1.11) and eight
    /// secondary ENIs on eth1...eth8 (down), with 30 IPs each (10.0.N.10...39 in 10.0.N.0/24,
    /// N = 2...9); rp_filter strict.
    static func eightSecondaries() throws -> (Instance, ObservedState) {
        let enis = try (1...9).map { n in
            let ips = try (10...(n == 1 ? 11 : 39)).map { try IPv4Address("10.0.\(n).\($0)") }
            return try ENI(mac: MACAddress("52:54:00:00:0\(n):0a"), primaryIP: ips[0], secondaryIPs: Array(ips.dropFirst()),
                           subnet: IPv4Prefix("10.0.\(n).0/24"), gateway: IPv4Address("10.0.\(n).1"))
        }
        let names = (0...8).map { "eth\($0)" }
        let state = ObservedState(
            links: [Link(index: 1, name: "lo", mac: nil, isUp: true)]
                + names.indices.map { Link(index: Int32($0 + 2), name: names[$0], mac: enis[$0].mac, isUp: $0 == 0) },
            addresses: [InterfaceAddress(address: try IPv4Address("127.0.0.1"), prefixLength: 8, device: "lo"),
                        InterfaceAddress(address: enis[0].ipv4!.primaryIP, prefixLength: 24, device: "eth0")],
            routes: [Route(table: 254, destination: .any, gateway: enis[0].ipv4!.gateway, device: "eth0", proto: 3),
                     Route(table: 254, destination: enis[0].ipv4!.subnet, device: "eth0", scope: .link, proto: 2)],
            rules: [(0, 255), (32766, 254), (32767, 253)].map { Rule(priority: $0, source: nil, table: $1, proto: 2) },
            sysctls: Dictionary(uniqueKeysWithValues: (["all", "default"] + names).map { (SysctlSetting.ipv4Conf($0, "rp_filter"), "1") }),
            files: ["/etc/sysconfig/network-scripts/ifcfg-eth0": ObservedFile(.regular(content: "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n"))])
        return (try Instance(primaryMAC: enis[0].mac, enis: enis), state)
    }

    /// The eight-secondaries machine after its plan was applied, and its instance.
    func configured() throws -> (Instance, ObservedState) {
        let (instance, observed) = try Self.eightSecondaries()
        let state = simulate(Planner.plan(desired: instance, observed: observed, config: PlannerConfig(), renderer: renderer), on: observed)
        XCTAssertEqual(Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer).actions.count, 0)
        return (instance, state)
    }

    /// A link taken down (the kernel drops the routes through it), then changed by `change`.
    func takenDown(_ s: ObservedState, _ name: String, _ change: (inout Link) -> Void) -> ObservedState {
        var s = s
        let i = s.links.firstIndex { $0.name == name }!
        s.links[i].isUp = false
        s.routes.removeAll { $0.device == name }
        change(&s.links[i])
        let new = s.links[i].name
        for j in s.addresses.indices where s.addresses[j].device == name { s.addresses[j].device = new }
        return s
    }

    func without(_ i: Instance, _ mac: MACAddress, unknown reason: String? = nil) throws -> Instance {
        var unknown = i.unknown
        if let reason { unknown[mac] = .invalid(reason) }
        return try Instance(primaryMAC: i.primaryMAC, enis: i.enis.filter { $0.mac != mac }, unknown: unknown)
    }

    func anENILeftAloneKeepsEverythingItHas() throws {
        let (instance, state) = try configured()
        let secondaries = instance.enis.filter { $0.mac != instance.primaryMAC }
        XCTAssertEqual(secondaries.count, 8)
        for eni in secondaries {
            let link = state.link(mac: eni.mac)!
            let name = link.name
            var cases: [(String, Instance, ObservedState, PlannerConfig)] = []
            let pc = PlannerConfig()
            cases.append(("metadata error", try without(instance, eni.mac, unknown: "timeout"), state, pc))
            cases.append(("metadata lag (MAC not listed)", try without(instance, eni.mac), state, pc))
            cases.append(("metadata error, link flapped", try without(instance, eni.mac, unknown: "timeout"),
                          takenDown(state, name) { _ in }, pc))
            for unsafe in ["ethé2", "e$(id)2", "e'2", "e;2", "e*2"] {
                cases.append(("renamed \(unsafe)", instance, takenDown(state, name) { $0.name = unsafe }, pc))
            }
            cases.append(("enslaved", instance, takenDown(state, name) { $0.master = 1 }, pc))
            var unsettled = takenDown(state, name) { $0.name = "eth9" }
            unsettled.unsettled = ["eth9"]
            cases.append(("re-plugged, udev not finished with it", instance, unsettled, pc))
            var twoLinks = state
            twoLinks.links.append(Link(index: 99, name: "ethX", mac: eni.mac, isUp: true, kind: "veth"))
            cases.append(("MAC on two links", instance, twoLinks, pc))
            var excluded = pc
            excluded.exclusions = Exclusions(interfaces: [], macs: [eni.mac])
            cases.append(("excluded by MAC", instance, state, excluded))
            // Detached while the metadata still lists it: the kernel dropped the link, its
            // addresses and routes; its rules, files and sysctl line wait for the metadata.
            var detached = state
            detached.links.removeAll { $0.name == name }
            detached.addresses.removeAll { $0.device == name }
            detached.routes.removeAll { $0.device == name }
            cases.append(("listed, link gone", instance, detached, pc))

            for (what, desired, observed, config) in cases {
                let plan = Planner.plan(desired: desired, observed: observed, config: config, renderer: renderer)
                XCTAssertEqual(plan.actions.map(\.change.command), [], "\(eni.mac) on \(name), \(what): changes planned")
                XCTAssertFalse(plan.enis.contains { s in
                    if case .managed(let d) = s.state { return d.mac == eni.mac }
                    return false
                }, "\(eni.mac), \(what): managed")
            }
        }
    }

    /// A link that appears under a kernel name (`eth1`, before udev renames it) takes no table from
    /// an ENI that has it: the ENI on `ens4`, once `eth1`, keeps table 10001.
    func aNewLinkTakesNoTableFromAConfiguredENI() throws {
        var (instance, state) = try configured()
        let renamed = state.link(named: "eth1")!
        state = takenDown(state, "eth1") { $0.name = "ens4"; $0.isUp = true }
        let d = Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer)
        state = simulate(d, on: state)  // ens4's routes back, in its table
        XCTAssertEqual(d.design.interfaces.first { $0.name == "ens4" }?.table, 10001)
        let newMAC = try MACAddress("52:54:00:00:0a:0a")
        state.links.append(Link(index: 50, name: "eth1", mac: newMAC, isUp: false))
        let eni = try ENI(mac: newMAC, primaryIP: IPv4Address("10.0.10.10"), subnet: IPv4Prefix("10.0.10.0/24"), gateway: IPv4Address("10.0.10.1"))
        instance = try Instance(primaryMAC: instance.primaryMAC, enis: instance.enis + [eni])
        let plan = Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer)
        XCTAssertEqual(plan.design.interfaces.first { $0.name == "ens4" }?.table, 10001)
        XCTAssertEqual(plan.design.interfaces.first { $0.name == "eth1" }?.table, 10009)
        XCTAssertFalse(plan.actions.contains { $0.interface == "ens4" }, plan.actions.map(\.change.command).joined(separator: "\n"))
        XCTAssertEqual(renamed.mac, state.link(named: "ens4")?.mac)
    }

    /// A shared file (the sysctl.d file) written before its lines named their ENI (`older` turns
    /// the file as written now into that form): an unknown ENI's line (`line`, eth3's setting as
    /// written now) is kept through the rewrite that adds the names; 8 lines hold `setting`.
    func anUnknownENIKeepsItsLineFromAnOlderFile(_ path: String, older: (String) -> String, line: (MACAddress) -> String,
                                                 setting: String) throws {
        var (instance, state) = try configured()
        state.files[path] = ObservedFile(.regular(content: older(state.files[path]!.content!)))
        let eth3 = state.link(named: "eth3")!.mac!
        instance = try without(instance, eth3, unknown: "timeout")
        let plan = Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer)
        XCTAssertEqual(plan.actions.count, 1)
        guard case .writeFile(let p, _, let new, _, _)? = plan.actions.first?.change else { return XCTFail("no file written") }
        XCTAssertEqual(p, path)
        XCTAssertTrue(new.contains(line(eth3)), new)
        XCTAssertEqual(new.components(separatedBy: setting).count - 1, 8)
    }

    /// Temp files of the agent's own naming that an interrupted write left are removed, whatever
    /// the ENI they were for; nothing else is.
    func leftoverTempFilesAreRemoved() throws {
        var (instance, state) = try configured()
        let leftovers = ["/etc/sysconfig/network-scripts/.rule-eth5.eni-agent-tmp",
                         "/etc/sysconfig/network-scripts/.ifcfg-eth42.eni-agent-tmp",
                         "/etc/sysctl.d/.90-eni-agent.conf.eni-agent-tmp"]
        for p in leftovers { state.files[p] = ObservedFile(.regular(content: "# Managed by eni-agent for 52:54:00:00:06:0a; local\n")) }
        state.files["/etc/sysconfig/network-scripts/.keep-me"] = ObservedFile(.regular(content: "x"))
        // Even while eth5's ENI is unknown.
        instance = try without(instance, state.link(named: "eth5")!.mac!, unknown: "timeout")
        let plan = Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer)
        XCTAssertEqual(plan.actions.map(\.change.command), leftovers.sorted().map { "- remove \($0)" })
    }

    /// Planning reads each list once: a no-op plan with 10,000 IPs on one ENI is as exact as
    /// with a few (its cost is measured by the benchmark, not here).
    func tenThousandIPsNoOp() throws {
        let subnet = try IPv4Prefix("10.1.0.0/18")
        let ips = (0..<10_000).map { IPv4Address(value: subnet.network.value + 10 + UInt32($0)) }
        let primary = try ENI(mac: MACAddress("52:54:00:00:01:0a"), primaryIP: IPv4Address("10.0.1.10"),
                              subnet: IPv4Prefix("10.0.1.0/24"), gateway: IPv4Address("10.0.1.1"))
        let big = try ENI(mac: MACAddress("52:54:00:00:02:0a"), primaryIP: ips[0], secondaryIPs: Array(ips.dropFirst()),
                          subnet: subnet, gateway: IPv4Address(value: subnet.network.value + 1))
        let instance = try Instance(primaryMAC: primary.mac, enis: [primary, big])
        let empty = ObservedState(links: [Link(index: 1, name: "eth0", mac: primary.mac, isUp: true),
                                          Link(index: 2, name: "eth1", mac: big.mac, isUp: true)],
                                  addresses: [InterfaceAddress(address: primary.ipv4!.primaryIP, prefixLength: 24, device: "eth0")])
        let first = Planner.plan(desired: instance, observed: empty, config: PlannerConfig(), renderer: renderer)
        XCTAssertEqual(first.actions.filter { if case .addRule = $0.change { true } else { false } }.count, 10_000)
        let applied = simulate(first, on: empty)
        XCTAssertEqual(Planner.plan(desired: instance, observed: applied, config: PlannerConfig(), renderer: renderer).actions.count, 0)
    }
}

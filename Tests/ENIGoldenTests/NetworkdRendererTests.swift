import ENIModel
import ENIPlanner
@testable import ENIPlannerTests
@testable import ENIRender
import XCTest

/// The networkd renderer's files, and the rules they declare read back from them.
final class NetworkdRendererTests: XCTestCase {
    let renderer = RendererKind.networkd.renderer(nmControlled: false)

    func eightSecondaries() throws -> NetworkDesign { try RendererFixtures.eightSecondaries(renderer) }
    func observed(_ files: [String: String]) -> [String: ObservedFile] { RendererFixtures.observed(files) }
    func oneSecondary(name: String = "eth1") throws -> InterfaceDesign { try RendererFixtures.oneSecondary(name: name, table: 10001) }

    func testTheProtocolOfTheRulesIsNetworkdsStatic() {
        XCTAssertEqual(NetworkdRenderer().ruleProtocol, 4)
        XCTAssertEqual(renderer.ruleProtocol, 4)
        XCTAssertNil(RendererKind.ifcfg.renderer(nmControlled: false).ruleProtocol)
        XCTAssertNil(RendererKind.none.renderer(nmControlled: false).ruleProtocol)
        XCTAssertNil(SysctlRenderer().ruleProtocol)
        XCTAssertEqual(Renderers([SysctlRenderer(), NetworkdRenderer()]).ruleProtocol, 4)
    }

    /// What the rendered files declare is exactly the design's rules, with networkd's protocol.
    func testRenderedFilesDeclareTheDesignsRules() throws {
        let design = try eightSecondaries()
        let files = try renderer.render(design)
        let want = design.interfaces.flatMap(\.rules).map { Rule(priority: $0.priority, source: $0.source, table: $0.table, proto: 4) }
        XCTAssertEqual(want.count, 240)
        XCTAssertEqual(renderer.declaredRules(observed(files)), want)
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed(files)), want)
        // The ifcfg renderer's files carry the agent's protocol themselves: it declares nothing.
        XCTAssertEqual(RendererKind.ifcfg.renderer(nmControlled: false).declaredRules(observed(files)), [])
    }

    func testOneFilePerSecondaryENINoneForThePrimary() throws {
        let design = try eightSecondaries()
        let files = try NetworkdRenderer().render(design)
        XCTAssertEqual(files.keys.sorted(), (1...8).map { "/etc/systemd/network/05-eni-agent-eth\($0).network" })
        XCTAssertEqual(try NetworkdRenderer().render(design), files)
        XCTAssertEqual(try NetworkdRenderer().render(NetworkDesign(interfaces: design.interfaces.filter { $0.role == .primary }, sysctls: [])), [:])
    }

    func testTheFile() throws {
        let files = try NetworkdRenderer().render(NetworkDesign(interfaces: [try oneSecondary()], sysctls: []))
        XCTAssertEqual(files, ["/etc/systemd/network/05-eni-agent-eth1.network": """
            # Managed by eni-agent for 52:54:00:00:02:0a; local changes are overwritten.
            [Match]
            MACAddress=52:54:00:00:02:0a

            [Link]
            RequiredForOnline=no

            [Network]
            DHCP=no
            IPv6AcceptRA=no
            LinkLocalAddressing=ipv6
            ConfigureWithoutCarrier=yes
            IgnoreCarrierLoss=yes
            KeepConfiguration=static

            [Address]
            Address=10.0.2.10/24

            [Address]
            Address=10.0.2.11/24

            [Route]
            Destination=10.0.2.0/24
            Scope=link
            Table=10001
            Protocol=234

            [Route]
            Gateway=10.0.2.1
            Table=10001
            Protocol=234

            [RoutingPolicyRule]
            From=10.0.2.10/32
            Table=10001
            Priority=10001

            [RoutingPolicyRule]
            From=10.0.2.11/32
            Table=10001
            Priority=10001

            """])
    }

    /// A dual-stack ENI: its IPv6 addresses (no duplicate address detection), the IPv6 subnet and
    /// default routes of its table (no `Scope=`, no `Metric=`: networkd gives an IPv6 route 1024,
    /// the agent's), its IPv6 rules; the IPv4 sections as they are without IPv6.
    func testTheFileOfADualStackENI() throws {
        let d = try RendererFixtures.dualStack(name: "eth1", table: 10001, ruleProto: 4)
        let files = try NetworkdRenderer().render(NetworkDesign(interfaces: [d], sysctls: []))
        let path = "/etc/systemd/network/05-eni-agent-eth1.network"
        XCTAssertEqual(files, [path: """
            # Managed by eni-agent for 52:54:00:00:02:0a; local changes are overwritten.
            [Match]
            MACAddress=52:54:00:00:02:0a

            [Link]
            RequiredForOnline=no

            [Network]
            DHCP=no
            IPv6AcceptRA=no
            LinkLocalAddressing=ipv6
            ConfigureWithoutCarrier=yes
            IgnoreCarrierLoss=yes
            KeepConfiguration=static

            [Address]
            Address=10.0.2.10/24

            [Address]
            Address=10.0.2.11/24

            [Address]
            Address=2001:db8:2::10/128
            DuplicateAddressDetection=none

            [Address]
            Address=2001:db8:2::11/128
            DuplicateAddressDetection=none

            [Address]
            Address=2001:db8:2::12/128
            DuplicateAddressDetection=none

            [Route]
            Destination=10.0.2.0/24
            Scope=link
            Table=10001
            Protocol=234

            [Route]
            Gateway=10.0.2.1
            Table=10001
            Protocol=234

            [Route]
            Destination=2001:db8:2::/64
            Table=10001
            Protocol=234

            [Route]
            Gateway=2001:db8:2::1
            Table=10001
            Protocol=234

            [RoutingPolicyRule]
            From=10.0.2.10/32
            Table=10001
            Priority=10001

            [RoutingPolicyRule]
            From=10.0.2.11/32
            Table=10001
            Priority=10001

            [RoutingPolicyRule]
            From=2001:db8:2::10/128
            Table=10001
            Priority=10001

            [RoutingPolicyRule]
            From=2001:db8:2::11/128
            Table=10001
            Priority=10001

            [RoutingPolicyRule]
            From=2001:db8:2::12/128
            Table=10001
            Priority=10001

            """])
        // Read back: the design's rules, IPv6 ones included (networkd's static is the design's here).
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed(files)), d.rules)
        XCTAssertEqual(d.rules.filter { $0.family == .v6 }.count, 3)
        // Without its IPv6 sections, the file of the same ENI without IPv6.
        let ipv4Only = try NetworkdRenderer().render(NetworkDesign(interfaces: [try oneSecondary()], sysctls: []))
        XCTAssertEqual(RendererFixtures.withoutIPv6(try XCTUnwrap(files[path])) { $0.contains("2001:db8") }, ipv4Only[path])
    }

    /// A router the metadata does not name, known from router advertisements: link-local, the
    /// gateway of the IPv6 default route as it is.
    func testTheFileOfAnENIWhoseRouterIsLinkLocal() throws {
        let d = try RendererFixtures.linkLocalRouter(name: "ens6", table: 10003, ruleProto: 4)
        let files = try NetworkdRenderer().render(NetworkDesign(interfaces: [d], sysctls: []))
        XCTAssertEqual(files, ["/etc/systemd/network/05-eni-agent-ens6.network": """
            # Managed by eni-agent for 52:54:00:00:02:0a; local changes are overwritten.
            [Match]
            MACAddress=52:54:00:00:02:0a

            [Link]
            RequiredForOnline=no

            [Network]
            DHCP=no
            IPv6AcceptRA=no
            LinkLocalAddressing=ipv6
            ConfigureWithoutCarrier=yes
            IgnoreCarrierLoss=yes
            KeepConfiguration=static

            [Address]
            Address=10.0.2.10/24

            [Address]
            Address=10.0.2.11/24

            [Address]
            Address=2001:db8:2::20/128
            DuplicateAddressDetection=none

            [Route]
            Destination=10.0.2.0/24
            Scope=link
            Table=10003
            Protocol=234

            [Route]
            Gateway=10.0.2.1
            Table=10003
            Protocol=234

            [Route]
            Destination=2001:db8:2::/64
            Table=10003
            Protocol=234

            [Route]
            Gateway=fe80::1:ff:fe00:1
            Table=10003
            Protocol=234

            [RoutingPolicyRule]
            From=10.0.2.10/32
            Table=10003
            Priority=10003

            [RoutingPolicyRule]
            From=10.0.2.11/32
            Table=10003
            Priority=10003

            [RoutingPolicyRule]
            From=2001:db8:2::20/128
            Table=10003
            Priority=10003

            """])
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed(files)), d.rules)
        XCTAssertThrowsError(try NetworkdRenderer().render(NetworkDesign(interfaces: [
            try RendererFixtures.linkLocalRouter(name: "ens6$(x)", table: 10003),
        ], sysctls: []))) {
            XCTAssertEqual("\($0)", "interface name \"ens6$(x)\" cannot be written to network files safely")
        }
    }

    /// IPv6 routes: `Metric=` where it is not 1024; no scope but universe; the gateway of the
    /// route's family.
    func testIPv6RouteSections() throws {
        let subnet = try IPv6Prefix("2001:db8:2::/64")
        let r = Route(table: 7, destination: .v6(subnet), device: "eth1", proto: 234)
        XCTAssertEqual(r.metric, 1024)
        XCTAssertEqual(try NetworkdRenderer.section(r, device: "eth1"), ["[Route]", "Destination=2001:db8:2::/64", "Table=7", "Protocol=234"])
        var m = r
        m.metric = 0
        XCTAssertEqual(try NetworkdRenderer.section(m, device: "eth1"),
                       ["[Route]", "Destination=2001:db8:2::/64", "Table=7", "Protocol=234", "Metric=0"])
        let noGateway = Route(table: 7, destination: .any(.v6), device: "eth1", proto: 234)
        XCTAssertEqual(try NetworkdRenderer.section(noGateway, device: "eth1"), ["[Route]", "Destination=::/0", "Table=7", "Protocol=234"])
        var scoped = r
        scoped.scope = .link
        XCTAssertThrowsError(try NetworkdRenderer.section(scoped, device: "eth1"))
        var mixed = r
        mixed.gateway = .v4(try IPv4Address("10.0.2.1"))
        XCTAssertThrowsError(try NetworkdRenderer.section(mixed, device: "eth1"))
        XCTAssertEqual(NetworkdRenderer.section(InterfaceAddress(address: try IPv6Address("2001:db8:2::10"), prefixLength: 128, device: "eth1")),
                       ["[Address]", "Address=2001:db8:2::10/128", "DuplicateAddressDetection=none"])
    }

    /// Every key a route can need: a metric, host scope; a default route without a gateway keeps
    /// its `Destination=` (networkd tells a route's family by its destination or gateway).
    func testRouteSections() throws {
        let r = Route(table: 7, destination: try IPv4Prefix("10.9.0.0/16"), gateway: try IPv4Address("10.0.2.1"), device: "eth1",
                      proto: 234, metric: 100)
        XCTAssertEqual(try NetworkdRenderer.section(r, device: "eth1"),
                       ["[Route]", "Destination=10.9.0.0/16", "Gateway=10.0.2.1", "Table=7", "Protocol=234", "Metric=100"])
        let host = Route(table: 7, destination: try IPv4Prefix("10.0.2.10/32"), device: "eth1", scope: .host, proto: 200)
        XCTAssertEqual(try NetworkdRenderer.section(host, device: "eth1"),
                       ["[Route]", "Destination=10.0.2.10/32", "Scope=host", "Table=7", "Protocol=200"])
        let noGateway = Route(table: 7, destination: .any, device: "eth1", proto: 234)
        XCTAssertEqual(try NetworkdRenderer.section(noGateway, device: "eth1"), ["[Route]", "Destination=0.0.0.0/0", "Table=7", "Protocol=234"])
        XCTAssertThrowsError(try NetworkdRenderer.section(noGateway, device: "eth2"))
        XCTAssertThrowsError(try NetworkdRenderer.section(Rule(priority: 1, source: nil, table: 7, proto: 234)))
    }

    func testAnUnsafeInterfaceNameIsNotWritten() throws {
        XCTAssertThrowsError(try NetworkdRenderer().render(NetworkDesign(interfaces: [try oneSecondary(name: "eth1$(x)")], sysctls: []))) {
            XCTAssertEqual("\($0)", "interface name \"eth1$(x)\" cannot be written to network files safely")
        }
    }

    /// Only marked files at the paths the renderer writes declare anything.
    func testOnlyItsOwnMarkedFilesDeclareRules() throws {
        let files = try NetworkdRenderer().render(NetworkDesign(interfaces: [try oneSecondary()], sysctls: []))
        let content = try XCTUnwrap(files["/etc/systemd/network/05-eni-agent-eth1.network"])
        let r = NetworkdRenderer()
        XCTAssertEqual(r.declaredRules(observed(files)).count, 2)
        let unmarked = String(content.drop { $0 != "\n" }.dropFirst())
        XCTAssertTrue(unmarked.hasPrefix("[Match]"))
        XCTAssertEqual(r.declaredRules(observed(["/etc/systemd/network/05-eni-agent-eth1.network": unmarked])), [])
        for path in [
            "/etc/systemd/network/sub/05-eni-agent-eth1.network",
            "/run/systemd/network/05-eni-agent-eth1.network",
            "/etc/systemd/network/10-eni-agent-eth1.network",
            "/etc/systemd/network/05-eni-agent-eth1.network~",
            "/etc/systemd/network/05-eni-agent-eth1$(x).network",
            "/etc/systemd/network/05-eni-agent-.network",
            "/etc/systemd/network/.05-eni-agent-eth1.network.eni-agent-tmp",
            "/etc/sysconfig/network-scripts/rule-eth1",
        ] {
            XCTAssertEqual(r.declaredRules(observed([path: content])), [], path)
        }
        XCTAssertEqual(r.declaredRules(["/etc/systemd/network/05-eni-agent-eth1.network": ObservedFile(.symlink)]), [])
    }

    /// A `[RoutingPolicyRule]` section with a key the renderer does not write, a key twice, a key
    /// missing or a value it would not write declares nothing; the file's other sections still do.
    func testASectionItWouldNotWriteDeclaresNothing() throws {
        func section(_ lines: [String], header: String = "[RoutingPolicyRule]") -> String { ([header] + lines).joined(separator: "\n") + "\n" }
        let (from, table, priority) = ("From=10.0.2.10/32", "Table=10001", "Priority=10001")
        // The good section with one line added, doubled, dropped or changed: each would declare
        // 10.0.2.10 once more.
        let bad: [[String]] = [
            [from, table, priority, "To=10.9.0.0/16"], [from, table, priority, "Family=ipv4"], [from, table, priority, "garbage"],
            [from, table, "Table=10002", priority], [from, table], [from, table, "Metric=10001"],
            ["From=10.0.2.10/24", table, priority], ["From=10.0.2.010/32", table, priority], ["From=10.0.2.10", table, priority],
            ["From=", table, priority], [from, "Table=main", priority], [from, "Table=+10001", priority],
            [from, table, "Priority=010001"], [from, table, "Priority=4294967296"], ["From = 10.0.2.10/32", table, priority],
            [" " + from, table, priority], [from, table + " ", priority], [from, table + "\r", priority],
            // IPv6: not the canonical text networkd's value would be written in, no length, or not a prefix.
            ["From=2001:DB8:2::10/128", table, priority], ["From=2001:db8:2:0:0:0:0:10/128", table, priority],
            ["From=2001:db8:2::10", table, priority], ["From=2001:db8:2::10/129", table, priority],
            ["From=2001:db8:2::10/64", table, priority], ["From=2001:db8:2::10/0128", table, priority],
            ["From=[2001:db8:2::10]/128", table, priority],
        ]
        let content = FileMarker.line(owner: try MACAddress("52:54:00:00:02:0a")) + "\n"
            + ([section([from, table, priority])] + bad.map { section($0) } + [section([from, table, priority], header: "[RoutingPolicyRule ]")]
                + [section(["# a comment", priority, table, "", "From=10.0.2.11/32"])]
                + [section(["From=2001:db8:2::10/128", table, priority])])
            .joined(separator: "\n")
        let path = NetworkdRenderer.path("eth1")
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed([path: content])), [
            Rule(priority: 10001, source: try IPv4Prefix("10.0.2.10/32"), table: 10001, proto: 4),
            Rule(priority: 10001, source: try IPv4Prefix("10.0.2.11/32"), table: 10001, proto: 4),
            Rule(priority: 10001, source: .v6(try IPv6Prefix("2001:db8:2::10/128")), table: 10001, proto: 4),
        ])
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed([path: content])).last?.family, .v6)
        // networkd joins a line ending in `\` with the next one: the file is not one it wrote.
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed([path: content + "[Route]\nTable=1 \\\n"])), [])
    }
}

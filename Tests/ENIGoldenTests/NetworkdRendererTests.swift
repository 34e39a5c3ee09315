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
        ]
        let content = FileMarker.line(owner: try MACAddress("52:54:00:00:02:0a")) + "\n"
            + ([section([from, table, priority])] + bad.map { section($0) } + [section([from, table, priority], header: "[RoutingPolicyRule ]")]
                + [section(["# a comment", priority, table, "", "From=10.0.2.11/32"])])
            .joined(separator: "\n")
        let path = NetworkdRenderer.path("eth1")
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed([path: content])), [
            Rule(priority: 10001, source: try IPv4Prefix("10.0.2.10/32"), table: 10001, proto: 4),
            Rule(priority: 10001, source: try IPv4Prefix("10.0.2.11/32"), table: 10001, proto: 4),
        ])
        // networkd joins a line ending in `\` with the next one: the file is not one it wrote.
        XCTAssertEqual(NetworkdRenderer().declaredRules(observed([path: content + "[Route]\nTable=1 \\\n"])), [])
    }
}

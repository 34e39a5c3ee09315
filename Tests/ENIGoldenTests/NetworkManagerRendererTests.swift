import ENIModel
import ENIPlanner
@testable import ENIPlannerTests
@testable import ENIRender
import XCTest

/// The NetworkManager renderer's keyfiles, their mode, and the routes and rules they declare read
/// back from them.
final class NetworkManagerRendererTests: XCTestCase {
    let renderer = RendererKind.networkmanager.renderer(nmControlled: false)
    let path = NetworkManagerRenderer.path("eth1")

    func eightSecondaries() throws -> NetworkDesign { try RendererFixtures.eightSecondaries(renderer) }
    func observed(_ files: [String: String]) -> [String: ObservedFile] { RendererFixtures.observed(files) }
    func oneSecondary(name: String = "eth1") throws -> InterfaceDesign {
        try RendererFixtures.oneSecondary(name: name, table: 10002, ruleProto: 4, routeProto: 4)
    }

    func testTheProtocolOfRoutesAndRulesIsStatic() {
        XCTAssertEqual(NetworkManagerRenderer().ruleProtocol, 4)
        XCTAssertEqual(NetworkManagerRenderer().routeProtocol, 4)
        XCTAssertEqual(renderer.ruleProtocol, 4)
        XCTAssertEqual(renderer.routeProtocol, 4)
        // networkd's files say the agent's protocol for routes themselves; ifcfg's for both.
        XCTAssertNil(RendererKind.networkd.renderer(nmControlled: false).routeProtocol)
        XCTAssertNil(RendererKind.ifcfg.renderer(nmControlled: false).routeProtocol)
        XCTAssertNil(RendererKind.none.renderer(nmControlled: false).routeProtocol)
        XCTAssertEqual(Renderers([SysctlRenderer(), NetworkManagerRenderer()]).routeProtocol, 4)
    }

    /// The agent's own routes and rules carry static under this renderer: NetworkManager's copy is
    /// the same kernel object.
    func testThePlannersDesignCarriesStatic() throws {
        let design = try eightSecondaries()
        let secondaries = design.interfaces.filter { $0.role == .secondary }
        XCTAssertEqual(secondaries.count, 8)
        XCTAssertEqual(Set(secondaries.flatMap(\.routes).map(\.proto)), [4])
        XCTAssertEqual(Set(secondaries.flatMap(\.rules).map(\.proto)), [4])
        XCTAssertEqual(Set(secondaries.map(\.proto)), [234])
    }

    /// What the rendered files declare is exactly the design's routes and rules.
    func testRenderedFilesDeclareTheDesignsRoutesAndRules() throws {
        let design = try eightSecondaries()
        let files = try renderer.render(design)
        let rules = design.interfaces.flatMap(\.rules)
        let routes = design.interfaces.flatMap(\.routes)
        XCTAssertEqual(rules.count, 240)
        XCTAssertEqual(routes.count, 16)
        XCTAssertEqual(renderer.declaredRules(observed(files)), rules)
        XCTAssertEqual(renderer.declaredRoutes(observed(files)), routes)
        // Other renderers declare nothing from them.
        XCTAssertEqual(RendererKind.networkd.renderer(nmControlled: false).declaredRules(observed(files)), [])
        XCTAssertEqual(RendererKind.ifcfg.renderer(nmControlled: false).declaredRoutes(observed(files)), [])
    }

    func testOneFilePerSecondaryENINoneForThePrimaryMode0600() throws {
        let design = try eightSecondaries()
        let files = try NetworkManagerRenderer().render(design)
        let paths = (1...8).map { "/etc/NetworkManager/system-connections/eni-agent-eth\($0).nmconnection" }
        XCTAssertEqual(files.keys.sorted(), paths)
        XCTAssertEqual(try NetworkManagerRenderer().render(design), files)
        XCTAssertEqual(try NetworkManagerRenderer().render(NetworkDesign(interfaces: design.interfaces.filter { $0.role == .primary }, sysctls: [])), [:])
        for (n, p) in zip(1...8, paths) {
            XCTAssertEqual(renderer.mode(ofPath: p), 0o600, p)
            XCTAssertEqual(renderer.interface(ofPath: p), "eth\(n)", p)
        }
        XCTAssertEqual(renderer.mode(ofPath: SysctlRenderer.path), 0o644)
        XCTAssertEqual(renderer.mode(ofPath: "/etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection"), 0o644)
        XCTAssertEqual(RendererKind.networkd.renderer(nmControlled: false).mode(ofPath: NetworkdRenderer.path("eth1")), 0o644)
    }

    func testTheFile() throws {
        let files = try NetworkManagerRenderer().render(NetworkDesign(interfaces: [try oneSecondary()], sysctls: []))
        XCTAssertEqual(files, [path: """
            # Managed by eni-agent for 52:54:00:00:02:0a; local changes are overwritten.
            [connection]
            id=eni-agent-eth1
            uuid=656e6961-6765-4e74-8000-52540000020a
            type=ethernet
            autoconnect=true
            autoconnect-priority=100

            [ethernet]
            mac-address=52:54:00:00:02:0A

            [ipv4]
            method=manual
            address1=10.0.2.10/24
            address2=10.0.2.11/24
            never-default=true
            route1=10.0.2.0/24,0.0.0.0,0
            route1_options=table=10002
            route2=0.0.0.0/0,10.0.2.1,0
            route2_options=table=10002
            routing-rule1=priority 10002 from 10.0.2.10 table 10002
            routing-rule2=priority 10002 from 10.0.2.11 table 10002

            [ipv6]
            method=link-local

            """])
    }

    /// The UUID is the MAC's: the same ENI is the same profile, another ENI another one.
    func testTheUUIDFollowsTheMAC() throws {
        XCTAssertEqual(NetworkManagerRenderer.uuid(try MACAddress("02:0a:ff:00:10:01")), "656e6961-6765-4e74-8000-020aff001001")
        XCTAssertNotEqual(NetworkManagerRenderer.uuid(try MACAddress("02:0a:ff:00:10:02")), NetworkManagerRenderer.uuid(try MACAddress("02:0a:ff:00:10:01")))
        let uuid = NetworkManagerRenderer.uuid(try MACAddress("52:54:00:00:02:0a"))
        XCTAssertEqual(uuid.split(separator: "-").map(\.count), [8, 4, 4, 4, 12])
    }

    func testHostileNamesAndObjectsItCannotWriteAreRejected() throws {
        for name in ["eth1$(x)", "eth1\nid=x", "eth 1", "eth1\\", "[ipv4]", ""] {
            XCTAssertThrowsError(try NetworkManagerRenderer().render(NetworkDesign(interfaces: [try oneSecondary(name: name)], sysctls: [])), name) {
                XCTAssertTrue("\($0)".hasPrefix("interface name "), "\($0)")
            }
        }
        let onlink = Route(table: 7, destination: try IPv4Prefix("10.0.2.0/24"), device: "eth1", scope: .universe, proto: 4)
        XCTAssertThrowsError(try NetworkManagerRenderer.routeLines(onlink, index: 1, device: "eth1"))
        let other = Route(table: 7, destination: try IPv4Prefix("10.0.2.0/24"), device: "eth2", scope: .link, proto: 4)
        XCTAssertThrowsError(try NetworkManagerRenderer.routeLines(other, index: 1, device: "eth1"))
        XCTAssertThrowsError(try NetworkManagerRenderer.ruleText(Rule(priority: 1, source: nil, table: 7, proto: 4)))
        XCTAssertThrowsError(try NetworkManagerRenderer.ruleText(Rule(priority: 1, source: try IPv4Prefix("10.0.0.0/8"), table: 7, proto: 4)))
        XCTAssertThrowsError(try NetworkManagerRenderer.ruleText(Rule(priority: 1, source: try IPv4Prefix("10.0.0.1/32"), table: 7, proto: 4,
                                                                      hasOtherSelectors: true)))
    }

    /// Only marked files at the paths the renderer writes declare anything.
    func testOnlyItsOwnMarkedFilesDeclare() throws {
        let files = try NetworkManagerRenderer().render(NetworkDesign(interfaces: [try oneSecondary()], sysctls: []))
        let content = try XCTUnwrap(files[path])
        let r = NetworkManagerRenderer()
        XCTAssertEqual(r.declaredRules(observed(files)).count, 2)
        XCTAssertEqual(r.declaredRoutes(observed(files)).count, 2)
        let unmarked = String(content.drop { $0 != "\n" }.dropFirst())
        XCTAssertTrue(unmarked.hasPrefix("[connection]"))
        XCTAssertEqual(r.declaredRules(observed([path: unmarked])), [])
        XCTAssertEqual(r.declaredRoutes(observed([path: unmarked])), [])
        for p in [
            "/etc/NetworkManager/system-connections/sub/eni-agent-eth1.nmconnection",
            "/run/NetworkManager/system-connections/eni-agent-eth1.nmconnection",
            "/etc/NetworkManager/system-connections/eth1.nmconnection",
            "/etc/NetworkManager/system-connections/eni-agent-eth1.nmconnection~",
            "/etc/NetworkManager/system-connections/eni-agent-eth1$(x).nmconnection",
            "/etc/NetworkManager/system-connections/eni-agent-.nmconnection",
            "/etc/NetworkManager/system-connections/.eni-agent-eth1.nmconnection.eni-agent-tmp",
            "/etc/systemd/network/05-eni-agent-eth1.network",
        ] {
            XCTAssertEqual(r.declaredRules(observed([p: content])), [], p)
            XCTAssertEqual(r.declaredRoutes(observed([p: content])), [], p)
        }
        XCTAssertEqual(r.declaredRules([path: ObservedFile(.symlink)]), [])
        XCTAssertEqual(r.declaredRoutes([path: ObservedFile(.other)]), [])
        // The device of a declared route is the interface the file is named after.
        XCTAssertEqual(Set(r.declaredRoutes(observed([NetworkManagerRenderer.path("ens5"): content])).map(\.device)), ["ens5"])
    }

    /// A line the renderer would not write declares nothing; the good lines of the file still do.
    /// A file GKeyFile might read otherwise (a key or group twice, a line that is neither) declares
    /// nothing at all.
    func testALineItWouldNotWriteDeclaresNothing() throws {
        let marker = FileMarker.line(owner: try MACAddress("52:54:00:00:02:0a"))
        func file(_ ipv4: [String]) -> [String: ObservedFile] {
            observed([path: ([marker, "[connection]", "id=eni-agent-eth1", "", "[ipv4]", "method=manual"] + ipv4 + ["", "[ipv6]", "method=link-local"])
                .joined(separator: "\n") + "\n"])
        }
        let goodRule = "routing-rule1=priority 10002 from 10.0.2.10 table 10002"
        let goodRoute = ["route1=10.0.2.0/24,0.0.0.0,0", "route1_options=table=10002"]
        let rule = Rule(priority: 10002, source: try IPv4Prefix("10.0.2.10/32"), table: 10002, proto: 4)
        let route = Route(table: 10002, destination: try IPv4Prefix("10.0.2.0/24"), device: "eth1", scope: .link, proto: 4)
        let gwRoute = Route(table: 10002, destination: .any, gateway: try IPv4Address("10.0.2.1"), device: "eth1", proto: 4)
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(file([goodRule] + goodRoute)), [rule])
        XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(file([goodRule] + goodRoute + ["route2=0.0.0.0/0,10.0.2.1,0", "route2_options=table=10002"])),
                       [route, gwRoute])

        let badRules = [
            "routing-rule2=priority 10002 from 10.0.2.10/32 table 10002", "routing-rule2=priority 10002 from 10.0.2.0/24 table 10002",
            "routing-rule2=priority 10002 from 10.0.2.010 table 10002", "routing-rule2=priority 10002 from all table 10002",
            "routing-rule2=priority 10002 from 10.0.2.10 table 10002 fwmark 1", "routing-rule2=priority 10002 not from 10.0.2.10 table 10002",
            "routing-rule2=from 10.0.2.10 table 10002 priority 10002", "routing-rule2=priority 010002 from 10.0.2.10 table 10002",
            "routing-rule2=priority 10002 from 10.0.2.10 table main", "routing-rule2=priority 10002  from 10.0.2.10 table 10002",
            "routing-rule2=priority 10002 from 10.0.2.10 table 10002 ", "routing-rule2=priority 10002 from 10.0.2.10 table 4294967296",
            "routing-rule0=priority 10002 from 10.0.2.11 table 10002", "routing-rule02=priority 10002 from 10.0.2.11 table 10002",
            "routing-rule=priority 10002 from 10.0.2.11 table 10002", "routing-rules2=priority 10002 from 10.0.2.11 table 10002",
        ]
        for bad in badRules {
            XCTAssertEqual(NetworkManagerRenderer().declaredRules(file([goodRule, bad])), [rule], bad)
        }
        let badRoutes: [[String]] = [
            ["route2=10.0.3.0/24,0.0.0.0", "route2_options=table=10002"], ["route2=10.0.3.0/24", "route2_options=table=10002"],
            ["route2=10.0.3.0/24,0.0.0.0,0"], ["route2=10.0.3.0/24,0.0.0.0,0", "route2_options=table=10002,scope=253"],
            ["route2=10.0.3.0/24,0.0.0.0,0", "route2_options=table=main"], ["route2=10.0.3.0/24,0.0.0.0,0", "route3_options=table=10002"],
            ["route2=10.0.3.1/24,0.0.0.0,0", "route2_options=table=10002"], ["route2=10.0.3.0/24,0.0.0.0,00", "route2_options=table=10002"],
            ["route2=10.0.3.0/24,::,0", "route2_options=table=10002"], ["route2=10.0.3.0/24,0.0.0.0,0,1", "route2_options=table=10002"],
            ["route2=10.0.3.0/24,0.0.0.0,0", "route2_options=table=010002"], ["route2=default,10.0.2.1,0", "route2_options=table=10002"],
            ["route0=10.0.3.0/24,0.0.0.0,0", "route0_options=table=10002"], ["routes2=10.0.3.0/24,0.0.0.0,0", "routes2_options=table=10002"],
            ["route2=10.0.3.0/24,0.0.0.0,0 ", "route2_options=table=10002"],
        ]
        for bad in badRoutes {
            XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(file(goodRoute + bad)), [route], "\(bad)")
        }
        // The whole file declares nothing.
        for bad in [
            [goodRule, goodRule], goodRoute + [goodRoute[0]], [goodRule, "[ipv4]"], [goodRule, "garbage"], [goodRule, " route9=x"],
            [goodRule, "Route1=10.0.2.0/24,0.0.0.0,0"], [goodRule, "route 2=x"], [goodRule, "[ipv6"],
        ] {
            XCTAssertEqual(NetworkManagerRenderer().declaredRules(file(bad + goodRoute)), [], "\(bad)")
            XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(file(bad + goodRoute)), [], "\(bad)")
        }
        // Lines in another group are not the profile's IPv4 routes and rules.
        let elsewhere = observed([path: [marker, "[ipv6]", goodRule, goodRoute[0], goodRoute[1]].joined(separator: "\n") + "\n"])
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(elsewhere), [])
        XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(elsewhere), [])
    }
}

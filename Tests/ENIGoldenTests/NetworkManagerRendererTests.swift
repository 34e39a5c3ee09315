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

    /// A dual-stack ENI: `[ipv6]` with `method=manual` (no router advertisements, no DHCPv6), its
    /// /128 addresses, `never-default`, the IPv6 routes of its table with the agent's metric written
    /// out (1024; NetworkManager would give a route without one the profile's), its IPv6 rules; the
    /// other groups as they are without IPv6.
    func testTheFileOfADualStackENI() throws {
        let d = try RendererFixtures.dualStack(name: "eth1", table: 10002, ruleProto: 4, routeProto: 4)
        let files = try NetworkManagerRenderer().render(NetworkDesign(interfaces: [d], sysctls: []))
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
            method=manual
            address1=2001:db8:2::10/128
            address2=2001:db8:2::11/128
            address3=2001:db8:2::12/128
            never-default=true
            route1=2001:db8:2::/64,::,1024
            route1_options=table=10002
            route2=::/0,2001:db8:2::1,1024
            route2_options=table=10002
            routing-rule1=priority 10002 from 2001:db8:2::10 table 10002
            routing-rule2=priority 10002 from 2001:db8:2::11 table 10002
            routing-rule3=priority 10002 from 2001:db8:2::12 table 10002

            """])
        // Read back: the design's routes and rules, IPv6 ones included.
        XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(observed(files)), d.routes)
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(observed(files)), d.rules)
        XCTAssertEqual(d.routes.filter { $0.family == .v6 }.map(\.metric), [1024, 1024])
        XCTAssertEqual(d.rules.filter { $0.family == .v6 }.count, 3)
        // Up to its [ipv6] group, the file of the same ENI without IPv6.
        let ipv4Only = try XCTUnwrap(try NetworkManagerRenderer().render(NetworkDesign(interfaces: [try oneSecondary()], sysctls: []))[path])
        let dual = try XCTUnwrap(files[path])
        XCTAssertEqual(dual.split(separator: "\n\n").dropLast(), ipv4Only.split(separator: "\n\n").dropLast())
        XCTAssertEqual(dual.split(separator: "\n\n").count, 4)
        XCTAssertTrue(ipv4Only.hasSuffix("[ipv6]\nmethod=link-local\n"))
    }

    /// A router the metadata does not name, known from router advertisements: link-local, the
    /// gateway of the IPv6 default route as it is.
    func testTheFileOfAnENIWhoseRouterIsLinkLocal() throws {
        let d = try RendererFixtures.linkLocalRouter(name: "ens6", table: 10003, ruleProto: 4, routeProto: 4)
        let files = try NetworkManagerRenderer().render(NetworkDesign(interfaces: [d], sysctls: []))
        XCTAssertEqual(files, [NetworkManagerRenderer.path("ens6"): """
            # Managed by eni-agent for 52:54:00:00:02:0a; local changes are overwritten.
            [connection]
            id=eni-agent-ens6
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
            route1_options=table=10003
            route2=0.0.0.0/0,10.0.2.1,0
            route2_options=table=10003
            routing-rule1=priority 10003 from 10.0.2.10 table 10003
            routing-rule2=priority 10003 from 10.0.2.11 table 10003

            [ipv6]
            method=manual
            address1=2001:db8:2::20/128
            never-default=true
            route1=2001:db8:2::/64,::,1024
            route1_options=table=10003
            route2=::/0,fe80::1:ff:fe00:1,1024
            route2_options=table=10003
            routing-rule1=priority 10003 from 2001:db8:2::20 table 10003

            """])
        XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(observed(files)), d.routes)
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(observed(files)), d.rules)
        for name in ["ens6$(x)", "ens6\nid=x", "[ipv6]"] {
            XCTAssertThrowsError(try NetworkManagerRenderer().render(NetworkDesign(interfaces: [
                try RendererFixtures.linkLocalRouter(name: name, table: 10003, ruleProto: 4, routeProto: 4),
            ], sysctls: [])), name)
        }
    }

    /// IPv6 objects it cannot write: a route with a scope, a gateway of the other family, a rule
    /// from a network.
    func testIPv6ObjectsItCannotWriteAreRejected() throws {
        let subnet = Route(table: 7, destination: .v6(try IPv6Prefix("2001:db8:2::/64")), device: "eth1", proto: 4)
        XCTAssertEqual(try NetworkManagerRenderer.routeLines(subnet, index: 1, device: "eth1"),
                       ["route1=2001:db8:2::/64,::,1024", "route1_options=table=7"])
        var scoped = subnet
        scoped.scope = .link
        XCTAssertThrowsError(try NetworkManagerRenderer.routeLines(scoped, index: 1, device: "eth1"))
        var mixed = subnet
        mixed.gateway = .v4(try IPv4Address("10.0.2.1"))
        XCTAssertThrowsError(try NetworkManagerRenderer.routeLines(mixed, index: 1, device: "eth1"))
        XCTAssertThrowsError(try NetworkManagerRenderer.ruleText(Rule(priority: 1, source: .v6(try IPv6Prefix("2001:db8:2::/64")), table: 7, proto: 4)))
        XCTAssertEqual(try NetworkManagerRenderer.ruleText(Rule(priority: 1, source: .v6(try IPv6Prefix("2001:db8:2::10/128")), table: 7, proto: 4)),
                       "priority 1 from 2001:db8:2::10 table 7")
    }

    /// An `[ipv6]` line the renderer would not write declares nothing; nor does a line of one family
    /// in the other's group.
    func testAnIPv6LineItWouldNotWriteDeclaresNothing() throws {
        let marker = FileMarker.line(owner: try MACAddress("52:54:00:00:02:0a"))
        func file(ipv4: [String] = [], _ ipv6: [String]) -> [String: ObservedFile] {
            observed([path: ([marker, "[connection]", "id=eni-agent-eth1", "", "[ipv4]", "method=manual"] + ipv4
                + ["", "[ipv6]", "method=manual"] + ipv6).joined(separator: "\n") + "\n"])
        }
        let goodRule = "routing-rule1=priority 10002 from 2001:db8:2::10 table 10002"
        let goodRoute = ["route1=2001:db8:2::/64,::,1024", "route1_options=table=10002"]
        let rule = Rule(priority: 10002, source: .v6(try IPv6Prefix("2001:db8:2::10/128")), table: 10002, proto: 4)
        let route = Route(table: 10002, destination: .v6(try IPv6Prefix("2001:db8:2::/64")), device: "eth1", proto: 4)
        let gwRoute = Route(table: 10002, destination: .any(.v6), gateway: .v6(try IPv6Address("fe80::1")), device: "eth1", proto: 4)
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(file([goodRule] + goodRoute)), [rule])
        XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(file(goodRoute + ["route2=::/0,fe80::1,1024", "route2_options=table=10002"])),
                       [route, gwRoute])
        // The IPv4 group's lines come first, each group's in the order of their numbers.
        let v4Rule = Rule(priority: 10002, source: try IPv4Prefix("10.0.2.10/32"), table: 10002, proto: 4)
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(file(ipv4: ["routing-rule1=priority 10002 from 10.0.2.10 table 10002"],
                                                                   ["routing-rule2=priority 10002 from 2001:db8:2::11 table 10002", goodRule])),
                       [v4Rule, rule, Rule(priority: 10002, source: .v6(try IPv6Prefix("2001:db8:2::11/128")), table: 10002, proto: 4)])

        for bad in [
            "routing-rule2=priority 10002 from 2001:db8:2::10/128 table 10002", "routing-rule2=priority 10002 from 2001:DB8:2::10 table 10002",
            "routing-rule2=priority 10002 from 2001:db8:2:0:0:0:0:10 table 10002", "routing-rule2=priority 10002 from 2001:db8:2::/64 table 10002",
            "routing-rule2=priority 10002 from 10.0.2.10 table 10002", "routing-rule2=priority 10002 from ::/0 table 10002",
            "routing-rule2=priority 10002 from [2001:db8:2::10] table 10002",
        ] {
            XCTAssertEqual(NetworkManagerRenderer().declaredRules(file([goodRule, bad])), [rule], bad)
        }
        let badRoutes: [[String]] = [
            ["route2=2001:db8:3::/64,0.0.0.0,1024", "route2_options=table=10002"], ["route2=10.0.3.0/24,0.0.0.0,0", "route2_options=table=10002"],
            ["route2=2001:DB8:3::/64,::,1024", "route2_options=table=10002"], ["route2=2001:db8:3:0::/64,::,1024", "route2_options=table=10002"],
            ["route2=2001:db8:3::1/64,::,1024", "route2_options=table=10002"], ["route2=::/0,FE80::1,1024", "route2_options=table=10002"],
            ["route2=::/0,fe80::1%eth1,1024", "route2_options=table=10002"], ["route2=2001:db8:3::/64,::", "route2_options=table=10002"],
            ["route2=2001:db8:3::/64,0::0,1024", "route2_options=table=10002"], ["route2=2001:db8:3::/64,::,01024", "route2_options=table=10002"],
            ["route2=default,fe80::1,1024", "route2_options=table=10002"],
        ]
        for bad in badRoutes {
            XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(file(goodRoute + bad)), [route], "\(bad)")
        }
        // IPv6 lines in [ipv4] are not the profile's routes and rules.
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(file(ipv4: [goodRule], [])), [])
        XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(file(ipv4: goodRoute, [])), [])
        // A key twice in [ipv6]: the file declares nothing.
        XCTAssertEqual(NetworkManagerRenderer().declaredRoutes(file(goodRoute + [goodRoute[0]])), [])
        XCTAssertEqual(NetworkManagerRenderer().declaredRules(file(ipv4: ["routing-rule1=priority 10002 from 10.0.2.10 table 10002"],
                                                                   [goodRule, goodRule])), [])
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

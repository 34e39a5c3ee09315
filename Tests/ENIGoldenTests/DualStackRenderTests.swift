import ENIModel
import ENIPlanner
import ENIRender
@testable import ENIPlannerTests
import XCTest

/// The planner with the renderers the agent ships, on a machine with a dual-stack secondary ENI:
/// each renderer's files hold its IPv6, the plan converges, and the network manager's copies of
/// the IPv6 routes and rules (NetworkManager: static; networkd's rules: static) are the agent's.
final class DualStackRenderTests: XCTestCase {
    let kinds: [RendererKind] = [.ifcfg, .networkd, .networkmanager]

    func renderer(_ k: RendererKind) -> any FileRenderer { k.renderer(nmControlled: false) }
    func retired(but k: RendererKind) -> [any FileRenderer] { kinds.filter { $0 != k }.map(renderer) }

    /// Plans, applies, plans again: nothing more to do.
    func configured(_ k: RendererKind, _ instance: Instance, _ observed: ObservedState,
                    file: StaticString = #filePath, line: UInt = #line) -> ObservedState {
        let plan = Planner.plan(desired: instance, observed: observed, config: PlannerConfig(), renderer: renderer(k), retired: retired(but: k))
        XCTAssertEqual(plan.problems.map(\.message), [], "\(k)", file: file, line: line)
        let state = simulate(plan, on: observed)
        XCTAssertEqual(Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer(k), retired: retired(but: k))
            .actions.map(\.change.command), [], "\(k): converged", file: file, line: line)
        return state
    }

    func testEachRendererWritesTheIPv6AndConverges() throws {
        for router in [nil, "fe80::1:ff:fe00:1"] {
            let (instance, observed) = try RendererFixtures.dualStackMachine(advertisedRouter: router)
            for k in kinds {
                let state = configured(k, instance, observed)
                let design = Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer(k)).design
                let eth1 = try XCTUnwrap(design.interfaces.first { $0.name == "eth1" })
                XCTAssertEqual(eth1.ipv6Gateway, try IPv6Address(router ?? "2001:db8:2::1"))
                XCTAssertEqual(eth1.routes.filter { $0.family == .v6 }.count, 2, "\(k)")
                XCTAssertEqual(eth1.rules.filter { $0.family == .v6 }.count, 2, "\(k)")
                // The kernel holds the design's IPv6 routes and rules, with the protocols the
                // renderer's manager gives them.
                XCTAssertTrue(Set(state.routes).isSuperset(of: eth1.routes), "\(k)")
                XCTAssertTrue(Set(state.rules).isSuperset(of: eth1.rules), "\(k)")
                // What the files declare, read back, is the design's where the manager sets the protocol.
                let r = renderer(k)
                if r.ruleProtocol != nil { XCTAssertEqual(r.declaredRules(state.files), eth1.rules, "\(k)") }
                if r.routeProtocol != nil { XCTAssertEqual(r.declaredRoutes(state.files), eth1.routes, "\(k)") }
                let gateway = router ?? "2001:db8:2::1"
                let text = state.files.filter { FileMarker.owner(of: $0.value.content ?? "") == eth1.mac }.values.compactMap(\.content).joined()
                XCTAssertTrue(text.contains("2001:db8:2::11"), "\(k)")
                XCTAssertTrue(text.contains(gateway), "\(k)")
                XCTAssertTrue(state.files[SysctlRenderer.path]?.content?.contains("net.ipv6.conf.eth1.accept_ra_defrtr = 0") ?? false, "\(k)")
            }
        }
    }

    /// ifcfg -> NetworkManager -> networkd -> ifcfg: each step converges; no IPv6 rule or route
    /// stays twice (a manager's copy beside the agent's).
    func testASwitchOfRendererKeepsOneCopyOfEachIPv6Object() throws {
        let (instance, observed) = try RendererFixtures.dualStackMachine(advertisedRouter: "fe80::1:ff:fe00:1")
        var state = configured(.ifcfg, instance, observed)
        XCTAssertNotNil(state.files["/etc/sysconfig/network-scripts/route6-eth1"])
        for k in [RendererKind.networkmanager, .networkd, .ifcfg] {
            state = configured(k, instance, state)
            let v6Rules = state.rules.filter { $0.family == .v6 }
            let v6Routes = state.routes.filter { $0.family == .v6 && $0.table != 254 }
            XCTAssertEqual(v6Rules.count, 2, "\(k): \(v6Rules)")
            XCTAssertEqual(v6Routes.count, 2, "\(k): \(v6Routes)")
            XCTAssertEqual(Set(v6Rules.map(\.proto)), [k == .ifcfg ? 234 : 4], "\(k)")
            XCTAssertEqual(Set(v6Routes.map(\.proto)), [k == .networkmanager ? 4 : 234], "\(k)")
        }
        // Back to ifcfg: the other renderers' files are gone.
        XCTAssertEqual(state.files.keys.filter { $0.hasPrefix("/etc/NetworkManager") || $0.hasPrefix("/etc/systemd") }, [])
    }
}

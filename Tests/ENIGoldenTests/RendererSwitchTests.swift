import ENIModel
import ENIPlanner
import ENIRender
@testable import ENIPlannerTests
import Foundation
import XCTest

/// A change of renderer (an upgrade where `auto` now finds NetworkManager rather than ifcfg, an
/// operator's new `renderer =`): the renderer in effect writes its files, the agent's files of the
/// retired ones go, and the rules and routes those declared are the agent's to keep or replace.
final class RendererSwitchTests: XCTestCase {
    func fixture() throws -> (Instance, ObservedState, PlannerConfig) {
        let dir = GoldenTests.dir.appending(path: "eight-secondaries")
        let f = try JSONDecoder().decode(ObservedFixture.self, from: try Data(contentsOf: dir.appending(path: "observed.json")))
        let instance = try InstanceJSON.parse(Array(try Data(contentsOf: dir.appending(path: "instance.json"))), source: "instance.json")
        return (instance, try f.state(), f.plannerConfig())
    }

    func renderer(_ k: RendererKind) -> any FileRenderer { k.renderer(nmControlled: false) }
    func retired(but k: RendererKind) -> [any FileRenderer] {
        RendererKind.allCases.filter { $0 != k && $0 != .auto && $0 != .none }.map(renderer)
    }
    /// The machine configured with `k` and nothing else retired (as the agent was before).
    func configured(_ k: RendererKind, _ instance: Instance, _ observed: ObservedState, _ config: PlannerConfig) -> ObservedState {
        let state = simulate(Planner.plan(desired: instance, observed: observed, config: config, renderer: renderer(k)), on: observed)
        XCTAssertEqual(Planner.plan(desired: instance, observed: state, config: config, renderer: renderer(k), retired: retired(but: k)).actions.count, 0,
                       "\(k): converged, and the other renderers' paths hold nothing of the agent's")
        return state
    }
    func paths(_ plan: Plan, removed: Bool) -> [String] {
        plan.actions.compactMap { a in
            switch a.change {
            case .writeFile(let p, _, _, _, _) where !removed: p
            case .removeFile(let p, _) where removed: p
            default: nil
            }
        }
    }

    func testIfcfgToNetworkManagerToNetworkdToNone() throws {
        let (instance, observed, config) = try fixture()
        let ifcfg = configured(.ifcfg, instance, observed, config)
        let ifcfgFiles = ifcfg.files.filter { $0.key.hasPrefix(IfcfgRenderer.directory + "/") && FileMarker.isManaged($0.value.content ?? "") }.keys
        XCTAssertEqual(ifcfgFiles.count, 24)

        // ifcfg -> NetworkManager: the keyfiles written, the ifcfg files removed; the rules and
        // routes (protocol 234) replaced by NetworkManager's protocol.
        let toNM = Planner.plan(desired: instance, observed: ifcfg, config: config, renderer: renderer(.networkmanager), retired: retired(but: .networkmanager))
        XCTAssertEqual(paths(toNM, removed: true).sorted(), ifcfgFiles.sorted(), "the image's own ifcfg-eth0 (no marker) stays")
        XCTAssertEqual(Set(toNM.actions.filter { if case .removeFile = $0.change { true } else { false } }.map(\.reason)),
                       ["written for another renderer than the one in effect"])
        XCTAssertEqual(paths(toNM, removed: false).filter { $0.hasSuffix(".nmconnection") }.count, 8)
        let nm = simulate(toNM, on: ifcfg)
        XCTAssertEqual(Set(nm.rules.filter { $0.table > config.tableBase }.map(\.proto)), [4])
        XCTAssertEqual(Set(nm.routes.filter { $0.table > config.tableBase }.map(\.proto)), [4])
        XCTAssertEqual(Planner.plan(desired: instance, observed: nm, config: config, renderer: renderer(.networkmanager),
                                    retired: retired(but: .networkmanager)).actions.map(\.change.command), [])

        // NetworkManager -> networkd: the keyfiles go; the rules (static, declared by the keyfiles
        // and now by the .network files) stay as they are; the routes take the agent's protocol
        // (the .network files say Protocol=234).
        let toNetworkd = Planner.plan(desired: instance, observed: nm, config: config, renderer: renderer(.networkd), retired: retired(but: .networkd))
        XCTAssertEqual(paths(toNetworkd, removed: true), (1...8).map { "/etc/NetworkManager/system-connections/eni-agent-eth\($0).nmconnection" })
        XCTAssertFalse(toNetworkd.actions.contains { if case .removeRule = $0.change { true } else { false } })
        let networkd = simulate(toNetworkd, on: nm)
        XCTAssertEqual(Set(networkd.routes.filter { $0.table > config.tableBase }.map(\.proto)), [config.proto])
        XCTAssertEqual(Planner.plan(desired: instance, observed: networkd, config: config, renderer: renderer(.networkd),
                                    retired: retired(but: .networkd)).actions.map(\.change.command), [])

        // networkd -> none: every file of the agent's goes (the sysctl.d file too); the rules
        // networkd's files declared are replaced by the agent's own protocol.
        let toNone = Planner.plan(desired: instance, observed: networkd, config: config, renderer: renderer(.none), retired: retired(but: .none))
        XCTAssertEqual(toNone.actions.filter { if case .removeRule = $0.change { true } else { false } }.count, 8 * 30)
        // Without the retired renderers, networkd's copies of the rules would be another program's
        // and stay beside the agent's own: two rules for each IP.
        XCTAssertEqual(Planner.plan(desired: instance, observed: networkd, config: config, renderer: renderer(.none))
            .actions.filter { if case .removeRule = $0.change { true } else { false } }.count, 0)
        XCTAssertEqual(paths(toNone, removed: true), (1...8).map { NetworkdRenderer.path("eth\($0)") } + [SysctlRenderer.path])
        let none = simulate(toNone, on: networkd)
        XCTAssertEqual(Set(none.rules.filter { $0.table > config.tableBase }.map(\.proto)), [config.proto])
        XCTAssertEqual(Planner.plan(desired: instance, observed: none, config: config, renderer: renderer(.none),
                                    retired: retired(but: .none)).actions.map(\.change.command), [])
    }

    /// Files of an ENI left alone stay, whichever renderer wrote them; files without the marker
    /// are never touched.
    func testAnENILeftAloneKeepsTheFormerRenderersFiles() throws {
        var (instance, observed, config) = try fixture()
        let networkd = configured(.networkd, instance, observed, config)
        let eth3 = try XCTUnwrap(networkd.links.first { $0.name == "eth3" }?.mac)
        instance.unknown[eth3] = .invalid("metadata: 500")
        instance.enis.removeAll { $0.mac == eth3 }
        observed = networkd
        observed.files["/etc/systemd/network/50-mine.network"] = ObservedFile(.regular(content: "[Match]\nName=eth9\n"))
        let plan = Planner.plan(desired: instance, observed: observed, config: config, renderer: renderer(.networkmanager), retired: retired(but: .networkmanager))
        XCTAssertEqual(paths(plan, removed: true), (1...8).filter { $0 != 3 }.map { NetworkdRenderer.path("eth\($0)") })
        XCTAssertFalse(paths(plan, removed: false).contains { $0.contains("eth3") })
    }
}

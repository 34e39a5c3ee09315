import ENIModel
import ENIPlanner
import ENIRender
@testable import ENIPlannerTests
import Foundation
import XCTest

/// The plan and the files together, end to end: the planner with the renderers the agent ships.
/// Golden cases: `Golden/<case>/` holds `instance.json` (the metadata-file format), `observed.json`
/// (the kernel and files, see `ObservedFixture`), optionally `previous.json` (an instance whose plan
/// is applied to the observed state first, to start from a configured machine, and `gone` links
/// removed afterwards), and `expected.txt`. Set `UPDATE_GOLDEN=1` to rewrite the expected files.
final class GoldenTests: XCTestCase {
    static let dir = Bundle.module.resourceURL!.appending(path: "Golden")
    /// The source tree's copy, for UPDATE_GOLDEN.
    static let sourceDir = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "Golden")

    func load(_ name: String, _ file: String) throws -> Data? {
        let url = Self.dir.appending(path: name).appending(path: file)
        return FileManager.default.fileExists(atPath: url.path) ? try Data(contentsOf: url) : nil
    }

    struct Extra: Decodable { var gone: [String]? }

    /// Plans the case and compares with `expected.txt`; returns the plan and the state it was made on.
    @discardableResult
    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> (Plan, ObservedState, Instance?, ObservedFixture) {
        let fixture = try JSONDecoder().decode(ObservedFixture.self, from: try load(name, "observed.json")!)
        var observed = try fixture.state()
        let config = fixture.plannerConfig()
        if let prev = try load(name, "previous.json") {
            let before = try InstanceJSON.parse(Array(prev), source: "previous.json")
            var full = config
            full.interfaces = []
            full.exclusions = .none
            observed = simulate(Planner.plan(desired: before, observed: observed, config: full, renderer: fixture.renderer), on: observed)
            if let extra = try load(name, "gone.json") {
                // Links detached since: the kernel drops the link, its addresses and its routes.
                for g in try JSONDecoder().decode(Extra.self, from: extra).gone ?? [] {
                    observed.links.removeAll { $0.name == g }
                    observed.addresses.removeAll { $0.device == g }
                    observed.routes.removeAll { $0.device == g }
                }
            }
        }
        var text: String
        var plan: Plan?
        var instance: Instance?
        do {
            instance = try InstanceJSON.parse(Array(try load(name, "instance.json")!), source: "instance.json")
            plan = Planner.plan(desired: instance!, observed: observed, config: config, renderer: fixture.renderer)
            text = goldenText(plan!)
        } catch {
            text = "## error\n\(error)\n"
        }
        let expectedURL = Self.sourceDir.appending(path: name).appending(path: "expected.txt")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil {
            try Data(text.utf8).write(to: expectedURL)
        }
        let expected = String(decoding: try load(name, "expected.txt") ?? Data(), as: UTF8.self)
        XCTAssertEqual(text, expected, "golden \(name) differs; UPDATE_GOLDEN=1 rewrites it", file: file, line: line)
        if let plan {
            return (plan, observed, instance, fixture)
        }
        throw XCTSkip("case \(name) is an error case")
    }

    /// After applying a case's plan, planning again yields nothing: the plan is complete and idempotent.
    func assertConverges(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (plan, observed, instance, fixture) = try check(name, file: file, line: line)
        let after = simulate(plan, on: observed)
        let again = Planner.plan(desired: instance!, observed: after, config: fixture.plannerConfig(), renderer: fixture.renderer)
        XCTAssertEqual(again.actions.map(\.change.command), [], "\(name): second plan is not empty", file: file, line: line)
    }

    func testPrimaryOnly() throws { try assertConverges("primary-only") }
    func testOneSecondary() throws { try assertConverges("one-secondary") }
    func testEightSecondaries30IPs() throws {
        try assertConverges("eight-secondaries")
        let (plan, _, _, _) = try check("eight-secondaries")
        // 8 ENIs × 30 IPs: 240 addresses and 240 rules, tables 10001...10008, all distinct.
        XCTAssertEqual(plan.actions.filter { if case .addRule = $0.change { true } else { false } }.count, 240)
        XCTAssertEqual(Set(plan.design.interfaces.compactMap(\.table)).count, 8)
    }
    func testIPAdded() throws { try assertConverges("ip-added") }
    /// IPv6: a dual-stack ENI of each shape (the router from advertisements, from the metadata),
    /// with each renderer; an address moved; an IPv6 leaf in error and hostile IPv6 values, which
    /// hold that ENI's IPv6 (its addresses, rules, routes and files) while its IPv4 goes on.
    func testIPv6DualStack() throws {
        for name in ["ipv6-dual-stack", "networkd-ipv6-dual-stack", "networkmanager-ipv6-dual-stack"] { try assertConverges(name) }
    }
    /// IPv6-only ENIs (no IPv4 in the metadata), with each renderer: the router from advertisements
    /// (eth1, whose foreign IPv4 address stays), from the metadata (eth2), not known yet (eth3:
    /// nothing but its IPv6 settings and its link, and the ENI pending).
    func testIPv6Only() throws {
        for name in ["ipv6-only", "networkd-ipv6-only", "networkmanager-ipv6-only"] {
            try assertConverges(name)
            let (plan, _, _, _) = try check(name)
            XCTAssertEqual(plan.problems, [], name)
            // Nothing IPv4 on the IPv6-only ENIs: no address, route, rule or rp_filter.
            XCTAssertFalse(plan.actions.contains { a in
                a.interface != "eth0" && !a.change.isFile && (a.change.command.contains("ip addr") || a.change.command.contains("ip route")
                    || a.change.command.contains("ip rule") || a.change.command.contains("rp_filter"))
            }, name)
            XCTAssertFalse(plan.actions.contains { $0.change.command.contains("192.168.50.5") }, name)
            let eth3 = plan.enis.first { $0.mac.description == "52:54:00:00:04:0a" }!
            XCTAssertEqual(plan.condition(of: eth3).condition, .pending, name)
            XCTAssertFalse(plan.actions.contains { $0.interface == "eth3" && $0.change.command.contains(" -6 ") }, name)
        }
    }
    func testIPv6Moved() throws { try assertConverges("ipv6-moved") }
    func testIPv6ErrorHoldsOnlyIPv6() throws {
        try assertConverges("ipv6-error")
        let (plan, _, _, _) = try check("ipv6-error")
        XCTAssertFalse(plan.actions.contains { $0.interface == "eth2" && ($0.change.isFile || $0.change.command.contains(" -6 ")) })
        XCTAssertTrue(plan.actions.contains { $0.change.command == "+ ip addr add 10.0.3.12/24 dev eth2" })
    }
    func testIPv6HostileValues() throws {
        try assertConverges("ipv6-hostile")
        let (plan, _, _, _) = try check("ipv6-hostile")
        XCTAssertEqual(plan.problems.count, 2, "\(plan.problems)")
        XCTAssertFalse(plan.actions.contains { $0.change.command.contains(" -6 ") || $0.change.command.contains("reboot") })
    }
    func testIPRemoved() throws { try assertConverges("ip-removed") }
    func testENIDetached() throws { try assertConverges("eni-detached") }
    func testPrimaryIPChanged() throws { try assertConverges("primary-ip-changed") }
    func testForeignRulesAndRoutes() throws {
        let (plan, _, _, _) = try check("foreign-objects")
        // Nothing foreign is ever removed.
        for a in plan.actions {
            switch a.change {
            case .removeRule(let r): XCTAssertEqual(r.proto, 234, "removes foreign rule \(r)")
            case .removeRoute(let r): XCTAssertEqual(r.proto, 234, "removes foreign route \(r)")
            default: break
            }
        }
    }
    func testUnmarkedFileConflict() throws {
        let (plan, _, _, _) = try check("unmarked-file")
        XCTAssertFalse(plan.actions.contains { $0.change.command.contains("ifcfg-eth1") })
        XCTAssertEqual(plan.problems.count, 2)
    }
    func testUnmarkedFileForce() throws { try assertConverges("unmarked-file-force") }
    func testHostileMetadataValues() throws {
        for name in ["hostile-newline", "hostile-quote", "hostile-command", "hostile-space"] {
            XCTAssertThrowsError(try check(name), name)
        }
    }
    /// A description that cannot be used as a whole changes nothing: no plan is made from it.
    func testUnusableInstances() throws {
        // A /0 subnet would make the planner remove the ENI's /24 addresses; the primary MAC not
        // among the ENIs would let eth0 be rebuilt as a secondary ENI.
        for name in ["subnet-zero", "primary-not-listed"] {
            XCTAssertThrowsError(try check(name), name)
        }
    }
    func testHostileInterfaceName() throws {
        let (plan, _, _, _) = try check("hostile-ifname")
        XCTAssertFalse(plan.actions.contains { $0.change.isFile })
    }
    func testWaitingAndUnlisted() throws { try assertConverges("waiting-and-unlisted") }
    func testRPFilterOff() throws { try assertConverges("rp-filter-off") }
    func testRendererNone() throws {
        let (plan, _, _, _) = try check("renderer-none")
        XCTAssertFalse(plan.actions.contains { $0.change.isFile })
    }
    func testDeviceNumberSlots() throws { try assertConverges("device-numbers") }
    func testExcluded() throws {
        try assertConverges("excluded")
        let (plan, _, _, _) = try check("excluded")
        // Excluded by name (eth1, veth*) or by MAC (eth2): no change at all, though the metadata
        // changed for eth1 and eth2 since they were configured.
        XCTAssertTrue(plan.actions.isEmpty, plan.actions.map(\.change.command).joined(separator: "\n"))
        XCTAssertEqual(plan.enis.filter { if case .excluded = $0.state { true } else { false } }.count, 3)
    }
    /// The networkd renderer: one `.network` file per secondary ENI, none for the primary; the
    /// image's own files (netplan's for eth0) are left as they are.
    func testNetworkdEightSecondaries() throws {
        try assertConverges("networkd-eight-secondaries")
        let (plan, _, _, _) = try check("networkd-eight-secondaries")
        let written = plan.actions.compactMap { a -> String? in
            if case .writeFile(let path, _, _, _, _) = a.change { path } else { nil }
        }
        XCTAssertEqual(written, (1...8).map { "/etc/systemd/network/05-eni-agent-eth\($0).network" } + [SysctlRenderer.path])
        XCTAssertFalse(plan.actions.contains { if case .removeFile = $0.change { true } else { false } })
    }
    func testNetworkdENIDetached() throws { try assertConverges("networkd-eni-detached") }
    /// Rules with networkd's protocol that no file of the agent's declares are another program's,
    /// even in the agent's tables and at its priorities: none is removed. networkd's copy of a rule
    /// the agent wants is that rule (not added twice); the agent's own stale rule (234) goes.
    func testNetworkdForeignStaticRulesAreLeftAlone() throws {
        let (plan, _, _, _) = try check("networkd-foreign-rules")
        let removed = plan.actions.compactMap { a -> Rule? in if case .removeRule(let r) = a.change { r } else { nil } }
        XCTAssertEqual(removed.map(\.description), ["from 10.0.9.10 lookup 10009 priority 10009 protocol 234"])
        let added = plan.actions.compactMap { a -> Rule? in if case .addRule(let r) = a.change { r } else { nil } }
        XCTAssertFalse(added.contains { $0.source?.network.description == "10.0.2.10" }, "networkd's copy is the rule")
    }
    /// A link renamed to a name that cannot be written: nothing is written, and the file written
    /// under its former name stays (the ENI is left alone).
    func testNetworkdHostileInterfaceName() throws {
        let (plan, _, _, _) = try check("networkd-hostile-ifname")
        XCTAssertFalse(plan.actions.contains { $0.change.isFile })
    }
    /// The NetworkManager renderer: one 0600 keyfile per secondary ENI, none for the primary; the
    /// image's own profile (cloud-init's for eth0) is left as it is. The agent's routes and rules
    /// carry NetworkManager's protocol (static).
    func testNetworkManagerEightSecondaries() throws {
        try assertConverges("networkmanager-eight-secondaries")
        let (plan, _, _, _) = try check("networkmanager-eight-secondaries")
        let written = plan.actions.compactMap { a -> (String, UInt16)? in
            if case .writeFile(let path, _, _, let mode, _) = a.change { (path, mode) } else { nil }
        }
        XCTAssertEqual(written.map(\.0), (1...8).map { "/etc/NetworkManager/system-connections/eni-agent-eth\($0).nmconnection" } + [SysctlRenderer.path])
        XCTAssertEqual(written.map(\.1), Array(repeating: 0o600, count: 8) + [0o644])
        XCTAssertFalse(plan.actions.contains { if case .removeFile = $0.change { true } else { false } })
        for a in plan.actions {
            switch a.change {
            case .addRoute(let r): XCTAssertEqual(r.proto, 4, "\(r)")
            case .addRule(let r): XCTAssertEqual(r.proto, 4, "\(r)")
            default: break
            }
        }
        XCTAssertEqual(plan.actions.filter { if case .addRoute = $0.change { true } else { false } }.count, 16)
    }
    /// A detached ENI's keyfile goes, with NetworkManager's copies of the rules it declared.
    func testNetworkManagerENIDetached() throws {
        try assertConverges("networkmanager-eni-detached")
        let (plan, _, _, _) = try check("networkmanager-eni-detached")
        XCTAssertEqual(plan.actions.compactMap { a -> String? in if case .removeFile(let p, _) = a.change { p } else { nil } },
                       ["/etc/NetworkManager/system-connections/eni-agent-eth2.nmconnection"])
        let removed = plan.actions.compactMap { a -> Rule? in if case .removeRule(let r) = a.change { r } else { nil } }
        XCTAssertEqual(removed.map(\.description), ["from 10.0.3.10 lookup 10002 priority 10002 protocol 4",
                                                    "from 10.0.3.11 lookup 10002 priority 10002 protocol 4"])
    }
    /// Routes and rules with NetworkManager's protocol (static) that no keyfile of the agent's
    /// declares are another program's, even in the agent's tables and at its priorities: none is
    /// removed, none is taken for the agent's table. Those its keyfiles declare are the agent's: a
    /// rule of an IP gone and the default route of a gateway gone are removed, the keyfile rewritten.
    func testNetworkManagerForeignStaticObjectsAreLeftAlone() throws {
        try assertConverges("networkmanager-foreign-objects")
        let (plan, observed, _, _) = try check("networkmanager-foreign-objects")
        XCTAssertEqual(plan.problems, [])
        // The previous plan (applied to make the machine configured) left them alone too.
        let foreignRoutes = ["10.9.0.0/16 via 10.0.2.1 dev eth1 table 10001 proto 4",
                             "10.0.2.0/24 dev eth1 scope link table 10001 proto 4 metric 100",
                             "10.0.9.0/24 dev eth1 scope link table 10009 proto 4"]
        let foreignRules = ["from 10.0.2.99 lookup 10001 priority 10001 protocol 4", "from 10.0.9.9 lookup 10009 priority 10009 protocol 4"]
        XCTAssertEqual(Set(foreignRoutes).subtracting(observed.routes.map(\.description)), [])
        XCTAssertEqual(Set(foreignRules).subtracting(observed.rules.map(\.description)), [])
        let removedRules = plan.actions.compactMap { a -> Rule? in if case .removeRule(let r) = a.change { r } else { nil } }
        XCTAssertEqual(removedRules.map(\.description), ["from 10.0.2.12 lookup 10001 priority 10001 protocol 4"])
        let removedRoutes = plan.actions.compactMap { a -> Route? in if case .removeRoute(let r) = a.change { r } else { nil } }
        XCTAssertEqual(removedRoutes.map(\.description), ["default via 10.0.2.1 dev eth1 table 10001 proto 4"])
        let addedRoutes = plan.actions.compactMap { a -> Route? in if case .addRoute(let r) = a.change { r } else { nil } }
        XCTAssertEqual(addedRoutes.map(\.description), ["default via 10.0.2.254 dev eth1 table 10001 proto 4"])
        XCTAssertEqual(plan.design.interfaces.compactMap(\.table), [10001, 10002])
    }
    /// A link renamed to a name that cannot be written: nothing is written, and the keyfile written
    /// under its former name stays (the ENI is left alone).
    func testNetworkManagerHostileInterfaceName() throws {
        let (plan, _, _, _) = try check("networkmanager-hostile-ifname")
        XCTAssertFalse(plan.actions.contains { $0.change.isFile })
    }
    /// A keyfile with the right content but another mode (0644: NetworkManager would ignore it) is
    /// written again with 0600, and `diff` says so; then nothing is left to do. A mode not known
    /// (nil) is not a change; a networkd file's mode is 0644.
    func testNetworkManagerKeyfileModeIsCorrected() throws {
        let (plan, observed, instance, fixture) = try check("networkmanager-eight-secondaries")
        var after = simulate(plan, on: observed)
        let path = "/etc/NetworkManager/system-connections/eni-agent-eth3.nmconnection"
        XCTAssertEqual(after.files[path]?.mode, 0o600)
        XCTAssertEqual(after.files[SysctlRenderer.path]?.mode, 0o644)
        after.files[path]?.mode = 0o644
        let again = Planner.plan(desired: instance!, observed: after, config: fixture.plannerConfig(), renderer: fixture.renderer)
        XCTAssertEqual(again.actions.count, 1)
        let a = try XCTUnwrap(again.actions.first)
        guard case .writeFile(let p, let old, let new, let mode, let oldMode) = a.change else { return XCTFail("\(a.change)") }
        XCTAssertEqual([p, old], [path, new])
        XCTAssertEqual(mode, 0o600)
        XCTAssertEqual(oldMode, 0o644)
        XCTAssertEqual(a.interface, "eth3")
        XCTAssertEqual(a.reason, "mode 0644, not 0600")
        XCTAssertEqual(a.change.command, "+ write \(path) (mode 0644 -> 0600)")
        XCTAssertEqual(a.change.unifiedDiff, "old mode 0644\nnew mode 0600\n--- \(path)\n+++ \(path)\n")
        let third = Planner.plan(desired: instance!, observed: simulate(again, on: after), config: fixture.plannerConfig(), renderer: fixture.renderer)
        XCTAssertEqual(third.actions.map(\.change.command), [])
        // Not known: not a change.
        after.files[path]?.mode = nil
        XCTAssertEqual(Planner.plan(desired: instance!, observed: after, config: fixture.plannerConfig(), renderer: fixture.renderer).actions.count, 0)
        // A new keyfile says its mode.
        let first = try XCTUnwrap(plan.actions.first { $0.change.command.contains("eni-agent-eth1.nmconnection") })
        XCTAssertEqual(first.change.command, "+ write /etc/NetworkManager/system-connections/eni-agent-eth1.nmconnection (new, mode 0600)")
        XCTAssertTrue(first.change.unifiedDiff!.hasPrefix("new file mode 0600\n--- /dev/null\n"))
    }
    /// networkd's files are 0644: one made 0600 by hand is put back, its diff says so.
    func testNetworkdFileModeIsCorrected() throws {
        let (plan, observed, instance, fixture) = try check("networkd-eight-secondaries")
        var after = simulate(plan, on: observed)
        let path = "/etc/systemd/network/05-eni-agent-eth1.network"
        XCTAssertEqual(after.files[path]?.mode, 0o644)
        after.files[path]?.mode = 0o600
        let again = Planner.plan(desired: instance!, observed: after, config: fixture.plannerConfig(), renderer: fixture.renderer)
        XCTAssertEqual(again.actions.map(\.change.command), ["+ write \(path) (mode 0600 -> 0644)"])
    }
    func testInterfaceFilter() throws {
        let (plan, _, _, _) = try check("interface-filter")
        XCTAssertTrue(plan.actions.allSatisfy { $0.interface == nil || $0.interface == "eth2" })
    }
}

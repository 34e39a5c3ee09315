import ENIModel
import ENIPlanner
@testable import ENIPlannerTests
import ENIRender
import Foundation
import XCTest

/// ENIPlannerTests' safety checks with the files the agent writes: the ifcfg renderer with the
/// sysctl.d file, whose lines `SysctlRenderer.persistedSettings` reads back.
final class RenderedSafetyTests: XCTestCase {
    let checks = SafetyChecks(renderer: RendererKind.ifcfg.renderer(nmControlled: false))

    /// The checks' machine is the golden case's.
    func testTheMachineIsTheEightSecondariesCase() throws {
        let dir = GoldenTests.dir.appending(path: "eight-secondaries")
        let instance = try InstanceJSON.parse(Array(try Data(contentsOf: dir.appending(path: "instance.json"))), source: "instance.json")
        let fixture = try JSONDecoder().decode(ObservedFixture.self, from: try Data(contentsOf: dir.appending(path: "observed.json")))
        let (i, s) = try SafetyChecks.eightSecondaries()
        XCTAssertEqual(i, instance)
        XCTAssertEqual(s, try fixture.state())
    }

    func testAnENILeftAloneKeepsEverythingItHas() throws { try checks.anENILeftAloneKeepsEverythingItHas() }
    func testANewLinkTakesNoTableFromAConfiguredENI() throws { try checks.aNewLinkTakesNoTableFromAConfiguredENI() }
    func testAnUnknownENIKeepsItsLineFromAnOlderFile() throws {
        try checks.anUnknownENIKeepsItsLineFromAnOlderFile(
            SysctlRenderer.path,
            // Without the `# ENI` lines.
            older: { $0.split(separator: "\n").filter { !$0.hasPrefix("# ENI ") }.joined(separator: "\n") + "\n" },
            line: { "# ENI \($0)\nnet.ipv4.conf.eth3.rp_filter = 2\n" }, setting: "rp_filter = 2")
    }
    func testLeftoverTempFilesAreRemoved() throws { try checks.leftoverTempFilesAreRemoved() }
    func testTenThousandIPsNoOp() throws { try checks.tenThousandIPsNoOp() }
}

@testable import eni_agent
import ENIAgent
import Foundation
import XCTest

final class CLITests: XCTestCase {
    func testDiffParsesSharedOptionsAndFlags() throws {
        let d = try Diff.parse(["--json", "--root", "/tmp/r", "--metadata-file", "/tmp/i.json", "--renderer", "none",
                                "--interface", "eth1", "--interface", "eth2", "--force", "--rp-filter", "off", "--config", "/dev/null"])
        XCTAssertTrue(d.json)
        XCTAssertEqual(d.interfaces, ["eth1", "eth2"])
        let c = try d.options.resolve()
        XCTAssertEqual(c.root, "/tmp/r")
        XCTAssertEqual(c.metadataFile, "/tmp/i.json")
        XCTAssertEqual(c.provider, .file)
        XCTAssertEqual(c.renderer, .none)
        XCTAssertEqual(c.rpFilter, .off)
        XCTAssertTrue(c.force)
    }

    func testFlagsOverrideTheConfigFile() throws {
        let path = FileManager.default.temporaryDirectory.appending(path: "eni-cli-\(UUID().uuidString).toml").path
        try "renderer = \"none\"\nrp_filter = \"strict\"\n".write(toFile: path, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try Reconfigure.parse(["--config", path, "--rp-filter", "loose"]).options.resolve()
        XCTAssertEqual(c.renderer, .none)
        XCTAssertEqual(c.rpFilter, .loose)
    }

    func testBadValuesNameTheFlagAndValue() throws {
        XCTAssertThrowsError(try Diff.parse(["--renderer", "netplan"]).options.resolve()) {
            XCTAssertEqual("\($0)", "--renderer \"netplan\" is not one of ifcfg, none")
        }
        XCTAssertThrowsError(try Diff.parse(["--root", "relative"]).options.resolve()) {
            XCTAssertEqual("\($0)", "root \"relative\" must be an absolute path")
        }
        XCTAssertThrowsError(try Diff.parse(["--config", "/nonexistent.toml"]).options.resolve()) {
            XCTAssertEqual("\($0)", "read /nonexistent.toml: No such file or directory")
        }
    }

    func testMissingMetadataSourceIsExplained() throws {
        let c = try Diff.parse(["--config", "/dev/null"]).options.resolve()
        XCTAssertThrowsError(try Agent(config: c).provider()) {
            XCTAssertTrue("\($0)".contains("use --metadata-file PATH"), "\($0)")
        }
    }
}

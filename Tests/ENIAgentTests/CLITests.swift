import ENIApply
@testable import eni_agent
import ENIAgent
import ENIModel
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
            XCTAssertEqual("\($0)", "--renderer \"netplan\" is not one of auto, ifcfg, networkd, networkmanager, none")
        }
        XCTAssertThrowsError(try Diff.parse(["--root", "relative"]).options.resolve()) {
            XCTAssertEqual("\($0)", "root \"relative\" must be an absolute path")
        }
        XCTAssertThrowsError(try Diff.parse(["--config", "/nonexistent.toml"]).options.resolve()) {
            XCTAssertEqual("\($0)", "read /nonexistent.toml: No such file or directory")
        }
    }

    /// `--config` and `--metadata-file` read regular files only: a FIFO is an error, not a hang.
    /// `--config /dev/null` stays the way to say "no config file".
    func testConfigMustBeARegularFile() throws {
        let fifo = FileManager.default.temporaryDirectory.appending(path: "eni-cli-\(UUID().uuidString).fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { try? FileManager.default.removeItem(atPath: fifo) }
        XCTAssertThrowsError(try Diff.parse(["--config", fifo]).options.resolve()) {
            XCTAssertEqual("\($0)", "read \(fifo): a FIFO, not a regular file")
        }
        XCTAssertEqual(try Diff.parse(["--config", "/dev/null"]).options.resolve(), AgentConfig())
    }

    func testConfigMustBeUTF8() throws {
        let path = FileManager.default.temporaryDirectory.appending(path: "eni-cli-\(UUID().uuidString).toml").path
        try Data(Array("renderer = \"n".utf8) + [0xFF] + Array("ne\"\n".utf8)).write(to: URL(filePath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try Diff.parse(["--config", path]).options.resolve()) {
            XCTAssertEqual("\($0)", "\(path):1: invalid UTF-8 at byte offset 13 (0xFF)")
        }
    }

    func testMissingMetadataSourceIsExplained() throws {
        let c = try Diff.parse(["--config", "/dev/null", "--provider", "file"]).options.resolve()
        XCTAssertThrowsError(try Agent(config: c).provider()) {
            XCTAssertEqual("\($0)", "provider 'file' needs metadata_file (or --metadata-file PATH)")
        }
    }

    func testProviderOptions() throws {
        let r = try Reconfigure.parse(["--config", "/dev/null", "--provider", "aws", "--metadata-url", "http://127.0.0.1:8080/latest/meta-data/",
                                       "--pending-timeout", "5"])
        let c = try r.options.resolve()
        XCTAssertEqual(c.provider, .aws)
        XCTAssertEqual(c.pendingTimeoutMilliseconds, 5000)
        XCTAssertEqual(try Agent(config: c).provider().name, "aws (http://127.0.0.1:8080/latest/meta-data/)")
        // The default: wait for pending ENIs for 60 s; the auto provider without a URL.
        let d = try Reconfigure.parse(["--config", "/dev/null"]).options.resolve()
        XCTAssertEqual(d.pendingTimeoutMilliseconds, 60_000)
        XCTAssertEqual(try Agent(config: d).provider().name, "auto")

        for (args, message) in [
            (["--metadata-url", "ftp://x/"], "metadata_url \"ftp://x/\" is not an http:// URL"),
            (["--metadata-url", "http://"], "metadata_url \"http://\" is not an http:// URL"),
            (["--metadata-url", "http://a b/"], "metadata_url \"http://a b/\" is not an http:// URL"),
            (["--pending-timeout", "5000"], "--pending-timeout 5000 is out of range 0...3600"),
            (["--provider", "gcp"], "--provider \"gcp\" is not one of file, auto, tencent, aliyun, aws"),
        ] {
            XCTAssertThrowsError(try Diff.parse(["--config", "/dev/null"] + args).options.resolve(), "\(args)") {
                XCTAssertEqual("\($0)", message)
            }
        }
    }

    /// Without --interface, only physical NICs are waited for; with it, exactly the named links.
    func testExpectedMACs() throws {
        let m = { (s: String) in try MACAddress(s) }
        let links = [
            Link(index: 1, name: "lo", mac: try m("00:00:00:00:00:00"), isUp: true),
            Link(index: 2, name: "eth0", mac: try m("52:54:00:00:00:01"), isUp: true),
            Link(index: 3, name: "eth1", mac: try m("52:54:00:00:00:02"), isUp: false),
            Link(index: 4, name: "veth9", mac: try m("02:00:00:00:00:09"), isUp: true, kind: "veth"),
            Link(index: 5, name: "bond0", mac: try m("52:54:00:00:00:05"), isUp: true, kind: "bond"),
            Link(index: 6, name: "eth5", mac: try m("52:54:00:00:00:06"), isUp: true, master: 5),
        ]
        XCTAssertEqual(Agent.expectedMACs(links, interfaces: []), [try m("52:54:00:00:00:01"), try m("52:54:00:00:00:02")])
        XCTAssertEqual(Agent.expectedMACs(links, interfaces: ["veth9", "eth5"]), [try m("02:00:00:00:00:09")])
    }
}

final class DaemonCLITests: XCTestCase {
    func testDaemonFlagsOverrideTheConfig() throws {
        let c = try DaemonCommand.parse(["--config", "/dev/null", "--resync-interval", "5", "--hot-attach-deadline", "7",
                                         "--log-level", "warning", "--pending-timeout", "30"]).resolve()
        XCTAssertEqual(c.resyncIntervalSeconds, 5)
        XCTAssertEqual(c.hotAttachDeadlineSeconds, 7)
        XCTAssertEqual(c.logLevel, .warning)
        XCTAssertEqual(c.pendingTimeoutMilliseconds, 0, "the daemon never waits inside a pass")
        XCTAssertEqual(try DaemonCommand.parse(["--config", "/dev/null", "-v"]).resolve().logLevel, .debug)
    }

    func testDaemonBadValuesNameTheFlag() {
        for (args, message) in [
            (["--resync-interval", "0"], "--resync-interval 0 is out of range 1...86400"),
            (["--hot-attach-deadline", "4000"], "--hot-attach-deadline 4000 is out of range 0...3600"),
            (["--log-level", "loud"], "--log-level \"loud\" is not one of debug, info, notice, warning, error"),
        ] {
            XCTAssertThrowsError(try DaemonCommand.parse(["--config", "/dev/null"] + args).resolve(), "\(args)") {
                XCTAssertEqual("\($0)", message)
            }
        }
    }

    /// A flag that overrides a key takes the key's values (`ConfigKey`): both ends of a range,
    /// every choice and a sample string give the config the key gives in a config file. One past
    /// either end and a value not among the choices are refused in the key's words, the flag and
    /// its value named instead of the file's line and the key.
    func testFlagsTakeTheirKeysValues() throws {
        let shared: [ConfigKey] = [.provider, .metadataFile, .metadataURL, .pendingTimeout, .renderer, .rpFilter]
        let daemon: [ConfigKey] = [.resyncInterval, .hotAttachDeadline, .logLevel]
        for key in shared + daemon {
            let isDaemon = daemon.contains { $0.name == key.name }
            func viaFlag(_ value: String) throws -> AgentConfig {
                let args = ["--config", "/dev/null", "\(key.flag)=\(value)"]
                return isDaemon ? try DaemonCommand.parse(args).resolve() : try Reconfigure.parse(args).options.resolve()
            }
            // (the flag's value, the key's value in TOML)
            var good: [(String, String)] = []
            var bad: [(String, String)] = []
            switch key.values {
            case .integer(let r, _):
                good = [r.lowerBound, r.upperBound].map { ("\($0)", "\($0)") }
                bad = [r.lowerBound - 1, r.upperBound + 1].map { ("\($0)", "\($0)") }
            case .choice(let names):
                good = names.map { ($0, quoted($0)) }
                bad = [("nope", quoted("nope"))]
            case .string:
                let s = key.name == "metadata_url" ? "http://127.0.0.1:8080/" : "/tmp/i.json"
                good = [(s, quoted(s))]
            case .boolean, .strings:
                XCTFail("\(key.name): no flag sets such a key yet")
            }
            for (flag, toml) in good {
                var expected = AgentConfig()
                try expected.load(toml: "\(key.name) = \(toml)", file: "c.toml")
                if isDaemon { expected.pendingTimeoutMilliseconds = 0 }
                if key.name == "metadata_file" { expected.provider = .file }
                XCTAssertEqual(try viaFlag(flag), expected, "\(key.flag) \(flag)")
            }
            for (flag, toml) in bad {
                var c = AgentConfig()
                let prefix = "c.toml:1: \(key.name) = "
                var inFile = ""
                XCTAssertThrowsError(try c.load(toml: "\(key.name) = \(toml)", file: "c.toml")) { inFile = "\($0)" }
                XCTAssert(inFile.hasPrefix(prefix), inFile)
                XCTAssertThrowsError(try viaFlag(flag), "\(key.flag) \(flag)") {
                    XCTAssertEqual("\(type(of: $0))", "ValidationError", "a usage error (exit 64), as before")
                    XCTAssertEqual("\($0)", "\(key.flag) " + inFile.dropFirst(prefix.count))
                }
            }
        }
    }

    func testStatusParses() throws {
        let s = try Status.parse(["--json", "--config", "/dev/null", "--provider", "aws"])
        XCTAssertTrue(s.json)
        XCTAssertEqual(try s.options.resolve().provider, .aws)
    }
}

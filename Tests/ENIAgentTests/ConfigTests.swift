import ENIApply
@testable import ENIAgent
import ENIModel
import ENIPlanner
import ENIRender
import Foundation
import XCTest

final class ConfigTests: XCTestCase {
    func testTOMLSubset() throws {
        let t = try TOML.parse("""
            # comment
            a = "x\\ty" # trailing
            b = 'C:\\path'
            c = 1_000
            d = true
            e = ["eth1", 'eth2',
                 "eth3"]
            [metadata]
            url = "http://127.0.0.1:8080/"
            """, file: "t.toml")
        XCTAssertEqual(t.map(\.key), ["a", "b", "c", "d", "e", "metadata.url"])
        XCTAssertEqual(t[0].value, .string("x\ty"))
        XCTAssertEqual(t[1].value, .string("C:\\path"))
        XCTAssertEqual(t[2].value, .integer(1000))
        XCTAssertEqual(t[3].value, .boolean(true))
        XCTAssertEqual(t[4].value, .array([.string("eth1"), .string("eth2"), .string("eth3")]))
        XCTAssertEqual(t[5].line, 9)
    }

    func testTOMLErrorsNameTheLine() {
        for (text, message) in [
            ("a = \"x", "t.toml:1: unterminated string"),
            ("a = 1\na = 2", "t.toml:2: key 'a' is set twice"),
            ("a = 1 b", "t.toml:1: unexpected text after value: 'b'"),
            ("\n\na = yes", "t.toml:3: invalid value 'yes' (expected a string, integer, boolean or array)"),
            ("a = 012", "t.toml:1: invalid value '012' (expected a string, integer, boolean or array)"),
        ] {
            XCTAssertThrowsError(try TOML.parse(text, file: "t.toml"), text) { XCTAssertEqual("\($0)", message) }
        }
    }

    /// Found by Fuzz/toml (Fuzz/corpus/toml/regress-control-char-in-message): text quoted from the
    /// file in a message carried its control characters raw; they are escaped as `quoted` does.
    /// Found while writing that target: `\u` took a sign for a hex digit (`\u+041` was "A",
    /// `\u-000` a NUL), literal strings took control characters, and `+_1` was an integer.
    func testTOMLFuzzFindings() throws {
        for (text, message) in [
            ("\u{0}", "t.toml:1: expected a key, found '\\u{0}'"),
            ("a = \u{1b}[31m", "t.toml:1: invalid value '\\u{1b}[31m' (expected a string, integer, boolean or array)"),
            ("a = 1 \u{7f}\tb", "t.toml:1: unexpected text after value: '\\u{7f}\\tb'"),
            ("a = \"\\\u{7}\"", "t.toml:1: invalid escape \\\\u{7}"),
            ("a = \"\\u+041\"", "t.toml:1: invalid escape \\u+041"),
            ("a = \"\\u-000\"", "t.toml:1: invalid escape \\u-000"),
            ("a = \"\\U+0000041\"", "t.toml:1: invalid escape \\U+0000041"),
            ("a = 'x\u{1}y'", "t.toml:1: control character in string"),
            ("a = 'x\u{7f}'", "t.toml:1: control character in string"),
            ("a = +_1", "t.toml:1: invalid value '+_1' (expected a string, integer, boolean or array)"),
            ("a = -_1", "t.toml:1: invalid value '-_1' (expected a string, integer, boolean or array)"),
        ] {
            XCTAssertThrowsError(try TOML.parse(text, file: "t.toml"), text) { XCTAssertEqual("\($0)", message, text) }
        }
        let t = try TOML.parse("a = 'x\ty'\nb = \"\\u0041\\U0001F600\"\nc = -1_0\nd = +1_2_3", file: "t.toml")
        XCTAssertEqual(t.map(\.value), [.string("x\ty"), .string("A\u{1F600}"), .integer(-10), .integer(123)])
        var c = AgentConfig()
        XCTAssertThrowsError(try c.load(tomlBytes: [0], file: "c.toml")) { XCTAssertEqual("\($0)", "c.toml:1: expected a key, found '\\u{0}'") }
    }

    /// 10,000 nested `[` once exhausted the stack (SIGSEGV); nesting is bounded, the error names the line.
    func testTOMLArrayNestingIsBounded() throws {
        let deep = "exclude_macs = " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertThrowsError(try TOML.parse("# x\n" + deep, file: "c.toml")) {
            XCTAssertEqual("\($0)", "c.toml:2: arrays nested deeper than 8")
        }
        var c = AgentConfig()
        XCTAssertThrowsError(try c.load(tomlBytes: Array(deep.utf8), file: "c.toml")) {
            XCTAssertEqual("\($0)", "c.toml:1: arrays nested deeper than 8")
        }
        // Eight deep is fine; nine is not.
        let eight = try TOML.parse("a = [[[[[[[[1]]]]]]]]", file: "t.toml")
        var v = eight[0].value
        for _ in 0..<8 { guard case .array(let items) = v else { return XCTFail("\(v)") }; v = items[0] }
        XCTAssertEqual(v, .integer(1))
        XCTAssertThrowsError(try TOML.parse("a = [1, [[[[[[[[2]]]]]]]]]", file: "t.toml")) {
            XCTAssertEqual("\($0)", "t.toml:1: arrays nested deeper than 8")
        }
    }

    /// Bytes that are not UTF-8 are an error naming the file, the line and the offset, not
    /// replaced with U+FFFD.
    func testConfigMustBeUTF8() throws {
        var c = AgentConfig()
        try c.load(tomlBytes: Array("renderer = \"none\" # ok: é\n".utf8), file: "c.toml")
        XCTAssertEqual(c.renderer, .none)
        let head = Array("renderer = \"none\"\nlock_path = \"/x".utf8)  // 33 bytes
        for (bad, hex) in [([0xFF], "FF"), ([0xC0, 0xAF], "C0"), ([0xED, 0xA0, 0x80], "ED"), ([0xE2, 0x82], "E2")] as [([UInt8], String)] {
            var c = AgentConfig()
            XCTAssertThrowsError(try c.load(tomlBytes: head + bad + Array("\"\n".utf8), file: "c.toml"), hex) {
                XCTAssertEqual("\($0)", "c.toml:2: invalid UTF-8 at byte offset 33 (0x\(hex))")
            }
        }
    }

    func testConfigKeysAndErrors() throws {
        var c = AgentConfig()
        try c.load(toml: """
            renderer = "none"
            rp_filter = "off"
            table_base = 20000
            rule_priority_base = 20000
            route_protocol = 200
            nm_controlled = true
            lock_path = "/tmp/x.lock"
            metadata_file = "/tmp/i.json"
            provider = "file"
            metadata_url = "http://169.254.0.23/latest/meta-data/"
            metadata_connect_timeout_ms = 150
            metadata_timeout_ms = 3000
            metadata_retry_deadline_ms = 20000
            metadata_attempts = 3
            pending_timeout = 30
            exclude_interfaces = ["eth9", "docker*", "en?"]
            exclude_macs = ["52:54:00:00:09:0A"]
            resync_interval = 10
            hot_attach_deadline = 5
            log_level = "debug"
            """, file: "c.toml")
        XCTAssertEqual(c.plannerConfig.exclusions.interfaces, ["eth9", "docker*", "en?"])
        XCTAssertEqual(c.plannerConfig.exclusions.macs, [try MACAddress("52:54:00:00:09:0a")])
        XCTAssertEqual(c.resyncIntervalSeconds, 10)
        XCTAssertEqual(c.hotAttachDeadlineSeconds, 5)
        XCTAssertEqual(c.logLevel, .debug)
        XCTAssertEqual(c.metadataURL, "http://169.254.0.23/latest/meta-data/")
        XCTAssertEqual(c.fetch.connectTimeoutMilliseconds, 150)
        XCTAssertEqual(c.fetch.requestTimeoutMilliseconds, 3000)
        XCTAssertEqual(c.fetch.roundTimeoutMilliseconds, 20000)
        XCTAssertEqual(c.fetch.attempts, 3)
        XCTAssertEqual(c.pendingTimeoutMilliseconds, 30_000)
        XCTAssertEqual(c.renderer, .none)
        XCTAssertEqual(c.rpFilter, .off)
        XCTAssertEqual(c.plannerConfig.tableBase, 20000)
        XCTAssertEqual(c.plannerConfig.priorityBase, 20000)
        XCTAssertEqual(c.plannerConfig.proto, 200)
        XCTAssertTrue(c.nmControlled)
        XCTAssertEqual(c.provider, .file)

        for (text, message) in [
            ("rp_filter = \"lose\"", "c.toml:1: rp_filter = \"lose\" is not one of loose, off, strict, unchanged"),
            ("tabel_base = 1", "c.toml:1: unknown key \"tabel_base\""),
            ("table_base = \"1\"", "c.toml:1: table_base must be an integer, not string"),
            ("rule_priority_base = 30000", "c.toml:1: rule_priority_base = 30000 is out of range 1...24574"),
            ("route_protocol = 2", "c.toml:1: route_protocol = 2 is out of range 5...254"),
            ("lock_path = \"run/x\"", "lock_path \"run/x\" must be an absolute path"),
            ("lock_path = \"/../../../tmp/x\"", #"lock_path "/../../../tmp/x" must be a clean absolute path (no ".", ".." or empty components)"#),
            ("lock_path = \"/run/./x\"", #"lock_path "/run/./x" must be a clean absolute path (no ".", ".." or empty components)"#),
            ("lock_path = \"/run//x\"", #"lock_path "/run//x" must be a clean absolute path (no ".", ".." or empty components)"#),
            ("lock_path = \"/run/x/\"", #"lock_path "/run/x/" must be a clean absolute path (no ".", ".." or empty components)"#),
            ("lock_path = \"/\"", #"lock_path "/" must be a clean absolute path (no ".", ".." or empty components)"#),
            ("metadata_attempts = 0", "c.toml:1: metadata_attempts = 0 is out of range 1...20"),
            ("metadata_connect_timeout_ms = 5000", "metadata_connect_timeout_ms 5000 is longer than metadata_timeout_ms 2000"),
            ("metadata_url = \"https://x/\"", "metadata_url \"https://x/\" is not an http:// URL"),
            ("exclude_interfaces = \"eth1\"", "c.toml:1: exclude_interfaces must be an array of strings, not string"),
            ("exclude_interfaces = [\"eth1\", 2]", "c.toml:1: exclude_interfaces must be an array of strings; it holds integer"),
            ("exclude_interfaces = [\"eth 1\"]", "c.toml:1: exclude_interfaces: \"eth 1\" is not an interface name or pattern (1-15 of A-Z a-z 0-9 _ . - * ?)"),
            ("exclude_macs = [\"52:54:00:00:09\"]", "c.toml:1: exclude_macs: \"52:54:00:00:09\" is not a MAC address"),
            ("resync_interval = 0", "c.toml:1: resync_interval = 0 is out of range 1...86400"),
            ("log_level = \"loud\"", "c.toml:1: log_level = \"loud\" is not one of debug, info, notice, warning, error"),
        ] {
            var c = AgentConfig()
            XCTAssertThrowsError(try c.load(toml: text, file: "c.toml"), text) { XCTAssertEqual("\($0)", message) }
        }
    }

    /// Every key of the table loads from TOML: both ends of an integer's range, every choice, both
    /// booleans, two sample strings; each value gives a config of its own. One past either end, a
    /// value not among the choices and a value of another type are refused, the message naming
    /// the file, line, key and value.
    func testEveryKeyLoadsWithinItsValues() throws {
        // Room for either timeout at either end of its range (validate(): connect <= total).
        var base = AgentConfig()
        base.fetch.connectTimeoutMilliseconds = 1
        base.fetch.requestTimeoutMilliseconds = 600_000
        func load(_ line: String) throws -> AgentConfig {
            var c = base
            try c.load(toml: line, file: "c.toml")
            return c
        }
        func refused(_ line: String, _ message: String) {
            XCTAssertThrowsError(try load(line), line) { XCTAssertEqual("\($0)", message, line) }
        }
        let samples = [
            "metadata_file": [#""/tmp/a.json""#, #""/tmp/b.json""#],
            "metadata_url": [#""http://127.0.0.1/""#, #""http://169.254.0.23/latest/meta-data/""#],
            "lock_path": [#""/tmp/a.lock""#, #""/tmp/b.lock""#],
            "exclude_interfaces": [#"["eth9"]"#, #"["docker*", "en?"]"#],
            "exclude_macs": [#"["52:54:00:00:00:01"]"#, "[]"],
        ]
        XCTAssertEqual(ConfigKey.named.count, ConfigKey.all.count, "a name twice")
        for key in ConfigKey.all {
            let n = key.name
            XCTAssertNotNil(n.wholeMatch(of: /[a-z]+(_[a-z]+)*/), n)
            let values: [String]
            let wrongType: (value: String, message: String)
            switch key.values {
            case .integer(let r, _):
                values = ["\(r.lowerBound)", "\(r.upperBound)"]
                for bad in [r.lowerBound - 1, r.upperBound + 1] {
                    refused("\(n) = \(bad)", "c.toml:1: \(n) = \(bad) is out of range \(r.lowerBound)...\(r.upperBound)")
                }
                wrongType = ("\"1\"", "must be an integer, not string")
            case .choice(let names):
                values = names.map { "\"\($0)\"" }
                refused("\(n) = \"nope\"", "c.toml:1: \(n) = \"nope\" is not one of \(names.joined(separator: ", "))")
                wrongType = ("1", "must be a string, not integer")
            case .boolean:
                values = ["false", "true"]
                wrongType = ("1", "must be true or false, not integer")
            case .string:
                values = samples[n] ?? []
                wrongType = ("1", "must be a string, not integer")
            case .strings:
                values = samples[n] ?? []
                wrongType = ("\"x\"", "must be an array of strings, not string")
            }
            XCTAssertGreaterThanOrEqual(values.count, 2, "\(n): add two sample values")
            let configs = try values.map { try load("\(n) = \($0)") }
            for i in configs.indices {
                for j in configs.indices where j > i {
                    XCTAssertNotEqual(configs[i], configs[j], "\(n) = \(values[i]) and \(n) = \(values[j]) give one config")
                }
            }
            refused("\(n) = \(wrongType.value)", "c.toml:1: \(n) \(wrongType.message)")
        }
    }

    /// README's table of keys (section "Configuration") lists the table's keys in its order, each
    /// integer's range and each choice, says "seconds" of a key in seconds, and shows the defaults.
    func testREADMEListsEveryKeyWithItsValuesAndDefault() throws {
        let readme = try String(contentsOf: Self.repo("README.md"), encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "\n## Configuration\n").dropFirst().first)
            .components(separatedBy: "\n## ")[0]
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map {
            let cells = $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return (key: String(cells[0].dropFirst().dropLast()), default: cells[1], meaning: cells[2])
        }
        XCTAssertEqual(rows.map(\.key), ConfigKey.all.map(\.name), "README's keys are the table's, in its order")
        for row in rows {
            guard let key = ConfigKey.named[row.key] else { continue }
            let ranges = row.meaning.matches(of: /[0-9]+…[0-9]+/).map { String(row.meaning[$0.range]) }
            switch key.values {
            case .integer(let r, let unit):
                XCTAssertEqual(ranges, ["\(r.lowerBound)…\(r.upperBound)"], row.key)
                switch unit {
                case .seconds: XCTAssert(row.meaning.contains("seconds"), "\(row.key): say seconds")
                case .milliseconds: XCTAssert(row.key.hasSuffix("_ms"), row.key)
                case nil: break
                }
            case .choice(let names):
                let ticked = row.meaning.matches(of: /`([^`]*)`/).map { String($0.1) }
                XCTAssertEqual(Set(ticked), Set(names), row.key)
            default:
                XCTAssertEqual(ranges, [], row.key)
            }
            // A default shown as a value (`200`, `"auto"`, `[]`) is the default.
            if row.default.hasPrefix("`") {
                var c = AgentConfig()
                XCTAssertNoThrow(try c.load(toml: "\(row.key) = \(row.default.dropFirst().dropLast())", file: "README.md"), row.key)
                XCTAssertEqual(c, AgentConfig(), "\(row.key): README's default \(row.default)")
            }
        }
    }

    /// packaging/eni-agent.toml shows every key (`# key = value`), with its default but for the
    /// two metadata sources, which are examples.
    func testPackagedConfigShowsEveryKeyWithItsDefault() throws {
        let text = try String(contentsOf: Self.repo("packaging/eni-agent.toml"), encoding: .utf8)
        let shown = text.split(separator: "\n").filter { $0.wholeMatch(of: /# [a-z_]+ = .*/) != nil }.map { $0.dropFirst(2) }
        XCTAssertEqual(shown.map { String($0.prefix { $0 != " " }) }.sorted(), ConfigKey.all.map(\.name).sorted())
        var c = AgentConfig()
        try c.load(toml: shown.joined(separator: "\n"), file: "eni-agent.toml")
        XCTAssertNotNil(c.metadataFile)
        XCTAssertNotNil(c.metadataURL)
        (c.metadataFile, c.metadataURL) = (nil, nil)
        XCTAssertEqual(c, AgentConfig())
    }

    static func repo(_ path: String) -> URL {
        URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../\(path)")
    }
}

@testable import ENIModel
import Foundation
import XCTest

/// The metadata file's format, `InstanceJSON` with its strict JSON (`StrictJSON.swift`): every
/// error is compared byte for byte (the integration scripts compare them too).
final class InstanceJSONTests: XCTestCase {
    func parse(_ s: String) throws -> Instance {
        try InstanceJSON.parse(Array(s.utf8), source: "i.json")
    }

    func testParsesTheDocumentedFormat() throws {
        let i = try parse("""
            {"primary_mac": "52:54:00:00:01:0A",
             "enis": [{"mac": "52:54:00:00:01:0a", "primary_ip": "10.0.1.10", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1"},
                      {"mac": "52:54:00:00:02:0A", "primary_ip": "10.0.2.10", "secondary_ips": ["10.0.2.12", "10.0.2.11"],
                       "subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "device_number": 1, "network_card": 0, "id": "eni-1"}]}
            """)
        XCTAssertEqual(i.primaryMAC, try MACAddress("52:54:00:00:01:0a"))
        let e = try XCTUnwrap(i.eni(mac: MACAddress("52:54:00:00:02:0a")))
        XCTAssertEqual(e.allIPs.map(\.description), ["10.0.2.10", "10.0.2.11", "10.0.2.12"])
        XCTAssertEqual(e.deviceNumber, 1)
        XCTAssertEqual(e.networkCard, 0)
        XCTAssertEqual(e.id, "eni-1")
    }

    func testErrorsNameThePathAndValue() {
        let cases: [(String, String)] = [
            (#"{"primary_mac": "x", "enis": []}"#, #"i.json: primary_mac: invalid MAC address "x""#),
            (#"{"primary_mac": "52:54:00:00:01:0a"}"#, "i.json: enis: missing"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [], "extra": 1}"#, "i.json: extra: unknown key"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "secondary_ip": []}]}"#,
             "i.json: enis[0].secondary_ip: unknown key"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.1/24", "gateway": "10.0.2.1"}]}"#,
             #"i.json: enis[0].subnet: invalid IPv4 prefix "10.0.2.1/24": host bits set"#),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.3.1"}]}"#,
             "i.json: enis[0]: ENI 52:54:00:00:02:0a: gateway 10.0.3.1 is outside its subnet 10.0.2.0/24"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "device_number": "1"}]}"#,
             "i.json: enis[0].device_number: expected an integer"),
            ("[1,", "i.json: not valid JSON"),
        ]
        for (json, message) in cases {
            XCTAssertThrowsError(try parse(json), json) { e in
                XCTAssertTrue("\(e)".hasPrefix(message), "got: \(e)\nwant: \(message)")
            }
        }
    }

    /// A document whose second ENI (`enis[1]`) holds `second`; the first is the primary.
    func doc(_ second: String) -> String {
        """
        {"primary_mac": "52:54:00:00:01:0a",
         "enis": [{"mac": "52:54:00:00:01:0a", "primary_ip": "10.0.1.10", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1"},
          {\(second)}]}
        """
    }
    let eni = #""mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1""#

    func XCTAssertError(_ json: some Collection<UInt8>, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try InstanceJSON.parse(json, source: "i.json"), file: file, line: line) {
            XCTAssertEqual("\($0)", message, file: file, line: line)
        }
    }

    func testTheExampleAndVariantsParse() throws {
        let example = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../examples/instance.json")
        let i = try InstanceJSON.parse(Array(try Data(contentsOf: example)), source: "instance.json")
        XCTAssertEqual(i.enis.map(\.id), ["eni-primary0", "eni-second01", "eni-third002"])
        // Whitespace of every kind, keys in any order, escapes, -0.
        let j = try parse("\r\n\t " + doc(#""gateway" : "10.0.2.1" ,"subnet":"10.0.2.0\/24","mac":"52:54:00:00:02:0a","primary_ip":"10.0.2.10","device_number":-0,"network_card":31,"id":"eni-\u0041"  "#) + "\n\n")
        XCTAssertEqual(j.enis.map(\.deviceNumber), [nil, 0])
        XCTAssertEqual(j.enis.map(\.networkCard), [nil, 31])
        XCTAssertEqual(j.enis.map(\.id), [nil, "eni-A"])
    }

    func testStrictJSONValues() throws {
        XCTAssertEqual(try JSON.parse(Array(#" {"b": [1, -0.5e+3, 1E2, 0], "a": {"x": null, "y": true, "z": false}, "s": "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é"} "#.utf8)),
                       .object([.init(key: "b", value: .array([.number("1"), .number("-0.5e+3"), .number("1E2"), .number("0")])),
                                .init(key: "a", value: .object([.init(key: "x", value: .null), .init(key: "y", value: .bool(true)),
                                                                .init(key: "z", value: .bool(false))])),
                                .init(key: "s", value: .string("\"\\/\u{8}\u{c}\n\r\té😀é"))]))
        XCTAssertEqual(try JSON.parse(Array("\"\\u0000\"".utf8)), .string("\u{0}"))
        XCTAssertEqual(try JSON.parse(Array("12345678901234567890123".utf8)), .number("12345678901234567890123"))
        let thirtyTwo = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        XCTAssertNoThrow(try JSON.parse(Array(thirtyTwo.utf8)))
    }

    /// A repeated key was accepted and one of its values applied; it is an error naming the path.
    func testDuplicateKeysAreErrors() {
        XCTAssertError(Array(doc(eni + #", "primary_ip": "10.0.2.99""#).utf8),
                       "i.json: enis[1].primary_ip: key appears twice (line 3, column 107)")
        XCTAssertError(Array(#"{"primary_mac": "52:54:00:00:01:0a", "enis": [], "enis": []}"#.utf8),
                       "i.json: enis: key appears twice (line 1, column 50)")
        XCTAssertError(Array(doc(#""primary_ip": "10.0.2.99", "#  + eni).utf8),
                       "i.json: enis[1].primary_ip: key appears twice (line 3, column 59)")
        XCTAssertError(Array(#"{"primary_mac": "52:54:00:00:01:0a", "enis": [], "x\n": 1, "x\n": 2}"#.utf8),
                       #"i.json: "x\n": key appears twice (line 1, column 60)"#)
        // Canonically equivalent keys are one key.
        XCTAssertError(Array(#"{"primary_mac": "52:54:00:00:01:0a", "enis": [], "\u00e9": 1, "e\u0301": 2}"#.utf8),
                       "i.json: \"e\u{301}\": key appears twice (line 1, column 63)")
    }

    /// Numbers were decoded as Double and a failure blamed the top level; now the message names
    /// the field and shows the number as written.
    func testNumbersNameTheFieldAndValue() {
        let digits = "1" + String(repeating: "0", count: 399)
        for (number, message) in [
            (digits, "i.json: enis[1].device_number: 10000000000000000000000000000000… (400 characters) is out of range"),
            ("1e400", "i.json: enis[1].device_number: 1e400 is not an integer"),
            ("1.0", "i.json: enis[1].device_number: 1.0 is not an integer"),
            ("1e0", "i.json: enis[1].device_number: 1e0 is not an integer"),
            ("9223372036854775808", "i.json: enis[1].device_number: 9223372036854775808 is out of range"),
            ("-9223372036854775808", "i.json: enis[1]: ENI 52:54:00:00:02:0a: device number -9223372036854775808 out of range 0...255"),
            ("256", "i.json: enis[1]: ENI 52:54:00:00:02:0a: device number 256 out of range 0...255"),
            ("true", "i.json: enis[1].device_number: expected an integer, found true"),
            ("\"\(digits)\"", "i.json: enis[1].device_number: expected an integer, found \"10000000000000000000000000000000\"… (400 characters)"),
            ("01", "i.json: not valid JSON: line 3, column 124: invalid number 01"),
            ("1.", "i.json: not valid JSON: line 3, column 124: invalid number 1."),
            ("-", "i.json: not valid JSON: line 3, column 124: invalid number -"),
            ("+1", "i.json: not valid JSON: line 3, column 124: unexpected \"+\", expected a value"),
            (".5", "i.json: not valid JSON: line 3, column 124: unexpected \".\", expected a value"),
            ("NaN", "i.json: not valid JSON: line 3, column 124: unexpected \"N\", expected a value"),
        ] {
            XCTAssertError(Array(doc(eni + #", "device_number": "# + number).utf8), message)
        }
    }

    /// Strings are checked byte by byte: UTF-8, escapes, surrogate pairs, control characters.
    func testStringsAndEncoding() {
        let bad = Array(doc(eni + #", "id": "eni-@""#).utf8).map { $0 == UInt8(ascii: "@") ? 0xFF : $0 }
        XCTAssertError(bad, "i.json: not valid JSON: line 3, column 118: invalid UTF-8 at byte offset 269 (0xFF)")
        XCTAssertError([0xEF, 0xBB, 0xBF] + Array(doc(eni).utf8), "i.json: not valid JSON: line 1, column 1: unexpected U+FEFF, expected a value")
        XCTAssertError(Array("{\"a\": \"\u{E9}\"\u{FF}}".utf8), "i.json: not valid JSON: line 1, column 10: unexpected U+00FF, expected ',' or '}'")
        XCTAssertError(Array("{\"a\": \"x".utf8) + [0xED, 0xA0, 0x80] + Array("\"}".utf8),
                       "i.json: not valid JSON: line 1, column 9: invalid UTF-8 at byte offset 8 (0xED)")
        for (id, message) in [
            (#"\ud800"#, #"lone surrogate \ud800 in string"#),
            (#"\uDC00x"#, #"lone surrogate \uDC00 in string"#),
            (#"\ud800\u0041"#, #"lone surrogate \ud800 in string"#),
            (#"\ud800\ud800"#, #"lone surrogate \ud800 in string"#),
            (#"\u12G4"#, #"invalid escape \u12G4 in string"#),
            (#"\x"#, #"invalid escape \x in string"#),
            ("\\\u{E9}", "invalid escape: a backslash before U+00E9 in string"),
            ("\t", "control character U+0009 in string (it must be escaped)"),
        ] {
            XCTAssertError(Array(doc(eni + #", "id": "eni-"# + id + "\"").utf8), "i.json: not valid JSON: line 3, column 118: \(message)")
        }
        XCTAssertError(Array(doc(eni + #", "id": "eni-\ud83d\ude00""#).utf8), #"i.json: enis[1]: ENI 52:54:00:00:02:0a: invalid ENI id "eni-😀""#)
        XCTAssertError(Array(doc(eni + #", "id": "eni-"#).utf8), "i.json: not valid JSON: line 3, column 113: unterminated string")
    }

    /// 10,000 nested brackets: an error at the 33rd, not a stack overflow.
    func testNestingIsBounded() {
        XCTAssertError(Array(String(repeating: "[", count: 10_000).utf8),
                       "i.json: not valid JSON: line 1, column 33: arrays and objects nested deeper than 32")
        XCTAssertError(Array((String(repeating: #"{"a": "#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)).utf8),
                       "i.json: not valid JSON: line 1, column 193: arrays and objects nested deeper than 32")
        XCTAssertError(Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8),
                       "i.json: not valid JSON: line 1, column 33: arrays and objects nested deeper than 32")
        XCTAssertError(Array((String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).utf8),
                       "i.json: top level: expected an object, found an array")
    }

    func testSyntaxErrorsNameLineAndColumn() {
        for (json, message) in [
            (doc(eni) + " x", #"line 3, column 109: unexpected "x" after the JSON value"#),
            (doc(eni) + "\n{}", #"line 4, column 1: unexpected "{" after the JSON value"#),
            (doc(eni) + "\u{0}", #"line 3, column 108: unexpected U+0000 after the JSON value"#),
            ("", "line 1, column 1: unexpected end of input, expected a value"),
            (doc(eni + ","), #"line 3, column 106: unexpected "}", expected a key (a string)"#),
            ("{\"primary_mac\": \"52:54:00:00:01:0a\", \"enis\": [1,]}", #"line 1, column 49: unexpected "]", expected a value"#),
            ("{'enis': []}", #"line 1, column 2: unexpected "'", expected a key (a string)"#),
            ("{\"enis\" []}", #"line 1, column 9: unexpected "[", expected ':'"#),
            ("[1 2]", #"line 1, column 4: unexpected "2", expected ',' or ']'"#),
            ("{\"a\": tru}", #"line 1, column 7: unexpected "t", expected a value"#),
            ("{\"a\": 1 /* c */}", #"line 1, column 9: unexpected "/", expected ',' or '}'"#),
        ] {
            XCTAssertError(Array(json.utf8), "i.json: not valid JSON: " + message)
        }
    }

    func testFileSizeIsCapped() {
        let big = Array(doc(eni + #", "id": ""# + String(repeating: "x", count: 4 << 20) + "\"").utf8)
        XCTAssertError(big, "i.json: larger than 4194304 bytes")
    }

    // MARK: IPv6

    /// eth1 of `doc(eni + extra)`.
    func eth1(_ extra: String, file: StaticString = #filePath, line: UInt = #line) throws -> ENI {
        try XCTUnwrap(parse(doc(eni + extra)).eni(mac: MACAddress("52:54:00:00:02:0a")), file: file, line: line)
    }

    func testIPv6Keys() throws {
        let e = try eth1(#", "ipv6s": ["2001:DB8:0:2:0::0B", "2001:db8:0000:2::A", "2001:db8:0:2::a"], "subnet6": "2001:db8:0:2::/64", "gateway6": "FE80::1""#)
        let v6 = try XCTUnwrap(e.ipv6)
        XCTAssertEqual(v6.addresses.map(\.description), ["2001:db8:0:2::a", "2001:db8:0:2::b"], "canonical, sorted, once each")
        XCTAssertEqual(v6.subnet.description, "2001:db8:0:2::/64")
        XCTAssertEqual(v6.gateway?.description, "fe80::1")
        XCTAssertNil(e.ipv6Unknown)
        // No gateway6: learned from router advertisements.
        let ra = try eth1(#", "ipv6s": ["2001:db8:0:2::a"], "subnet6": "2001:db8:0:2::/64""#)
        XCTAssertNotNil(ra.ipv6)
        XCTAssertNil(ra.ipv6?.gateway)
        // No addresses: no IPv6, whether subnet6 is there or not.
        for extra in ["", #", "ipv6s": []"#, #", "ipv6s": [], "subnet6": "2001:db8:0:2::/64", "gateway6": "fe80::1""#, #", "subnet6": "2001:db8:0:2::/64""#] {
            let none = try eth1(extra)
            XCTAssertNil(none.ipv6, extra)
            XCTAssertNil(none.ipv6Unknown, extra)
        }
        // The primary's IPv6 too (the planner leaves the primary's alone; the file may describe it).
        let i = try parse(doc(eni).replacingOccurrences(of: #""gateway": "10.0.1.1""#,
                                                       with: #""gateway": "10.0.1.1", "ipv6s": ["2001:db8:0:1::a"], "subnet6": "2001:db8:0:1::/64""#))
        XCTAssertEqual(i.enis[0].ipv6?.addresses.map(\.description), ["2001:db8:0:1::a"])
    }

    /// A bad IPv6 key holds that ENI's IPv6 (invalid, the message naming the path and the value);
    /// its IPv4 is described as usual.
    func testBadIPv6HoldsTheIPv6Only() throws {
        let subnet = #", "subnet6": "2001:db8:0:2::/64""#
        let cases: [(String, String)] = [
            (#", "ipv6s": ["fe80::zz"]"# + subnet, #"enis[1].ipv6s[0]: invalid IPv6 address "fe80::zz""#),
            (#", "ipv6s": ["2001:db8:0:2::a", "fe80::1%eth0"]"# + subnet, #"enis[1].ipv6s[1]: invalid IPv6 address "fe80::1%eth0""#),
            (#", "ipv6s": ["2001:db8::/64"]"# + subnet, #"enis[1].ipv6s[0]: invalid IPv6 address "2001:db8::/64""#),
            (#", "ipv6s": ["2001:db8:0:2::a\n$(reboot)"]"# + subnet, #"enis[1].ipv6s[0]: invalid IPv6 address "2001:db8:0:2::a\n$(reboot)""#),
            (#", "ipv6s": ["2001:db8:0:2::a\u001b[2J"]"# + subnet, #"enis[1].ipv6s[0]: invalid IPv6 address "2001:db8:0:2::a\u{1b}[2J""#),
            (#", "ipv6s": [" 2001:db8:0:2::a"]"# + subnet, #"enis[1].ipv6s[0]: invalid IPv6 address " 2001:db8:0:2::a""#),
            (#", "ipv6s": ["::ffff:1.2.3.4"]"# + subnet, "enis[1]: ENI 52:54:00:00:02:0a: IPv6 address ::ffff:1.2.3.4 is outside its subnet 2001:db8:0:2::/64"),
            (#", "ipv6s": ["2001:db8:9::1"]"# + subnet, "enis[1]: ENI 52:54:00:00:02:0a: IPv6 address 2001:db8:9::1 is outside its subnet 2001:db8:0:2::/64"),
            (#", "ipv6s": [1]"# + subnet, "enis[1].ipv6s[0]: expected a string, found 1"),
            (#", "ipv6s": "2001:db8:0:2::a""# + subnet, #"enis[1].ipv6s: expected an array, found "2001:db8:0:2::a""#),
            (#", "ipv6s": ["2001:db8:0:2::a"]"#, "enis[1].subnet6: missing (ipv6s lists addresses)"),
            (#", "ipv6s": ["2001:db8:0:2::a"], "subnet6": "2001:db8:0:2::1/64""#, #"enis[1].subnet6: invalid IPv6 prefix "2001:db8:0:2::1/64": host bits set"#),
            (#", "ipv6s": ["2001:db8:0:2::a"], "subnet6": "2001:db8:0:2::""#, #"enis[1].subnet6: invalid IPv6 prefix "2001:db8:0:2::""#),
            (#", "ipv6s": [], "subnet6": "10.0.2.0/24""#, #"enis[1].subnet6: invalid IPv6 prefix "10.0.2.0/24""#),
            (#", "ipv6s": ["2001:db8:0:2::a"], "gateway6": "fe80::1%eth0""# + subnet, #"enis[1].gateway6: invalid IPv6 address "fe80::1%eth0""#),
            (#", "ipv6s": ["2001:db8:0:2::a"], "gateway6": "2001:db8:9::1""# + subnet,
             "enis[1]: ENI 52:54:00:00:02:0a: IPv6 gateway 2001:db8:9::1 is neither link-local nor inside its subnet 2001:db8:0:2::/64"),
            (#", "ipv6s": ["2001:db8:0:2::a"], "gateway6": null"# + subnet, "enis[1].gateway6: expected a string, found null"),
        ]
        for (extra, message) in cases {
            let e = try eth1(extra)
            XCTAssertEqual(e.ipv6Unknown, .invalid(message), extra)
            XCTAssertNil(e.ipv6, extra)
            XCTAssertEqual(e.allIPs.map(\.description), ["10.0.2.10"], extra)
            XCTAssertEqual(e.ipv4!.gateway.description, "10.0.2.1", extra)
        }
        // An unknown key is still an error for the whole file.
        XCTAssertError(Array(doc(eni + #", "ipv6": ["2001:db8:0:2::a"]"#).utf8), "i.json: enis[1].ipv6: unknown key")
    }

    /// An IPv6-only ENI: none of the IPv4 keys, addresses in `ipv6s`. One IPv4 key needs the other
    /// two; an ENI with neither family is an error for the file. An IPv6-only ENI whose IPv6 is in
    /// error is described with its IPv6 held.
    func testIPv6OnlyENI() throws {
        let mac = #""mac": "52:54:00:00:02:0a""#
        let v6 = #", "ipv6s": ["2001:db8:0:2::a"], "subnet6": "2001:db8:0:2::/64""#
        let e = try XCTUnwrap(try parse(doc(mac + v6)).eni(mac: MACAddress("52:54:00:00:02:0a")))
        XCTAssertNil(e.ipv4)
        XCTAssertEqual(e.allIPs, [])
        XCTAssertEqual(e.ipv6?.addresses.map(\.description), ["2001:db8:0:2::a"])
        let held = try XCTUnwrap(try parse(doc(mac + #", "ipv6s": ["2001:db8:9::1"], "subnet6": "2001:db8:0:2::/64""#))
            .eni(mac: MACAddress("52:54:00:00:02:0a")))
        XCTAssertNil(held.ipv4)
        XCTAssertEqual(held.ipv6Unknown,
                       .invalid("enis[1]: ENI 52:54:00:00:02:0a: IPv6 address 2001:db8:9::1 is outside its subnet 2001:db8:0:2::/64"))
        let cases: [(String, String)] = [
            (mac, "i.json: enis[1]: no IPv4 (primary_ip, subnet, gateway) and no IPv6 (ipv6s)"),
            (mac + #", "ipv6s": []"#, "i.json: enis[1]: no IPv4 (primary_ip, subnet, gateway) and no IPv6 (ipv6s)"),
            (mac + #", "primary_ip": "10.0.2.10""# + v6, "i.json: enis[1].subnet: missing (an ENI with IPv4 needs primary_ip, subnet and gateway)"),
            (mac + #", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1""# + v6,
             "i.json: enis[1].primary_ip: missing (an ENI with IPv4 needs primary_ip, subnet and gateway)"),
            (mac + #", "secondary_ips": ["10.0.2.11"]"# + v6,
             "i.json: enis[1].primary_ip: missing (an ENI with IPv4 needs primary_ip, subnet and gateway)"),
            (#""mac": "ff:ff:ff:ff:ff:ff""# + v6, "i.json: enis[1]: ENI ff:ff:ff:ff:ff:ff: ff:ff:ff:ff:ff:ff is not a unicast MAC address"),
        ]
        for (eni, message) in cases { XCTAssertError(Array(doc(eni).utf8), message) }
    }

    /// An IPv6 address under two ENIs: the IPv6 of both is unknown, the file is read.
    func testOneIPv6AddressOnTwoENIs() throws {
        let v6 = #""ipv6s": ["2001:db8:0:2::a"], "subnet6": "2001:db8:0:2::/64""#
        let i = try parse(doc(eni + ", " + v6).replacingOccurrences(of: #""gateway": "10.0.1.1""#, with: #""gateway": "10.0.1.1", "# + v6))
        let why = Undescribed.invalid("IPv6 address 2001:db8:0:2::a is claimed by two ENIs: 52:54:00:00:01:0a and 52:54:00:00:02:0a")
        XCTAssertEqual(i.enis.map(\.ipv6Unknown), [why, why])
        XCTAssertEqual(i.enis.map(\.ipv6), [nil, nil])
    }
}

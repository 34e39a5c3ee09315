import ENIModel
import XCTest

final class IPv6Tests: XCTestCase {
    /// RFC 5952 §4: lower case, no leading zeros, the longest run of zero groups (the first of
    /// equal runs, never a single group) as `::`; §5: IPv4-mapped addresses dotted.
    func testPrintsTheCanonicalForm() throws {
        let cases: [(String, String)] = [
            ("2001:DB8:0:0:0:0:0:A", "2001:db8::a"),
            ("2001:0db8:0000:0000:0000:0000:0000:000a", "2001:db8::a"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("::1", "::1"),
            ("fe80::0:1", "fe80::1"),
            ("1::", "1::"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::FFFF:c000:0201", "::ffff:192.0.2.1"),
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ]
        for (input, canonical) in cases {
            let a = try IPv6Address(input)
            XCTAssertEqual(a.description, canonical, input)
            XCTAssertEqual(try IPv6Address(canonical), a, canonical)
        }
    }

    /// RFC 4291 §2.2 text forms only: no zone, brackets, prefix, five-digit group, second `::`, too
    /// many or too few groups, IPv4 part anywhere but last, or a sign the integer parser would take.
    func testRejectsWhatRFC4291DoesNotAllow() {
        let bad = ["", ":", ":::", "1:2", "fe80::1%eth0", "[2001:db8::1]", "2001:db8::/64", "2001:db8::1 ", " 2001:db8::1",
                   "2001:db8:::1", "2001::db8::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8::",
                   "12345::1", "+1::1", "-1::1", "::1.2.3", "::1.2.3.04", "1.2.3.4::", "::1.2.3.4:5", "g::1", ":1::1", "1::1:",
                   "2001:db8::1\n", "0x1::1", "1:2:3:4:5:6:1.2.3.4:8"]
        for text in bad {
            XCTAssertThrowsError(try IPv6Address(text), text) { e in
                XCTAssertEqual("\(e)", "invalid IPv6 address \(quoted(text))")
            }
        }
    }

    func testPrefixIsStrictAndContains() throws {
        let p = try IPv6Prefix("2001:db8:1::/64")
        XCTAssertEqual(p.description, "2001:db8:1::/64")
        XCTAssertTrue(p.contains(try IPv6Address("2001:db8:1::ffff:1")))
        XCTAssertFalse(p.contains(try IPv6Address("2001:db8:2::1")))
        XCTAssertEqual(try IPv6Prefix("2001:DB8:1:0::/64"), p)
        XCTAssertThrowsError(try IPv6Prefix("2001:db8:1::1/64")) { XCTAssertEqual("\($0)", "invalid IPv6 prefix \"2001:db8:1::1/64\": host bits set") }
        for bad in ["2001:db8::/129", "2001:db8::/064", "2001:db8::", "2001:db8::/", "2001:db8::/+64", "10.0.0.0/8"] {
            XCTAssertThrowsError(try IPv6Prefix(bad), bad)
        }
        XCTAssertEqual(try IPv6Prefix("::/0"), IPv6Prefix.any)
        XCTAssertEqual(try IPv6Prefix(containing: try IPv6Address("2001:db8:1::9"), length: 64), p)
    }

    func testEitherFamilyOrdersIPv4FirstAndPrintsHosts() throws {
        let v4 = IPAddress.v4(try IPv4Address("255.255.255.255")), v6 = IPAddress.v6(try IPv6Address("::"))
        XCTAssertLessThan(v4, v6)
        XCTAssertEqual(IPPrefix(host: v6).description, "::/128")
        XCTAssertTrue(IPPrefix(host: v6).isHost)
        let rule = Rule(priority: 10001, source: IPPrefix(host: .v6(try IPv6Address("2001:db8::a"))), table: 10001, proto: 234)
        XCTAssertEqual(rule.family, .v6)
        XCTAssertEqual(rule.description, "from 2001:db8::a lookup 10001 priority 10001 protocol 234")
        let route = Route(table: 10001, destination: .any(.v6), gateway: .v6(try IPv6Address("fe80::1")), device: "eth1", proto: 234)
        XCTAssertEqual(route.metric, 1024)
        XCTAssertEqual(route.description, "default via fe80::1 dev eth1 table 10001 proto 234")
        // `from all` of either family: two rules.
        XCTAssertNotEqual(Rule(priority: 0, source: nil, family: .v4, table: 255, proto: 2),
                          Rule(priority: 0, source: nil, family: .v6, table: 255, proto: 2))
    }

    func testENIIPv6Validation() throws {
        let subnet = try IPv6Prefix("2001:db8:1::/64")
        func v6(_ addrs: [String], _ gw: String? = nil, subnet s: IPv6Prefix? = nil) throws -> ENIIPv6 {
            try ENIIPv6(addresses: addrs.map { try IPv6Address($0) }, subnet: s ?? subnet, gateway: gw.map { try IPv6Address($0) }, name: "ENI x")
        }
        XCTAssertEqual(try v6(["2001:db8:1::b", "2001:db8:1::a", "2001:db8:1::b"]).addresses.map(\.description), ["2001:db8:1::a", "2001:db8:1::b"])
        XCTAssertNil(try v6(["2001:db8:1::a"]).gateway)
        XCTAssertEqual(try v6(["2001:db8:1::a"], "fe80::1").gateway?.description, "fe80::1")
        XCTAssertEqual(try v6(["2001:db8:1::a"], "2001:db8:1::1").gateway?.description, "2001:db8:1::1")
        let bad: [(() throws -> ENIIPv6, String)] = [
            ({ try v6([]) }, "ENI x: no IPv6 address in its IPv6 subnet 2001:db8:1::/64"),
            ({ try v6(["2001:db8:2::a"]) }, "ENI x: IPv6 address 2001:db8:2::a is outside its subnet 2001:db8:1::/64"),
            ({ try v6(["2001:db8:1::"]) }, "ENI x: IPv6 address 2001:db8:1:: is the subnet-router anycast address of its subnet 2001:db8:1::/64"),
            ({ try v6(["2001:db8:1::a"], "2001:db8:2::1") }, "ENI x: IPv6 gateway 2001:db8:2::1 is neither link-local nor inside its subnet 2001:db8:1::/64"),
            ({ try v6(["2001:db8:1::a"], "ff02::2") }, "ENI x: IPv6 gateway ff02::2 is neither link-local nor inside its subnet 2001:db8:1::/64"),
            ({ try v6(["2001:db8:1::a"], "2001:db8:1::a") }, "ENI x: IPv6 gateway 2001:db8:1::a is also one of its IPv6 addresses"),
            ({ try v6(["fe80::a"], subnet: try IPv6Prefix("fe80::/64")) }, "ENI x: IPv6 subnet fe80::/64 is not a global unicast subnet"),
            ({ try v6(["2000::a"], subnet: try IPv6Prefix("2000::/8")) }, "ENI x: IPv6 subnet 2000::/8 is not a /16 to /127"),
        ]
        for (make, message) in bad {
            XCTAssertThrowsError(try make()) { XCTAssertEqual("\($0)", message) }
        }
    }

    /// An IPv6 address on two ENIs makes the IPv6 of both unknown; their IPv4 and the instance stay.
    func testAnIPv6AddressOnTwoENIsHoldsTheIPv6OfBoth() throws {
        func eni(_ n: UInt8, _ v6: String) throws -> ENI {
            let subnet = try IPv6Prefix("2001:db8:1::/64")
            return try ENI(mac: try MACAddress(bytes: [0x52, 0x54, 0, 0, n, 0x0a]), primaryIP: try IPv4Address("10.0.\(n).10"),
                           subnet: try IPv4Prefix("10.0.\(n).0/24"), gateway: try IPv4Address("10.0.\(n).1"),
                           ipv6: try ENIIPv6(addresses: [try IPv6Address(v6)], subnet: subnet, gateway: nil, name: "ENI"))
        }
        let i = try Instance(primaryMAC: try MACAddress("52:54:00:00:01:0a"),
                             enis: [try eni(1, "2001:db8:1::1:a"), try eni(2, "2001:db8:1::a"), try eni(3, "2001:db8:1::a")])
        XCTAssertNotNil(i.enis[0].ipv6)
        for e in i.enis.dropFirst() {
            XCTAssertNil(e.ipv6)
            XCTAssertEqual(e.ipv6Unknown, .invalid("IPv6 address 2001:db8:1::a is claimed by two ENIs: 52:54:00:00:02:0a and 52:54:00:00:03:0a"))
        }
        XCTAssertEqual(i.enis.count, 3)
    }
}

import ENIModel
import XCTest

final class ModelTests: XCTestCase {
    func testMACParsesEitherCaseAndPrintsLower() throws {
        XCTAssertEqual(try MACAddress("52:54:00:BF:B3:51").description, "52:54:00:bf:b3:51")
        XCTAssertEqual(try MACAddress("52-54-00-bf-b3-51"), try MACAddress("52:54:00:BF:B3:51"))
    }

    func testMACRejectsMalformedNamingTheValue() {
        for bad in ["52:54:00:bf:b3", "52:54:00:bf:b3:5g", "52:54:00:bf:b3:511", "", "52:54:00:bf:b3:51\n", "52:54:00:bf:b3:5"] {
            XCTAssertThrowsError(try MACAddress(bad), bad) { e in
                XCTAssertTrue("\(e)".contains("invalid MAC address"), "\(e)")
            }
        }
        XCTAssertThrowsError(try MACAddress("zz:54:00:bf:b3:51")) { XCTAssertEqual("\($0)", "invalid MAC address \"zz:54:00:bf:b3:51\"") }
    }

    func testIPv4StrictDottedQuad() throws {
        XCTAssertEqual(try IPv4Address("10.0.2.10").value, 0x0A00_020A)
        XCTAssertEqual(try IPv4Address("255.255.255.255").description, "255.255.255.255")
        for bad in ["10.0.2", "10.0.2.256", "010.0.2.1", "10.0.2.1 ", "10.0.2.-1", "10..2.1", "1e1.0.0.1", "$(reboot)", "10.0.2.1\n"] {
            XCTAssertThrowsError(try IPv4Address(bad), bad) { e in XCTAssertTrue("\(e)".contains("invalid IPv4 address"), "\(e)") }
        }
    }

    func testPrefixRequiresZeroHostBits() throws {
        XCTAssertEqual(try IPv4Prefix("10.0.2.0/24").description, "10.0.2.0/24")
        XCTAssertThrowsError(try IPv4Prefix("10.0.2.1/24")) { XCTAssertTrue("\($0)".contains("host bits set")) }
        XCTAssertThrowsError(try IPv4Prefix("10.0.2.0/33"))
        XCTAssertThrowsError(try IPv4Prefix("10.0.2.0"))
        XCTAssertTrue(try IPv4Prefix("10.0.0.0/18").contains(try IPv4Address("10.0.63.255")))
        XCTAssertFalse(try IPv4Prefix("10.0.0.0/18").contains(try IPv4Address("10.0.64.0")))
    }

    /// Found by Fuzz/addresses (Fuzz/corpus/addresses/regress-prefix-length-leading-zero): the
    /// length took leading zeros, so "10.0.0.0/08" parsed as 10.0.0.0/8 while addresses are strict.
    func testPrefixLengthIsStrict() throws {
        XCTAssertEqual(try IPv4Prefix("0.0.0.0/0").length, 0)
        XCTAssertEqual(try IPv4Prefix("10.0.0.0/8").length, 8)
        for bad in ["10.0.0.0/08", "10.0.0.0/008", "0.0.0.0/00", "10.0.0.0/+8", "10.0.0.0/", "10.0.0.0/８"] {
            XCTAssertThrowsError(try IPv4Prefix(bad), bad) { XCTAssertEqual("\($0)", "invalid IPv4 prefix \(quoted(bad))") }
        }
    }

    func testNetmaskMustBeContiguous() throws {
        XCTAssertEqual(try IPv4Prefix.length(ofNetmask: "255.255.192.0"), 18)
        XCTAssertEqual(try IPv4Prefix.length(ofNetmask: "255.255.255.255"), 32)
        XCTAssertEqual(try IPv4Prefix.length(ofNetmask: "0.0.0.0"), 0)
        XCTAssertThrowsError(try IPv4Prefix.length(ofNetmask: "255.0.255.0")) {
            XCTAssertEqual("\($0)", "non-contiguous netmask \"255.0.255.0\"")
        }
    }

    func eni(_ mac: String, _ ip: String, _ more: [String] = [], subnet: String = "10.0.2.0/24", gw: String = "10.0.2.1") throws -> ENI {
        try ENI(mac: MACAddress(mac), primaryIP: IPv4Address(ip), secondaryIPs: more.map { try IPv4Address($0) },
                subnet: IPv4Prefix(subnet), gateway: IPv4Address(gw))
    }

    /// An ENI has IPv4, IPv6 or an IPv6 not known this time; never nothing.
    func testAnENIHasAFamily() throws {
        let mac = try MACAddress("52:54:00:00:02:0a")
        XCTAssertThrowsError(try ENI(mac: mac, ipv4: nil)) {
            XCTAssertEqual("\($0)", "ENI 52:54:00:00:02:0a: no IPv4 and no IPv6 address")
        }
        let v6 = try ENIIPv6(addresses: [IPv6Address("2001:db8::a")], subnet: IPv6Prefix("2001:db8::/64"), gateway: nil, name: "x")
        XCTAssertEqual(try ENI(mac: mac, ipv4: nil, ipv6: v6).allIPs, [])
        let held = try ENI(mac: mac, ipv4: nil, ipv6: v6, ipv6Unknown: .pending("router"))
        XCTAssertNil(held.ipv6, "an unknown IPv6 has no addresses")
        XCTAssertThrowsError(try ENI(mac: MACAddress("01:00:5e:00:00:01"), ipv4: nil, ipv6: v6)) {
            XCTAssertEqual("\($0)", "ENI 01:00:5e:00:00:01: 01:00:5e:00:00:01 is not a unicast MAC address")
        }
    }

    func testENIValidation() throws {
        XCTAssertThrowsError(try eni("52:54:00:00:02:0a", "10.0.3.10")) {
            XCTAssertEqual("\($0)", "ENI 52:54:00:00:02:0a: IP 10.0.3.10 is outside its subnet 10.0.2.0/24")
        }
        XCTAssertThrowsError(try eni("52:54:00:00:02:0a", "10.0.2.10", gw: "10.0.3.1")) {
            XCTAssertEqual("\($0)", "ENI 52:54:00:00:02:0a: gateway 10.0.3.1 is outside its subnet 10.0.2.0/24")
        }
        XCTAssertThrowsError(try eni("52:54:00:00:02:0a", "10.0.2.1"))
        for (e, message) in [
            ({ try self.eni("52:54:00:00:02:0a", "10.0.2.10", subnet: "0.0.0.0/0") },
             "ENI 52:54:00:00:02:0a: subnet 0.0.0.0/0 is too large for an ENI (shorter than /8)"),
            ({ try self.eni("52:54:00:00:02:0a", "10.0.2.0") }, "ENI 52:54:00:00:02:0a: IP 10.0.2.0 is the network address of its subnet 10.0.2.0/24"),
            ({ try self.eni("52:54:00:00:02:0a", "10.0.2.10", ["10.0.2.255"]) },
             "ENI 52:54:00:00:02:0a: IP 10.0.2.255 is the broadcast address of its subnet 10.0.2.0/24"),
            ({ try self.eni("52:54:00:00:02:0a", "10.0.2.10", gw: "10.0.2.255") },
             "ENI 52:54:00:00:02:0a: gateway 10.0.2.255 is the broadcast address of its subnet 10.0.2.0/24"),
            ({ try self.eni("00:00:00:00:00:00", "10.0.2.10") }, "ENI 00:00:00:00:00:00: 00:00:00:00:00:00 is not a unicast MAC address"),
            ({ try self.eni("ff:ff:ff:ff:ff:ff", "10.0.2.10") }, "ENI ff:ff:ff:ff:ff:ff: ff:ff:ff:ff:ff:ff is not a unicast MAC address"),
        ] as [(() throws -> ENI, String)] {
            XCTAssertThrowsError(try e()) { XCTAssertEqual("\($0)", message) }
        }
        // A /30 has two host addresses; a /8 is the largest subnet.
        XCTAssertNoThrow(try eni("52:54:00:00:02:0a", "10.0.2.2", subnet: "10.0.2.0/30"))
        XCTAssertNoThrow(try eni("52:54:00:00:02:0a", "10.0.2.10", subnet: "10.0.0.0/8", gw: "10.0.0.1"))
        // Secondary IPs: sorted, deduplicated, without the primary.
        let e = try eni("52:54:00:00:02:0a", "10.0.2.10", ["10.0.2.12", "10.0.2.10", "10.0.2.11", "10.0.2.12"])
        XCTAssertEqual(e.ipv4!.secondaryIPs.map(\.description), ["10.0.2.11", "10.0.2.12"])
    }

    func testInstanceRejectsAnIPOnTwoENIs() throws {
        let a = try eni("52:54:00:00:02:0a", "10.0.2.10")
        let b = try eni("52:54:00:00:03:0a", "10.0.2.11", ["10.0.2.10"])
        XCTAssertThrowsError(try Instance(primaryMAC: a.mac, enis: [a, b])) {
            XCTAssertEqual("\($0)", "IP 10.0.2.10 is claimed by two ENIs: 52:54:00:00:02:0a and 52:54:00:00:03:0a")
        }
        XCTAssertThrowsError(try Instance(primaryMAC: a.mac, enis: [a, a]))
    }

    /// An ENI the metadata could not describe is pending (not an error) or invalid, as a type.
    func testUndescribedKinds() {
        XCTAssertTrue(Undescribed.pending("not listed yet").isPending)
        XCTAssertEqual(Undescribed.pending("not listed yet").description, "pending: not listed yet")
        XCTAssertFalse(Undescribed.invalid("HTTP 500").isPending)
        XCTAssertEqual(Undescribed.invalid("HTTP 500").description, "HTTP 500")
        XCTAssertEqual(Undescribed.pending("x").reason, "x")
    }

    func testInstanceNeedsItsPrimaryAmongTheENIs() throws {
        let a = try eni("52:54:00:00:02:0a", "10.0.2.10")
        let primary = try MACAddress("52:54:00:00:01:0a")
        XCTAssertThrowsError(try Instance(primaryMAC: primary, enis: [a])) {
            XCTAssertEqual("\($0)", "primary MAC 52:54:00:00:01:0a is not among the ENIs (1 listed)")
        }
        XCTAssertThrowsError(try Instance(primaryMAC: primary, enis: [])) {
            XCTAssertEqual("\($0)", "primary MAC 52:54:00:00:01:0a is not among the ENIs (0 listed)")
        }
        // Listed but not described this time: the instance is usable, the primary left alone.
        XCTAssertNoThrow(try Instance(primaryMAC: primary, enis: [a], unknown: [primary: .invalid("timeout")]))
    }

    func testMarkerOwner() throws {
        let mac = try MACAddress("52:54:00:00:02:0a")
        let file = FileMarker.line(owner: mac) + "\nDEVICE=eth1\n"
        XCTAssertTrue(FileMarker.isManaged(file))
        XCTAssertEqual(FileMarker.owner(of: file), mac)
        XCTAssertNil(FileMarker.owner(of: FileMarker.line(owner: nil) + "\n"))
        XCTAssertFalse(FileMarker.isManaged("DEVICE=eth1\n# Managed by eni-agent\n"))
        XCTAssertFalse(FileMarker.isManaged("# Managed by eni-agentX\n"))
    }

    func testSysctlKeysWithDottedInterfaceNames() {
        let k = SysctlSetting.ipv4Conf("eth0.100", "rp_filter")
        XCTAssertEqual(k, "net.ipv4.conf.eth0/100.rp_filter")
        XCTAssertEqual(SysctlSetting.procPath(k), "net/ipv4/conf/eth0.100/rp_filter")
    }

    func testSafeInterfaceNames() {
        XCTAssertTrue(Link.isSafeName("eth1"))
        XCTAssertTrue(Link.isSafeName("enp1s0f0.100"))
        for bad in ["", ".", "..", "eth1$(x)", "eth 1", "eth1'", "a234567890123456", "eth1\n"] {
            XCTAssertFalse(Link.isSafeName(bad), bad)
        }
    }

    func testExclusionPatterns() throws {
        let x = Exclusions(interfaces: ["veth*", "eth?", "docker0"], macs: [try MACAddress("52:54:00:00:09:0a")])
        for name in ["veth", "veth1a2b", "eth1", "docker0"] { XCTAssertTrue(x.excludes(name: name, mac: nil), name) }
        for name in ["eth10", "eth", "docker01", "xveth1", "ens5"] { XCTAssertFalse(x.excludes(name: name, mac: nil), name) }
        XCTAssertTrue(x.excludes(name: "ens5", mac: try MACAddress("52:54:00:00:09:0a")))
        XCTAssertTrue(Exclusions().excludes(name: "cali12ab", mac: nil))
        XCTAssertFalse(Exclusions().excludes(name: "eth1", mac: nil))
        XCTAssertFalse(Exclusions.none.excludes(name: "veth1", mac: nil))
    }
}

import ENIModel
import ENIPlanner
@testable import ENIPlannerTests
@testable import ENIRender
import Foundation
import XCTest

/// The ifcfg renderer's files (network-scripts: `ifcfg-IF`, `route-IF`, `rule-IF`, and for an ENI
/// with IPv6 `route6-IF`, `rule6-IF`), and the sysctl.d file's IPv6 settings.
final class IfcfgRendererTests: XCTestCase {
    let dir = IfcfgRenderer.directory
    let marker = "# Managed by eni-agent for 52:54:00:00:02:0a; local changes are overwritten."

    func render(_ d: InterfaceDesign, nmControlled: Bool = false) throws -> [String: String] {
        try IfcfgRenderer(nmControlled: nmControlled).render(NetworkDesign(interfaces: [d], sysctls: []))
    }

    /// The IPv4 keys and lines of an ENI without IPv6: no IPv6 key, no `route6-IF` or `rule6-IF`.
    func testTheFilesOfAnENIWithoutIPv6() throws {
        XCTAssertEqual(try render(try RendererFixtures.oneSecondary(name: "eth1", table: 10001)), [
            "\(dir)/ifcfg-eth1": """
                \(marker)
                DEVICE=eth1
                HWADDR=52:54:00:00:02:0a
                ONBOOT=yes
                BOOTPROTO=none
                IPADDR=10.0.2.10
                PREFIX=24
                IPADDR1=10.0.2.11
                PREFIX1=24
                DEFROUTE=no
                NM_CONTROLLED=no

                """,
            "\(dir)/route-eth1": """
                \(marker)
                10.0.2.0/24 dev eth1 scope link table 10001 proto 234
                default via 10.0.2.1 dev eth1 table 10001 proto 234

                """,
            "\(dir)/rule-eth1": """
                \(marker)
                from 10.0.2.10 lookup 10001 priority 10001 protocol 234
                from 10.0.2.11 lookup 10001 priority 10001 protocol 234

                """,
        ])
    }

    /// A dual-stack ENI: the IPv6 keys `ifup-ipv6` reads (and NetworkManager's ifcfg-rh), the IPv4
    /// lines in `route-IF` / `rule-IF` (`ip -4`), the IPv6 ones in `route6-IF` / `rule6-IF` (`ip -6`).
    func testTheFilesOfADualStackENI() throws {
        let d = try RendererFixtures.dualStack(name: "eth1", table: 10001)
        let files = try render(d)
        XCTAssertEqual(files, [
            "\(dir)/ifcfg-eth1": """
                \(marker)
                DEVICE=eth1
                HWADDR=52:54:00:00:02:0a
                ONBOOT=yes
                BOOTPROTO=none
                IPADDR=10.0.2.10
                PREFIX=24
                IPADDR1=10.0.2.11
                PREFIX1=24
                DEFROUTE=no
                IPV6INIT=yes
                IPV6_AUTOCONF=no
                IPV6ADDR=2001:db8:2::10/128
                IPV6ADDR_SECONDARIES='2001:db8:2::11/128 2001:db8:2::12/128'
                IPV6_DEFROUTE=no
                NM_CONTROLLED=no

                """,
            "\(dir)/route-eth1": """
                \(marker)
                10.0.2.0/24 dev eth1 scope link table 10001 proto 234
                default via 10.0.2.1 dev eth1 table 10001 proto 234

                """,
            "\(dir)/rule-eth1": """
                \(marker)
                from 10.0.2.10 lookup 10001 priority 10001 protocol 234
                from 10.0.2.11 lookup 10001 priority 10001 protocol 234

                """,
            "\(dir)/route6-eth1": """
                \(marker)
                2001:db8:2::/64 dev eth1 table 10001 proto 234
                default via 2001:db8:2::1 dev eth1 table 10001 proto 234

                """,
            "\(dir)/rule6-eth1": """
                \(marker)
                from 2001:db8:2::10 lookup 10001 priority 10001 protocol 234
                from 2001:db8:2::11 lookup 10001 priority 10001 protocol 234
                from 2001:db8:2::12 lookup 10001 priority 10001 protocol 234

                """,
        ])
        // Without the IPv6 keys and files, the files of the same ENI without IPv6.
        var ipv4 = files.filter { !$0.key.contains("6-") }
        ipv4["\(dir)/ifcfg-eth1"] = ipv4["\(dir)/ifcfg-eth1"]!.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("IPV6") }.joined(separator: "\n")
        XCTAssertEqual(ipv4, try render(try RendererFixtures.oneSecondary(name: "eth1", table: 10001)))
        // NetworkManager's ifcfg-rh reads them where NM_CONTROLLED=yes: the same IPv6 keys.
        XCTAssertEqual(try render(d, nmControlled: true)["\(dir)/ifcfg-eth1"],
                       files["\(dir)/ifcfg-eth1"]!.replacingOccurrences(of: "NM_CONTROLLED=no", with: "NM_CONTROLLED=yes"))
    }

    /// One IPv6 address (no `IPV6ADDR_SECONDARIES`) and a link-local router, named with the device
    /// it is on as `ip -6 route add` needs.
    func testTheFilesOfAnENIWhoseRouterIsLinkLocal() throws {
        let files = try render(try RendererFixtures.linkLocalRouter(name: "ens6", table: 10003))
        XCTAssertEqual(files.keys.sorted(), ["ifcfg-ens6", "route-ens6", "route6-ens6", "rule-ens6", "rule6-ens6"].map { "\(dir)/\($0)" })
        XCTAssertEqual(files["\(dir)/ifcfg-ens6"]?.split(separator: "\n").filter { $0.hasPrefix("IPV6") },
                       ["IPV6INIT=yes", "IPV6_AUTOCONF=no", "IPV6ADDR=2001:db8:2::20/128", "IPV6_DEFROUTE=no"])
        XCTAssertEqual(files["\(dir)/route6-ens6"], """
            \(marker)
            2001:db8:2::/64 dev ens6 table 10003 proto 234
            default via fe80::1:ff:fe00:1 dev ens6 table 10003 proto 234

            """)
        XCTAssertEqual(files["\(dir)/rule6-ens6"], """
            \(marker)
            from 2001:db8:2::20 lookup 10003 priority 10003 protocol 234

            """)
        XCTAssertThrowsError(try render(try RendererFixtures.linkLocalRouter(name: "ens6$(x)", table: 10003))) {
            XCTAssertEqual("\($0)", "interface name \"ens6$(x)\" cannot be written to network files safely")
        }
    }

    /// An ENI whose IPv6 is held (no router known yet): its files say nothing of IPv6, as the
    /// design configures none.
    func testAnENIWhoseIPv6IsHeldGetsNoIPv6Files() throws {
        var d = try RendererFixtures.dualStack(name: "eth1", table: 10001)
        d.ipv6Gateway = nil
        d.ipv6Held = .pending("no IPv6 router known on eth1 yet")
        XCTAssertEqual(try render(d), try render(try RendererFixtures.oneSecondary(name: "eth1", table: 10001)))
    }

    func testTheInterfaceOfEachPath() {
        let r = IfcfgRenderer()
        for kind in ["ifcfg", "route", "rule", "route6", "rule6"] {
            XCTAssertEqual(r.interface(ofPath: "\(dir)/\(kind)-eth1"), "eth1", kind)
            XCTAssertEqual(r.interface(ofPath: "\(dir)/\(kind)-ens6.5"), "ens6.5", kind)
            XCTAssertNil(r.interface(ofPath: "\(dir)/\(kind)-eth1$(x)"), kind)
            XCTAssertNil(r.interface(ofPath: "/etc/\(kind)-eth1"), kind)
        }
        XCTAssertNil(r.interface(ofPath: "\(dir)/route4-eth1"))
        XCTAssertNil(r.interface(ofPath: "\(dir)/rule66-eth1"))
        XCTAssertEqual(RendererKind.ifcfg.renderer(nmControlled: false).interface(ofPath: "\(dir)/rule6-eth2"), "eth2")
    }

    /// `bash -c '. FILE'`, as network-scripts read it, yields the IPv6 addresses.
    func testTheIPv6AddressesSurviveSourcing() throws {
        let files = try render(try RendererFixtures.dualStack(name: "eth1", table: 10001))
        let tmp = FileManager.default.temporaryDirectory.appending(path: "eni-ifcfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let file = tmp.appending(path: "ifcfg-eth1")
        try Data(files["\(dir)/ifcfg-eth1"]!.utf8).write(to: file)
        let p = Process()
        p.executableURL = URL(filePath: "/bin/bash")
        p.arguments = ["-c", #". "$1"; printf '%s\0' "$IPV6INIT" "$IPV6ADDR" "$IPV6ADDR_SECONDARIES" "$IPV6_AUTOCONF" "$IPV6_DEFROUTE"; for a in $IPV6ADDR_SECONDARIES; do printf '%s\0' "$a"; done"#,
                       "bash", file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let got = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
        // ifup-ipv6 splits IPV6ADDR_SECONDARIES on spaces (`for ipv6addr in $IPV6ADDR_SECONDARIES`).
        XCTAssertEqual(got, ["yes", "2001:db8:2::10/128", "2001:db8:2::11/128 2001:db8:2::12/128", "no", "no",
                             "2001:db8:2::11/128", "2001:db8:2::12/128"])
    }

    /// The per-ENI IPv6 settings are written as rp_filter is, under the ENI's comment, and read
    /// back; a dot in an interface name is a `/`.
    func testTheSysctlFileHoldsTheIPv6Settings() throws {
        let mac = try MACAddress("52:54:00:00:02:0a")
        let settings = [SysctlSetting(key: SysctlSetting.ipv4Conf("eth1.5", "rp_filter"), value: "2", owner: mac)]
            + SysctlSetting.ipv6ENILeaves.map { SysctlSetting(key: SysctlSetting.ipv6Conf("eth1.5", $0.leaf), value: $0.value, owner: mac) }
        let files = try SysctlRenderer().render(NetworkDesign(interfaces: [], sysctls: settings))
        XCTAssertEqual(files, [SysctlRenderer.path: """
            # Managed by eni-agent; local changes are overwritten.
            # ENI 52:54:00:00:02:0a
            net.ipv4.conf.eth1/5.rp_filter = 2
            # ENI 52:54:00:00:02:0a
            net.ipv6.conf.eth1/5.disable_ipv6 = 0
            # ENI 52:54:00:00:02:0a
            net.ipv6.conf.eth1/5.accept_dad = 0
            # ENI 52:54:00:00:02:0a
            net.ipv6.conf.eth1/5.accept_ra_defrtr = 0
            # ENI 52:54:00:00:02:0a
            net.ipv6.conf.eth1/5.accept_ra_pinfo = 0

            """])
        XCTAssertEqual(SysctlRenderer().persistedSettings(RendererFixtures.observed(files)), settings)
    }
}

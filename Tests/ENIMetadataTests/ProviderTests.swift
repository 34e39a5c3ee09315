import ENIHTTP
import Foundation
@testable import ENIMetadata
import ENIModel
import MetadataSimulator
import XCTest

/// The providers against the in-process simulator on loopback: shapes, faults, request counts.
final class ProviderTests: XCTestCase {
    static let primary = "52:54:00:00:01:0a"
    static let eth1 = "52:54:00:00:02:0a"
    static let eth2 = "52:54:00:00:03:0a"

    /// 1 primary + 2 secondary ENIs with several IPs each.
    static func scenario(_ cloud: Scenario.Cloud) -> Scenario {
        var enis = [
            Scenario.ENI(mac: primary, primaryIP: "10.0.1.10", secondaryIPs: ["10.0.1.11"], subnet: "10.0.1.0/24",
                         gateway: "10.0.1.1", deviceNumber: 0, id: "eni-0001"),
            Scenario.ENI(mac: eth1, primaryIP: "10.0.2.10", secondaryIPs: ["10.0.2.11", "10.0.2.12", "10.0.2.13"],
                         subnet: "10.0.2.0/24", gateway: "10.0.2.1", deviceNumber: 1, id: "eni-0002"),
            Scenario.ENI(mac: eth2, primaryIP: "172.16.8.20", secondaryIPs: ["172.16.9.21", "172.16.10.22"],
                         subnet: "172.16.0.0/20", gateway: "172.16.0.1", deviceNumber: 2, id: "eni-0003"),
        ]
        if cloud == .tencent { for i in enis.indices { enis[i].deviceNumber = nil; enis[i].id = nil } }
        if cloud == .aliyun { for i in enis.indices { enis[i].deviceNumber = nil } }
        return Scenario(cloud: cloud, primaryMAC: primary, enis: enis)
    }

    /// What the provider should make of a scenario (IPv6: Alibaba's and AWS's, with Alibaba's
    /// gateway; Tencent has none).
    static func expected(_ s: Scenario) throws -> Instance {
        try Instance(primaryMAC: MACAddress(s.primaryMAC), enis: s.enis.map { e in
            var ipv6: ENIIPv6?
            if s.cloud != .tencent, let a = e.ipv6s, !a.isEmpty, let subnet6 = e.subnet6 {
                ipv6 = try ENIIPv6(addresses: a.map { try IPv6Address($0) }, subnet: IPv6Prefix(subnet6),
                                   gateway: s.cloud == .aliyun ? e.gateway6.map { try IPv6Address($0) } : nil, name: e.mac)
            }
            var ipv4: ENIIPv4?
            if let primaryIP = e.primaryIP, let subnetText = e.subnet {
                let subnet = try IPv4Prefix(subnetText)
                ipv4 = try ENIIPv4(primaryIP: IPv4Address(primaryIP), secondaryIPs: e.secondaryIPs.map { try IPv4Address($0) },
                                   subnet: subnet,
                                   gateway: s.cloud == .aws ? IPv4Address(value: subnet.network.value + 1) : IPv4Address(e.gateway!),
                                   name: e.mac)
            }
            return try ENI(mac: MACAddress(e.mac), ipv4: ipv4, deviceNumber: e.deviceNumber, networkCard: e.networkCard, id: e.id,
                           ipv6: ipv6)
        })
    }

    /// Short timeouts so that the fault tests finish quickly.
    static func discipline() -> FetchDiscipline {
        var d = FetchDiscipline()
        d.requestTimeoutMilliseconds = 500
        d.roundTimeoutMilliseconds = 3000
        d.backoffMilliseconds = 10
        return d
    }

    func provider(_ sim: MetadataSimulator, _ cloud: Cloud, _ d: FetchDiscipline = discipline()) -> CloudMetadataProvider {
        CloudMetadataProvider(cloud: cloud, baseURL: sim.baseURL, discipline: d)
    }

    func mac(_ s: String) -> MACAddress { try! MACAddress(s) }

    /// The fetch must throw; returns the message.
    func fetchError(_ p: some MetadataProvider, waitingFor: Set<MACAddress> = [],
                    file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let r = try p.fetch(waitingFor: waitingFor)
            XCTFail("fetch succeeded: \(r.instance)", file: file, line: line)
            return ""
        } catch { return "\(error)" }
    }

    // MARK: Shapes

    func testEachProviderReadsTheScenarioExactly() throws {
        for cloud in [Scenario.Cloud.tencent, .aliyun, .aws] {
            let s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            let r = try provider(sim, Cloud(rawValue: cloud.rawValue)!).fetch(waitingFor: [])
            XCTAssertEqual(r.instance, try Self.expected(s), "\(cloud)")
            XCTAssertEqual(r.instance.unknown, [:], "\(cloud)")
            XCTAssertEqual(r.warnings, [], "\(cloud)")
            XCTAssertEqual(r.requests, sim.stats.requests, "\(cloud)")
        }
    }

    func testTencentListingWithoutTrailingSlashes() throws {
        var s = Self.scenario(.tencent)
        s.listingSlashes = false
        let sim = try MetadataSimulator(scenario: s)
        let r = try provider(sim, .tencent).fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try Self.expected(s))
    }

    func testTencentURLsUseTheUpperCaseMACsOfTheListing() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.tencent))
        _ = try provider(sim, .tencent).fetch(waitingFor: [])
        let paths = sim.stats.byPath.keys.filter { $0.contains("/macs/52") }
        XCTAssertFalse(paths.isEmpty)
        XCTAssertTrue(paths.allSatisfy { $0.contains("52:54:00:00:0") && !$0.contains(":0a/") }, "\(paths.sorted())")
    }

    func testAutoPicksTheCloudThatAnswersWithItsShape() throws {
        for cloud in [Scenario.Cloud.tencent, .aliyun, .aws] {
            let s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            let auto = AutoMetadataProvider(baseURL: sim.baseURL, discipline: Self.discipline())
            let r = try auto.fetch(waitingFor: [])
            XCTAssertEqual(r.instance, try Self.expected(s), "\(cloud)")
            XCTAssertTrue(auto.name.hasPrefix(cloud.rawValue), "\(cloud): chose \(auto.name)")
        }
    }

    /// DMI names the cloud: only that cloud is asked (no probe of the others), and the name says why.
    func testAutoAsksOnlyTheCloudThatDMINames() throws {
        let dmis: [(Scenario.Cloud, DMIIdentity, String)] = [
            (.tencent, DMIIdentity(sysVendor: "Tencent Cloud", productName: "Tencent Cloud CVM"), #"DMI product_name "Tencent Cloud CVM""#),
            (.aliyun, DMIIdentity(sysVendor: "Alibaba Cloud", productName: "Alibaba Cloud ECS"), #"DMI product_name "Alibaba Cloud ECS""#),
            (.aws, DMIIdentity(sysVendor: "Amazon EC2", productName: "m5.large"), #"DMI sys_vendor "Amazon EC2""#),
            (.aws, DMIIdentity(sysVendor: "Xen", productName: "HVM domU", productUUID: "EC2E1916-9099-7CAF-FD21-012345678901"),
             #"DMI product_uuid "EC2E1916-9099-7CAF-FD21-012345678901""#),
        ]
        for (cloud, dmi, reason) in dmis {
            let s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            let auto = AutoMetadataProvider(baseURL: sim.baseURL, discipline: Self.discipline(), dmi: dmi)
            XCTAssertEqual(auto.name, "\(cloud.rawValue) (\(sim.baseURL)), chosen by \(reason)")
            let r = try auto.fetch(waitingFor: [])
            XCTAssertEqual(r.instance, try Self.expected(s), "\(cloud)")
        }
        // DMI that names another cloud than the endpoint serves: it fails, as no probe finds the
        // cloud that answers.
        let sim = try MetadataSimulator(scenario: Self.scenario(.aws))
        let wrong = AutoMetadataProvider(baseURL: sim.baseURL, discipline: Self.discipline(), dmi: DMIIdentity(productName: "Alibaba Cloud ECS"))
        _ = fetchError(wrong)
        XCTAssertNil(DMIIdentity(sysVendor: "QEMU", productName: "Standard PC (i440FX + PIIX, 1996)", productUUID: "3c9f0b2e").cloud)
        XCTAssertNil(DMIIdentity().cloud)
    }

    /// `--metadata-url` by the endpoint's root, as cloud-init, nm-cloud-setup and the AWS SDKs spell
    /// it, or by the full base: the same answers (AWS: the token from `/latest/api/token`).
    /// Found by Fuzz/metadata-answers (Fuzz/corpus/metadata-answers/regress-leaf-inner-crlf): a
    /// leaf with "\r\n" inside passed as one value, since "\r\n" is one Character, equal to
    /// neither "\n" nor "\r".
    func testLeafWithALineEndInsideIsNotOneValue() throws {
        for (body, shown) in [("\r\n@\n", #""\r\n@""#), ("eni-1\r\neni-2\r\n", #""eni-1\r\neni-2""#), ("a\nb", #""a\nb""#), ("a\rb", #""a\rb""#)] {
            XCTAssertThrowsError(try Answer.leaf(body, url: "http://m/id"), body) {
                XCTAssertEqual("\($0)", "http://m/id: expected one value, got \(shown)")
            }
        }
        XCTAssertEqual(try Answer.leaf("eni-1\r\n\n\r", url: "u"), "eni-1")
        XCTAssertEqual(try Answer.entries("a\r\nb\rc\n\nd", url: "u", max: 4), ["a", "b", "c", "d"])
    }

    /// Found by Fuzz/metadata-base (Fuzz/corpus/metadata-base/regress-prepend-mark): after U+0605
    /// (which joins the next Character) the "/" was not seen, so the host took the path.
    func testMetadataBaseSplitsByBytes() {
        XCTAssertEqual(Cloud.metadataBase("\u{605}"), "\u{605}/latest/meta-data/")
        XCTAssertEqual(Cloud.metadataBase("http://h\u{605}/x"), "http://h\u{605}/x/")
        XCTAssertEqual(Cloud.metadataBase("http://h\u{605}/latest"), "http://h\u{605}/latest/meta-data/")
        XCTAssertEqual(Cloud.metadataBase("http://h/x/\u{301}"), "http://h/x/\u{301}/")
    }

    func testMetadataURLByItsRootOrItsBase() throws {
        XCTAssertEqual(Cloud.metadataBase("http://169.254.169.254"), "http://169.254.169.254/latest/meta-data/")
        XCTAssertEqual(Cloud.metadataBase("http://169.254.169.254/"), "http://169.254.169.254/latest/meta-data/")
        XCTAssertEqual(Cloud.metadataBase("http://127.0.0.1:8080/latest"), "http://127.0.0.1:8080/latest/meta-data/")
        XCTAssertEqual(Cloud.metadataBase("http://100.100.100.200/2016-01-01/meta-data"), "http://100.100.100.200/2016-01-01/meta-data/")
        XCTAssertEqual(Cloud.metadataBase("http://h/latest/meta-data/"), "http://h/latest/meta-data/")
        for cloud in [Scenario.Cloud.tencent, .aliyun, .aws] {
            let s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            let root = String(sim.baseURL.dropLast("latest/meta-data/".count))
            for url in [root, String(root.dropLast()), sim.baseURL] {
                let p = CloudMetadataProvider(cloud: Cloud(rawValue: cloud.rawValue)!, baseURL: url, discipline: Self.discipline())
                let r = try p.fetch(waitingFor: [])
                XCTAssertEqual(r.instance, try Self.expected(s), "\(cloud) \(url)")
            }
            if cloud == .aws { XCTAssertEqual(sim.stats.byPath["PUT /latest/api/token"], 3) }
        }
    }

    /// Several bases (Tencent: its address, then its name): the first that answers is used and kept.
    func testTheFirstBaseThatAnswersIsKept() throws {
        let s = Self.scenario(.tencent)
        let sim = try MetadataSimulator(scenario: s)
        let down = "http://127.0.0.1:\(try refusedPort())/latest/meta-data/"
        let p = CloudMetadataProvider(cloud: .tencent, baseURLs: [down, sim.baseURL], discipline: Self.discipline())
        XCTAssertEqual(p.baseURL, down)
        let r = try p.fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try Self.expected(s))
        XCTAssertEqual(p.name, "tencent (\(sim.baseURL))")
        let none = CloudMetadataProvider(cloud: .tencent, baseURLs: [down, down], discipline: Self.discipline())
        let e = fetchError(none)
        XCTAssertTrue(e.hasPrefix("no tencent metadata endpoint answered (GET \(down)mac: "), e)
        XCTAssertEqual(Cloud.tencent.defaultBaseURLs, ["http://169.254.0.23/latest/meta-data/", "http://metadata.tencentyun.com/latest/meta-data/"])
    }

    func testAutoWithNothingListeningSaysWhatEachCloudAnswered() throws {
        let port = try refusedPort()
        let auto = AutoMetadataProvider(baseURL: "http://127.0.0.1:\(port)/latest/meta-data/", discipline: Self.discipline())
        let e = fetchError(auto)
        XCTAssertTrue(e.contains("no metadata endpoint answered"), e)
        for c in ["tencent:", "aliyun:", "aws:"] { XCTAssertTrue(e.contains(c), e) }
    }

    func testAliyunHardenedModeUsesAToken() throws {
        var s = Self.scenario(.aliyun)
        s.tokenRequired = true
        let sim = try MetadataSimulator(scenario: s)
        let r = try provider(sim, .aliyun).fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try Self.expected(s))
        XCTAssertEqual(sim.stats.byPath["PUT /latest/api/token"], 1)
    }

    func testAWSDeviceNumberZeroIsTrustedOnlyForTheTopLevelMAC() throws {
        var s = Self.scenario(.aws)
        s.enis[2].deviceNumber = 0      // hot-plugged, not propagated yet
        s.enis[1].networkCard = 1
        let sim = try MetadataSimulator(scenario: s)
        let r = try provider(sim, .aws).fetch(waitingFor: [])
        XCTAssertEqual(r.instance.eni(mac: mac(Self.primary))?.deviceNumber, 0)
        XCTAssertEqual(r.instance.eni(mac: mac(Self.eth1))?.deviceNumber, 1)
        XCTAssertEqual(r.instance.eni(mac: mac(Self.eth1))?.networkCard, 1)
        XCTAssertNil(r.instance.eni(mac: mac(Self.eth2))?.deviceNumber)
        XCTAssertNil(r.instance.eni(mac: mac(Self.eth2))?.networkCard, "network-card answers 404")
    }

    // MARK: Transport faults

    func testTimeoutIsAnErrorNamingTheURLThenRecovers() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.tencent))
        sim.setFaults([Fault(path: "/network/interfaces/macs/$", latencyMs: 1500)])
        var d = Self.discipline()
        d.attempts = 2
        let p = provider(sim, .tencent, d)
        let e = fetchError(p)
        XCTAssertTrue(e.contains("network/interfaces/macs/"), e)
        XCTAssertTrue(e.contains("timed out"), e)
        sim.setFaults([])
        let r = try p.fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try Self.expected(Self.scenario(.tencent)))
    }

    func testRefusedConnection() throws {
        let port = try refusedPort()
        let p = CloudMetadataProvider(cloud: .aws, baseURL: "http://127.0.0.1:\(port)/latest/meta-data/", discipline: Self.discipline())
        let e = fetchError(p)
        XCTAssertTrue(e.contains("127.0.0.1:\(port)/latest/api/token"), e)
        XCTAssertTrue(e.contains("connection failed"), e)
        XCTAssertTrue(e.contains("after 4 tries"), e)
    }

    func testServerThatNeverAnswers() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.aliyun))
        sim.setFaults([Fault(mode: .hang)])
        var d = Self.discipline()
        d.attempts = 2
        let e = fetchError(provider(sim, .aliyun, d))
        XCTAssertTrue(e.contains("timed out"), e)
    }

    func testServerErrorsAndRateLimitsAreRetried() throws {
        let s = Self.scenario(.tencent)
        let sim = try MetadataSimulator(scenario: s)
        sim.setFaults([
            Fault(path: "/network/interfaces/macs/$", status: 429, times: 1),
            Fault(path: "primary-local-ipv4", status: 503, times: 2),
            Fault(path: "/local-ipv4s/", status: 500, times: 1),
        ])
        let r = try provider(sim, .tencent).fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try Self.expected(s))
        sim.setFaults([])
        sim.resetStats()
        _ = try provider(sim, .tencent).fetch(waitingFor: [])
        XCTAssertEqual(r.requests, sim.stats.requests + 4, "one retry per injected error")
    }

    func testPersistent500MakesThatENIUnknownAndTheOthersGoAhead() throws {
        let s = Self.scenario(.aliyun)
        let sim = try MetadataSimulator(scenario: s)
        sim.setFaults([Fault(path: "/\(Self.eth2)/private-ipv4s", status: 500)])
        let r = try provider(sim, .aliyun).fetch(waitingFor: [])
        let reason = try XCTUnwrap(r.instance.unknown[mac(Self.eth2)]).description
        XCTAssertTrue(reason.contains("\(Self.eth2)/private-ipv4s: HTTP 500"), reason)
        XCTAssertEqual(r.instance.enis.map(\.mac), [mac(Self.primary), mac(Self.eth1)])
    }

    func testTruncatedBody() throws {
        let s = Self.scenario(.tencent)
        let sim = try MetadataSimulator(scenario: s)
        sim.setFaults([Fault(path: "03:0A/local-ipv4s/", mode: .truncate)])
        let r = try provider(sim, .tencent).fetch(waitingFor: [])
        let reason = try XCTUnwrap(r.instance.unknown[mac(Self.eth2)]).description
        XCTAssertTrue(reason.contains("truncated"), reason)
        XCTAssertEqual(r.instance.enis.count, 2)
        // Once: retried, and the pass succeeds.
        sim.setFaults([Fault(path: "03:0A/local-ipv4s/", mode: .truncate, times: 1)])
        let again = try provider(sim, .tencent).fetch(waitingFor: [])
        XCTAssertEqual(again.instance, try Self.expected(s))
    }

    func testOversizedBody() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.aws))
        sim.setFaults([Fault(path: "\(Self.eth1)/local-ipv4s", mode: .oversize)])
        let r = try provider(sim, .aws).fetch(waitingFor: [])
        let reason = try XCTUnwrap(r.instance.unknown[mac(Self.eth1)]).description
        XCTAssertTrue(reason.contains("response too large (more than 65536 bytes)"), reason)
        XCTAssertEqual(r.instance.enis.map(\.mac), [mac(Self.primary), mac(Self.eth2)])
    }

    func testClosedWithoutAnswerIsRetried() throws {
        let s = Self.scenario(.aws)
        let sim = try MetadataSimulator(scenario: s)
        sim.setFaults([Fault(path: "local-ipv4s", mode: .close, times: 2)])
        let r = try provider(sim, .aws).fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try Self.expected(s))
    }

    // MARK: Pending MACs

    /// A provider looks once: waiting for what is pending is the agent's (`PassTests`).
    func testAHiddenMACIsPendingAtOnceAndListedOnceShown() throws {
        let s = Self.scenario(.tencent)
        let sim = try MetadataSimulator(scenario: s)
        sim.setFaults([Fault(hideMAC: Self.eth2)])
        let p = provider(sim, .tencent)
        let hidden = try p.fetch(waitingFor: [mac(Self.eth2)])
        XCTAssertTrue(try XCTUnwrap(hidden.instance.unknown[mac(Self.eth2)]).isPending)
        sim.setFaults([])
        XCTAssertEqual(try p.fetch(waitingFor: [mac(Self.eth2)]).instance, try Self.expected(s))
    }

    func testMACThatNeverAppearsIsPendingAndTheOthersGoAhead() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.aliyun))
        sim.setFaults([Fault(hideMAC: Self.eth2)])
        let r = try provider(sim, .aliyun, Self.discipline()).fetch(waitingFor: [mac(Self.eth2)])
        let reason = try XCTUnwrap(r.instance.unknown[mac(Self.eth2)]).description
        XCTAssertTrue(reason.hasPrefix("pending: not listed in "), reason)
        XCTAssertEqual(r.instance.enis.map(\.mac), [mac(Self.primary), mac(Self.eth1)])

        sim.setFaults([Fault(hideMAC: Self.eth2, leavesOnly: true)])
        let leaves = try provider(sim, .aliyun, Self.discipline()).fetch(waitingFor: [])
        let why = try XCTUnwrap(leaves.instance.unknown[mac(Self.eth2)]).description
        XCTAssertTrue(why.hasPrefix("pending: ") && why.contains("answers 404"), why)
    }

    // MARK: Invalid values

    /// Fetches with one leaf of one ENI replaced; returns that ENI's unknown reason.
    func reasonWith(_ cloud: Scenario.Cloud, path: String, body: String, eni: String = eth1,
                    file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let sim = try MetadataSimulator(scenario: Self.scenario(cloud))
        sim.setFaults([Fault(path: path, body: body)])
        let r = try provider(sim, Cloud(rawValue: cloud.rawValue)!).fetch(waitingFor: [])
        XCTAssertEqual(r.instance.enis.count, 2, "the other ENIs go ahead", file: file, line: line)
        return try XCTUnwrap(r.instance.unknown[mac(eni)], file: file, line: line).description
    }

    func testInvalidIP() throws {
        let r = try reasonWith(.tencent, path: "02:0A/primary-local-ipv4", body: "10.0.2.999")
        XCTAssertTrue(r.contains("/macs/52:54:00:00:02:0A/primary-local-ipv4: "), r)
        XCTAssertTrue(r.contains("\"10.0.2.999\""), r)
        let aws = try reasonWith(.aws, path: "\(Self.eth1)/local-ipv4s", body: "10.0.2.10\n10.0.2.011")
        XCTAssertTrue(aws.contains("\(Self.eth1)/local-ipv4s: ") && aws.contains("\"10.0.2.011\""), aws)
    }

    func testNonContiguousMask() throws {
        let r = try reasonWith(.tencent, path: "02:0A/local-ipv4s/10.0.2.12/subnet-mask", body: "255.0.255.0")
        XCTAssertTrue(r.contains("local-ipv4s/10.0.2.12/subnet-mask: non-contiguous netmask \"255.0.255.0\""), r)
    }

    func testGatewayOutsideSubnet() throws {
        let a = try reasonWith(.aliyun, path: "\(Self.eth1)/gateway", body: "10.9.9.1")
        XCTAssertTrue(a.contains("\(Self.eth1)/gateway: gateway 10.9.9.1 is outside the subnet 10.0.2.0/24"), a)
        let t = try reasonWith(.tencent, path: "02:0A/local-ipv4s/10.0.2.10/gateway", body: "10.0.3.1")
        XCTAssertTrue(t.contains("local-ipv4s/10.0.2.10/gateway: gateway 10.0.3.1 is outside the subnet 10.0.2.0/24"), t)
    }

    func testTencentPerIPGatewaysMustAgree() throws {
        let r = try reasonWith(.tencent, path: "02:0A/local-ipv4s/10.0.2.13/gateway", body: "10.0.2.254")
        XCTAssertTrue(r.contains("10.0.2.13/gateway: 10.0.2.254 differs from the primary IP's gateway 10.0.2.1"), r)
    }

    func testOneIPOnTwoENIs() throws {
        var s = Self.scenario(.aws)
        s.enis[2] = Scenario.ENI(mac: Self.eth2, primaryIP: "10.0.2.20", secondaryIPs: ["10.0.2.11"], subnet: "10.0.2.0/24",
                                 gateway: "10.0.2.1", deviceNumber: 2)
        let sim = try MetadataSimulator(scenario: s)
        let r = try provider(sim, .aws).fetch(waitingFor: [])
        XCTAssertEqual(r.instance.enis.map(\.mac), [mac(Self.primary)])
        for m in [Self.eth1, Self.eth2] {
            XCTAssertEqual(r.instance.unknown[mac(m)], .invalid("IP 10.0.2.11 is listed under several ENIs: \(Self.eth1), \(Self.eth2)"))
        }
    }

    func testHostileValues() throws {
        for body in ["10.0.2.1\n$(reboot)", "10.0.2.1\"; rm -rf /", "$(reboot)", "10.0.2.1\u{1b}[2J"] {
            let r = try reasonWith(.aliyun, path: "\(Self.eth1)/gateway", body: body)
            XCTAssertTrue(r.contains("\(Self.eth1)/gateway: "), r)
            XCTAssertFalse(r.contains("\n") || r.contains("\u{1b}"), "the message quotes, never passes on, control characters: \(r)")
        }
    }

    func testGarbageListingEntryIsAWarning() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.aws))
        sim.setFaults([Fault(path: "/network/interfaces/macs/$", body: "\(Self.primary)/\nnot-a-mac/\n\(Self.eth1)/\n")])
        let r = try provider(sim, .aws).fetch(waitingFor: [])
        XCTAssertEqual(r.instance.enis.map(\.mac), [mac(Self.primary), mac(Self.eth1)])
        XCTAssertEqual(r.warnings, ["\(sim.baseURL)network/interfaces/macs/: entry \"not-a-mac/\" is not a MAC address; ignored"])
    }

    /// A listing that is empty, or lacks the instance's own MAC, describes no instance: the fetch
    /// fails as a whole (nothing is changed from it), naming both URLs.
    func testListingWithoutTheInstanceMACIsAnError() throws {
        for cloud in [Scenario.Cloud.tencent, .aliyun, .aws] {
            let c = Cloud(rawValue: cloud.rawValue)!
            for (body, says) in [("", "lists no ENI"), ("\n", "lists no ENI"), ("\(Self.eth1)/\n\(Self.eth2)/\n", "lists 2 ENIs")] {
                let sim = try MetadataSimulator(scenario: Self.scenario(cloud))
                sim.setFaults([Fault(path: "/network/interfaces/macs/$", body: body)])
                let e = fetchError(provider(sim, c))
                XCTAssertEqual(e, "\(sim.baseURL)network/interfaces/macs/: \(says) but not the instance's MAC \(Self.primary) (\(sim.baseURL)mac); nothing is changed", "\(cloud)")
            }
        }
    }

    // MARK: AWS tokens

    func testAWSTokenMissingIsRefusedByTheEndpointSoEveryGETCarriesOne() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.aws))
        // Without the token flow (as Tencent reads), the AWS endpoint refuses.
        let e = fetchError(CloudMetadataProvider(cloud: .tencent, baseURL: sim.baseURL, discipline: Self.discipline()))
        XCTAssertTrue(e.hasSuffix("/latest/meta-data/mac: 401 Unauthorized (token missing)"), e)
        sim.resetStats()
        _ = try provider(sim, .aws).fetch(waitingFor: [])
        XCTAssertEqual(sim.stats.byPath["PUT /latest/api/token"], 1, "one token per pass")
    }

    func testAWSExpiredTokenIsRenewed() throws {
        let s = Self.scenario(.aws)
        let sim = try MetadataSimulator(scenario: s)
        // The token expires in the middle of the pass: the request that sees 401 gets a new one.
        sim.setFaults([Fault(path: "\(Self.eth1)/local-ipv4s", times: 1, expireTokens: true)])
        let r = try provider(sim, .aws).fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try Self.expected(s))
        XCTAssertEqual(sim.stats.byPath["PUT /latest/api/token"], 2)
        // Expired again and again: the renewed token is rejected too, and that ENI is unknown. Its
        // leaves go out together, so the leaf whose rejection is reported (the first in the ENI's
        // reading order that saw it) depends on which requests the expiry raced: any of eth1's.
        sim.setFaults([Fault(path: "\(Self.eth1)/local-ipv4s", expireTokens: true)])
        let again = try provider(sim, .aws).fetch(waitingFor: [])
        let reason = try XCTUnwrap(again.instance.unknown[mac(Self.eth1)]).description
        XCTAssertTrue(reason.contains("/macs/\(Self.eth1)/") && reason.hasSuffix(": 401 Unauthorized (token rejected)"), reason)
    }

    func testAWSTokenTTLRejected() throws {
        var s = Self.scenario(.aws)
        s.maxTokenTTL = 60
        let sim = try MetadataSimulator(scenario: s)
        let e = fetchError(provider(sim, .aws))
        XCTAssertTrue(e.contains("PUT \(sim.baseURL.replacingOccurrences(of: "meta-data/", with: "api/token")): 400 Bad Request (TTL 300 rejected)"), e)
    }

    func testAWSMetadataServiceTurnedOff() throws {
        let sim = try MetadataSimulator(scenario: Self.scenario(.aws))
        sim.setFaults([Fault(path: "/latest/api/token", status: 403)])
        let e = fetchError(provider(sim, .aws))
        XCTAssertTrue(e.contains("403 Forbidden (the instance metadata service is turned off)"), e)
    }

    // MARK: Economy

    /// 8 ENIs x 30 IPs on Tencent: the first pass reads every per-IP leaf; a pass where nothing
    /// changed reads the MAC listing and two leaves per ENI (primary IP, IP listing).
    func testTencentNoChangePassRequestCount() throws {
        var enis: [Scenario.ENI] = []
        for n in 0..<8 {
            let net = "10.\(n).0"
            enis.append(Scenario.ENI(mac: String(format: "52:54:00:00:%02x:0a", n + 1), primaryIP: "\(net).10",
                                     secondaryIPs: (11..<40).map { "\(net).\($0)" }, subnet: "\(net).0/24", gateway: "\(net).1"))
        }
        let s = Scenario(cloud: .tencent, primaryMAC: enis[0].mac, enis: enis)
        let sim = try MetadataSimulator(scenario: s)
        let p = provider(sim, .tencent)
        let first = try p.fetch(waitingFor: [])
        XCTAssertEqual(first.instance, try Self.expected(s))
        XCTAssertEqual(first.requests, 2 + 8 * (3 + 30 * 2), "the ENI's directory listed once (what it offers for IPv6)")
        XCTAssertLessThanOrEqual(sim.stats.connections, FetchDiscipline().concurrency, "connections are reused")
        let second = try p.fetch(waitingFor: [])
        XCTAssertEqual(second.instance, first.instance)
        XCTAssertEqual(second.requests, 1 + 8 * 2)
        XCTAssertEqual(sim.stats.requests, first.requests + second.requests)
    }

    func testAWSAndAlibabaNoChangePassRequestCount() throws {
        for (cloud, perPass) in [(Scenario.Cloud.aws, 2 + 3 * 2), (.aliyun, 2 + 3 * 3)] {
            let sim = try MetadataSimulator(scenario: Self.scenario(cloud))
            let p = provider(sim, Cloud(rawValue: cloud.rawValue)!)
            _ = try p.fetch(waitingFor: [])
            let second = try p.fetch(waitingFor: [])
            XCTAssertEqual(second.requests, perPass, "\(cloud): token + listing + per-ENI IP leaves and ipv6s")
        }
    }

    /// The per-ENI caches keep only the ENIs of the last listing: a daemon that sees thousands of
    /// ENIs come and go over its life holds the metadata of those attached now. An ENI listed
    /// again is read again in full.
    func testCachesForgetENIsNoLongerListed() throws {
        for cloud in [Scenario.Cloud.tencent, .aliyun, .aws] {
            let s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            let p = provider(sim, Cloud(rawValue: cloud.rawValue)!)
            let first = try p.fetch(waitingFor: [])
            XCTAssertEqual(p.cachedMACs, [mac(Self.primary), mac(Self.eth1), mac(Self.eth2)], "\(cloud)")
            let steady = try p.fetch(waitingFor: [])
            var without = s
            without.enis.removeAll { $0.mac == Self.eth2 }
            sim.setScenario(without)
            _ = try p.fetch(waitingFor: [])
            XCTAssertEqual(p.cachedMACs, [mac(Self.primary), mac(Self.eth1)], "\(cloud): eth2 forgotten")
            sim.setScenario(s)
            let again = try p.fetch(waitingFor: [])
            XCTAssertEqual(again.instance, first.instance, "\(cloud)")
            XCTAssertGreaterThan(again.requests, steady.requests, "\(cloud): eth2 read again in full")
            XCTAssertEqual(p.cachedMACs, [mac(Self.primary), mac(Self.eth1), mac(Self.eth2)], "\(cloud)")
        }
    }

    // MARK: Helpers

    /// A loopback port with nothing listening.
    func refusedPort() throws -> UInt16 {
        let sim = try MetadataSimulator(scenario: Self.scenario(.tencent))
        let port = sim.port
        sim.stop()
        return port
    }
}

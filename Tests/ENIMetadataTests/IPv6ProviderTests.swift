@testable import ENIMetadata
import ENIHTTP
import ENIModel
import MetadataSimulator
import XCTest

/// The providers' IPv6 (Alibaba's and AWS's leaves; Tencent has none) against the simulator: what
/// goes wrong holds an ENI's IPv6 only, never its IPv4.
final class IPv6ProviderTests: XCTestCase {
    typealias P = ProviderTests
    static let subnet6 = "2001:db8:0:2::/64"

    /// `ProviderTests.scenario` with IPv6 on eth1: two addresses in non-canonical forms, the
    /// subnet, Alibaba's router.
    static func scenario(_ cloud: Scenario.Cloud) -> Scenario {
        var s = P.scenario(cloud)
        s.enis[1].ipv6s = ["2001:DB8:0:2:0::0B", "2001:db8:0000:2::A"]
        s.enis[1].subnet6 = subnet6
        s.enis[1].gateway6 = "fe80::1"
        return s
    }

    func provider(_ sim: MetadataSimulator, _ cloud: Scenario.Cloud) -> CloudMetadataProvider {
        CloudMetadataProvider(cloud: Cloud(rawValue: cloud.rawValue)!, baseURL: sim.baseURL, discipline: P.discipline())
    }

    func mac(_ s: String) -> MACAddress { try! MACAddress(s) }

    /// Requests per path, of paths that contain `part`.
    func requests(_ sim: MetadataSimulator, _ part: String) -> Int {
        sim.stats.byPath.filter { $0.key.contains(part) }.map(\.value).reduce(0, +)
    }

    func testAlibabaAndAWSReadIPv6InCanonicalForm() throws {
        for cloud in [Scenario.Cloud.aliyun, .aws] {
            let s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            let r = try provider(sim, cloud).fetch(waitingFor: [])
            XCTAssertEqual(r.instance, try P.expected(s), "\(cloud)")
            let v6 = try XCTUnwrap(r.instance.eni(mac: mac(P.eth1))?.ipv6, "\(cloud)")
            XCTAssertEqual(v6.addresses.map(\.description), ["2001:db8:0:2::a", "2001:db8:0:2::b"], "\(cloud)")
            XCTAssertEqual(v6.subnet.description, Self.subnet6, "\(cloud)")
            XCTAssertEqual(v6.gateway?.description, cloud == .aliyun ? "fe80::1" : nil, "\(cloud): AWS names no router")
            for m in [P.primary, P.eth2] {
                let e = try XCTUnwrap(r.instance.eni(mac: mac(m)))
                XCTAssertNil(e.ipv6, "\(cloud) \(m)")
                XCTAssertNil(e.ipv6Unknown, "\(cloud) \(m): 404 is no IPv6")
            }
            XCTAssertEqual(r.instance.unknown, [:], "\(cloud)")
        }
    }

    /// `ipv6s` 404 is no IPv6, and then the subnet (known or not) is not asked for.
    func testNoAddressesNoSubnetRequest() throws {
        for (cloud, leaf) in [(Scenario.Cloud.aliyun, "vswitch-ipv6-cidr-block"), (.aws, "subnet-ipv6-cidr-blocks")] {
            var s = Self.scenario(cloud)
            s.enis[1].ipv6s = nil
            let sim = try MetadataSimulator(scenario: s)
            let r = try provider(sim, cloud).fetch(waitingFor: [])
            XCTAssertEqual(r.instance, try P.expected(s), "\(cloud)")
            XCTAssertTrue(r.instance.enis.allSatisfy { $0.ipv6 == nil && $0.ipv6Unknown == nil }, "\(cloud)")
            XCTAssertEqual(requests(sim, "/ipv6s"), 3, "\(cloud): every ENI's addresses")
            XCTAssertEqual(requests(sim, leaf), 0, "\(cloud)")
            XCTAssertEqual(requests(sim, "ipv6-gateway"), 0, "\(cloud)")
        }
    }

    /// The subnet and router are read once and cached; the addresses every pass, so that one added
    /// or removed shows at the next pass.
    func testSubnetCachedAddressesReadEveryPass() throws {
        for (cloud, statics) in [(Scenario.Cloud.aliyun, ["vswitch-ipv6-cidr-block", "ipv6-gateway"]), (.aws, ["subnet-ipv6-cidr-blocks"])] {
            var s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            let p = provider(sim, cloud)
            let first = try p.fetch(waitingFor: [])
            let steady = try p.fetch(waitingFor: [])
            XCTAssertEqual(steady.instance, first.instance, "\(cloud)")
            XCTAssertEqual(steady.requests, cloud == .aws ? 2 + 3 * 2 : 2 + 3 * 3, "\(cloud): as without IPv6")
            for leaf in statics { XCTAssertEqual(requests(sim, leaf), 1, "\(cloud) \(leaf)") }
            s.enis[1].ipv6s = ["2001:db8:0:2::c"]
            sim.setScenario(s)
            XCTAssertEqual(try p.fetch(waitingFor: []).instance.eni(mac: mac(P.eth1))?.ipv6?.addresses.map(\.description),
                           ["2001:db8:0:2::c"], "\(cloud)")
            s.enis[1].ipv6s = nil
            sim.setScenario(s)
            let gone = try XCTUnwrap(try p.fetch(waitingFor: []).instance.eni(mac: mac(P.eth1)))
            XCTAssertNil(gone.ipv6, "\(cloud)")
            XCTAssertNil(gone.ipv6Unknown, "\(cloud)")
            XCTAssertEqual(requests(sim, "\(P.eth1)/ipv6s"), 4, "\(cloud)")
            for leaf in statics { XCTAssertEqual(requests(sim, leaf), 1, "\(cloud) \(leaf)") }
        }
    }

    /// AWS's IPv6-only ENI: `local-ipv4s` and `subnet-ipv4-cidr-block` both 404 and `ipv6s`
    /// listed. Its statics are cached as for any ENI: a steady pass asks what a dual-stack ENI's does.
    func testAWSIPv6OnlyENI() throws {
        var s = Self.scenario(.aws)
        s.enis[1].primaryIP = nil; s.enis[1].secondaryIPs = []; s.enis[1].subnet = nil
        let sim = try MetadataSimulator(scenario: s)
        let p = provider(sim, .aws)
        let r = try p.fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try P.expected(s))
        let e = try XCTUnwrap(r.instance.eni(mac: mac(P.eth1)))
        XCTAssertNil(e.ipv4)
        XCTAssertNil(e.ipv6Unknown)
        XCTAssertEqual(e.ipv6?.addresses.map(\.description), ["2001:db8:0:2::a", "2001:db8:0:2::b"])
        XCTAssertEqual(e.deviceNumber, 1)
        XCTAssertEqual(r.instance.unknown, [:])
        let steady = try p.fetch(waitingFor: [])
        XCTAssertEqual(steady.instance, r.instance)
        XCTAssertEqual(steady.requests, 2 + 3 * 2, "as a dual-stack ENI's steady pass")
        XCTAssertEqual(requests(sim, "\(P.eth1)/subnet-ipv4-cidr-block"), 1)

        // Its IPv4 appears (not in an IPv6-only subnet: not seen on AWS, but not trusted either):
        // pending for one pass, its subnet read again, then dual-stack.
        s.enis[1].primaryIP = "10.0.2.10"; s.enis[1].subnet = "10.0.2.0/24"
        sim.setScenario(s)
        let appeared = try p.fetch(waitingFor: [])
        XCTAssertEqual(appeared.instance.unknown[mac(P.eth1)]?.isPending, true, "\(appeared.instance.unknown)")
        let dual = try XCTUnwrap(try p.fetch(waitingFor: []).instance.eni(mac: mac(P.eth1)))
        XCTAssertEqual(dual.allIPs.map(\.description), ["10.0.2.10"])
        XCTAssertNotNil(dual.ipv6)
    }

    /// Only the three together make an IPv6-only ENI: an ENI whose metadata lags (either IPv4 leaf
    /// 404 alone, or both with no `ipv6s`) is pending, never stripped of its IPv4. An IPv6-only
    /// ENI whose IPv6 is invalid is described with its IPv6 held (nothing of it is changed).
    func testAWSLaggingENIIsNotIPv6Only() throws {
        let cases: [(String, (inout Scenario.ENI) -> Void, String)] = [
            ("local-ipv4s 404", { $0.primaryIP = nil; $0.secondaryIPs = [] }, "local-ipv4s answers 404"),
            ("subnet 404", { $0.subnet = nil }, "subnet-ipv4-cidr-block answers 404"),
            ("no IPv4, no ipv6s", { $0.primaryIP = nil; $0.secondaryIPs = []; $0.subnet = nil; $0.ipv6s = nil }, "local-ipv4s answers 404"),
        ]
        for (name, change, why) in cases {
            var s = Self.scenario(.aws)
            change(&s.enis[1])
            let sim = try MetadataSimulator(scenario: s)
            let r = try provider(sim, .aws).fetch(waitingFor: [])
            XCTAssertNil(r.instance.eni(mac: mac(P.eth1)), name)
            let u = try XCTUnwrap(r.instance.unknown[mac(P.eth1)], name)
            XCTAssertTrue(u.isPending, "\(name): \(u)")
            XCTAssertTrue(u.reason.hasSuffix(why), "\(name): \(u)")
        }
        var s = Self.scenario(.aws)
        s.enis[1].primaryIP = nil; s.enis[1].secondaryIPs = []; s.enis[1].subnet = nil
        s.enis[1].ipv6s = ["2001:db8:0:2::a", "2001:db8:9::1"]
        let r = try provider(try MetadataSimulator(scenario: s), .aws).fetch(waitingFor: [])
        let e = try XCTUnwrap(r.instance.eni(mac: mac(P.eth1)))
        XCTAssertNil(e.ipv4)
        XCTAssertNil(e.ipv6)
        guard case .invalid(let why) = e.ipv6Unknown else { return XCTFail("\(String(describing: e.ipv6Unknown))") }
        XCTAssertTrue(why.contains("2001:db8:9::1 is outside its subnet 2001:db8:0:2::/64"), why)
    }

    /// Should Tencent's tree offer IPv6 leaves in an ENI's directory (`ipv6s` and a subnet leaf, as
    /// AWS and Alibaba name them), they are read as theirs are, and `status` no longer says the
    /// tree has none. The directory is listed once per ENI; a steady pass costs what it did.
    func testTencentPicksUpIPv6LeavesItsTreeOffers() throws {
        var s = Self.scenario(.tencent)
        s.tencentIPv6 = true
        let sim = try MetadataSimulator(scenario: s)
        let p = provider(sim, .tencent)
        XCTAssertNotNil(p.ipv6Note, "nothing seen yet")
        let r = try p.fetch(waitingFor: [])
        let v6 = try XCTUnwrap(r.instance.eni(mac: mac(P.eth1))?.ipv6)
        XCTAssertEqual(v6.addresses.map(\.description), ["2001:db8:0:2::a", "2001:db8:0:2::b"])
        XCTAssertEqual(v6.subnet.description, Self.subnet6)
        XCTAssertEqual(v6.gateway?.description, "fe80::1")
        XCTAssertNil(p.ipv6Note)
        XCTAssertNil(r.instance.eni(mac: mac(P.eth2))?.ipv6, "its directory offers none")
        let steady = try p.fetch(waitingFor: [])
        XCTAssertEqual(steady.instance, r.instance)
        XCTAssertEqual(steady.requests, 1 + 3 * 2 + 1, "the listing, two per ENI, eth1's ipv6s")
        XCTAssertEqual(requests(sim, "\(P.eth1.uppercased())/subnet-ipv6-cidr-block"), 1, "cached")
        // A bad value holds eth1's IPv6 only.
        s.enis[1].ipv6s = ["2001:db8:9::1"]
        sim.setScenario(s)
        let bad = try XCTUnwrap(try p.fetch(waitingFor: []).instance.eni(mac: mac(P.eth1)))
        XCTAssertNil(bad.ipv6)
        XCTAssertEqual(bad.allIPs, try P.expected(s).eni(mac: mac(P.eth1))?.allIPs, "its IPv4 goes on")
        guard case .invalid(let why) = bad.ipv6Unknown else { return XCTFail("\(String(describing: bad.ipv6Unknown))") }
        XCTAssertTrue(why.contains("2001:db8:9::1 is outside its subnet"), why)
    }

    func testTencentHasNoIPv6() throws {
        let s = Self.scenario(.tencent)
        let sim = try MetadataSimulator(scenario: s)
        let p = provider(sim, .tencent)
        let r = try p.fetch(waitingFor: [])
        XCTAssertEqual(r.instance, try P.expected(s))
        XCTAssertTrue(r.instance.enis.allSatisfy { $0.ipv6 == nil && $0.ipv6Unknown == nil })
        XCTAssertEqual(requests(sim, "ipv6"), 0, "nothing is asked for IPv6")
        XCTAssertEqual(p.ipv6Note, "Tencent Cloud's metadata has no per-ENI IPv6 leaf; IPv6 is not configured")
        XCTAssertEqual(Cloud.tencent.ipv6Note, p.ipv6Note)
        XCTAssertNil(Cloud.aliyun.ipv6Note)
        XCTAssertNil(Cloud.aws.ipv6Note)
        let auto = AutoMetadataProvider(baseURL: sim.baseURL, discipline: P.discipline(), dmi: DMIIdentity(productName: "Tencent Cloud CVM"))
        XCTAssertEqual(auto.ipv6Note, p.ipv6Note)
        let none: any MetadataProvider = MetadataFileProvider(path: "/x", readFile: { _, _ in [] })
        XCTAssertNil(none.ipv6Note)
    }

    // MARK: The simulator

    /// The integration tests' way: `PUT /_sim/scenario` with the IPv6 keys; each cloud's shape is
    /// served (404 where absent), `GET /_sim/scenario` gives the keys back.
    func testSimulatorServesIPv6FromTheScenarioKeys() throws {
        let http = HTTPSession()
        func call(_ method: HTTPRequest.Method, _ url: String, _ body: String = "", headers: [String] = []) throws -> (Int, String) {
            let r = try http.perform(HTTPRequest(method, url, headers: headers, body: Array(body.utf8),
                                                 connectTimeoutMilliseconds: 1000, timeoutMilliseconds: 2000, maxBytes: 1 << 16)).get()
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let v6 = #""ipv6s": ["2001:db8:0:2::a", "2001:DB8:0:2::B"], "subnet6": "2001:db8:0:2::/64", "gateway6": "fe80::1""#
        for cloud in [Scenario.Cloud.aliyun, .aws, .tencent] {
            let sim = try MetadataSimulator(scenario: P.scenario(.tencent))
            let root = "http://\(sim.host):\(sim.port)"
            let scenario = """
                {"cloud": "\(cloud.rawValue)", "primary_mac": "\(P.primary)",
                 "enis": [{"mac": "\(P.primary)", "primary_ip": "10.0.1.10", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1"},
                          {"mac": "\(P.eth1)", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1", \(v6)}]}
                """
            XCTAssertEqual(try call(.put, root + "/_sim/scenario", scenario).0, 200, "\(cloud)")
            let (_, echoed) = try call(.get, root + "/_sim/scenario")
            XCTAssertTrue(echoed.contains(#""gateway6":"fe80::1""#) && echoed.contains(#""ipv6s":["2001:db8:0:2::a","2001:DB8:0:2::B"]"#)
                          && echoed.contains(#""subnet6":"2001:db8:0:2::/64""#), echoed)
            let token = cloud == .aws ? try call(.put, root + "/latest/api/token", headers: ["X-aws-ec2-metadata-token-ttl-seconds: 60"]).1 : ""
            let auth = cloud == .aws ? ["X-aws-ec2-metadata-token: \(token)"] : []
            let dir = sim.baseURL + "network/interfaces/macs/"
            let leaves: [(String, Int, String)] = switch cloud {
            case .aliyun: [("ipv6s", 200, "[2001:db8:0:2::a,2001:DB8:0:2::B]"), ("vswitch-ipv6-cidr-block", 200, "2001:db8:0:2::/64"),
                           ("ipv6-gateway", 200, "fe80::1"), ("subnet-ipv6-cidr-blocks", 404, "")]
            case .aws: [("ipv6s", 200, "2001:db8:0:2::a\n2001:DB8:0:2::B"), ("subnet-ipv6-cidr-blocks", 200, "2001:db8:0:2::/64"),
                        ("ipv6-gateway", 404, ""), ("vswitch-ipv6-cidr-block", 404, "")]
            case .tencent: [("ipv6s", 404, ""), ("subnet-ipv6-cidr-blocks", 404, ""), ("ipv6-gateway", 404, "")]
            }
            let eth1 = cloud == .tencent ? P.eth1.uppercased() : P.eth1
            for (leaf, status, body) in leaves {
                let (got, text) = try call(.get, dir + "\(eth1)/\(leaf)", headers: auth)
                XCTAssertEqual(got, status, "\(cloud) \(leaf)")
                if status == 200 { XCTAssertEqual(text, body, "\(cloud) \(leaf)") }
                XCTAssertEqual(try call(.get, dir + "\(P.primary.uppercased(with: cloud))/\(leaf)", headers: auth).0, 404, "\(cloud) \(leaf): the primary has none")
            }
            let listing = try call(.get, dir + "\(eth1)/", headers: auth).1
            XCTAssertEqual(listing.split(separator: "\n").contains("ipv6s"), cloud != .tencent, "\(cloud): \(listing)")
            let r = try provider(sim, cloud).fetch(waitingFor: [])
            XCTAssertEqual(r.instance.eni(mac: mac(P.eth1))?.ipv6?.addresses.map(\.description),
                           cloud == .tencent ? nil : ["2001:db8:0:2::a", "2001:db8:0:2::b"], "\(cloud)")
        }
    }

    // MARK: Failures

    /// Fetches the IPv6 scenario with `faults`; checks that eth1 is described with its IPv4 and
    /// no IPv6 and that the other ENIs are untouched; returns why eth1's IPv6 is unknown.
    func ipv6Unknown(_ cloud: Scenario.Cloud, _ faults: [Fault], file: StaticString = #filePath, line: UInt = #line) throws -> Undescribed {
        let s = Self.scenario(cloud)
        let sim = try MetadataSimulator(scenario: s)
        sim.setFaults(faults)
        let r = try provider(sim, cloud).fetch(waitingFor: [])
        XCTAssertEqual(r.instance.unknown, [:], "the ENIs themselves are described", file: file, line: line)
        let why = try XCTUnwrap(r.instance.eni(mac: mac(P.eth1))?.ipv6Unknown, "eth1's IPv6 is unknown", file: file, line: line)
        var want = try P.expected(s)
        let i = try XCTUnwrap(want.enis.firstIndex { $0.mac == mac(P.eth1) }, file: file, line: line)
        want.enis[i].ipv6 = nil
        want.enis[i].ipv6Unknown = why
        XCTAssertEqual(r.instance, want, "eth1's IPv4 as usual, the others untouched", file: file, line: line)
        return why
    }

    func ipv6Unknown(_ cloud: Scenario.Cloud, leaf: String, body: String? = nil, status: Int? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws -> Undescribed {
        try ipv6Unknown(cloud, [Fault(path: "\(P.eth1)/\(leaf)", status: status, body: body)], file: file, line: line)
    }

    func url(_ leaf: String) -> String { "/network/interfaces/macs/\(P.eth1)/\(leaf): " }

    /// Hostile or malformed addresses, in either cloud's list: invalid, named by URL and value.
    func testBadAddressesHoldTheIPv6Only() throws {
        let dir = "/network/interfaces/macs/\(P.eth1)/: ENI \(P.eth1): "
        let cases: [(Scenario.Cloud, String, String)] = [
            (.aws, "fe80::1%eth0", url("ipv6s") + #"invalid IPv6 address "fe80::1%eth0""#),
            (.aws, "2001:db8:0:2::a\n2001:db8::/64", url("ipv6s") + #"invalid IPv6 address "2001:db8::/64""#),
            (.aws, "2001:db8:0:2::a\n$(reboot)\n", url("ipv6s") + #"invalid IPv6 address "$(reboot)""#),
            (.aws, "2001:db8:0:2::a\u{1b}[2J", url("ipv6s") + #"control character U+1B in "2001:db8:0:2::a\u{1b}[2J""#),
            (.aws, "::ffff:1.2.3.4", dir + "IPv6 address ::ffff:1.2.3.4 is outside its subnet 2001:db8:0:2::/64"),
            (.aws, "2001:db8:0:2::a\n2001:DB8:9::1", dir + "IPv6 address 2001:db8:9::1 is outside its subnet 2001:db8:0:2::/64"),
            (.aws, "2001:db8:0:2::", dir + "IPv6 address 2001:db8:0:2:: is the subnet-router anycast address of its subnet 2001:db8:0:2::/64"),
            (.aliyun, "[2001:db8:0:2::a,fe80::1%eth0]", url("ipv6s") + #"invalid IPv6 address "fe80::1%eth0""#),
            (.aliyun, "[2001:db8::/64]", url("ipv6s") + #"invalid IPv6 address "2001:db8::/64""#),
            (.aliyun, "[::ffff:1.2.3.4]", dir + "IPv6 address ::ffff:1.2.3.4 is outside its subnet 2001:db8:0:2::/64"),
            (.aliyun, "2001:db8:0:2::a", url("ipv6s") + #"expected a list in brackets, [a,b], got "2001:db8:0:2::a""#),
            (.aliyun, "[2001:db8:0:2::a]\n[2001:db8:0:2::b]", url("ipv6s") + #"expected one value, got "[2001:db8:0:2::a]\n[2001:db8:0:2::b]""#),
            (.aliyun, "[2001:db8:0:2::a,,2001:db8:0:2::b]", url("ipv6s") + #"expected a list in brackets, [a,b], got "[2001:db8:0:2::a,,2001:db8:0:2::b]""#),
            (.aliyun, "[2001:db8:0:2::a$(reboot)]", url("ipv6s") + #"invalid IPv6 address "2001:db8:0:2::a$(reboot)""#),
        ]
        for (cloud, body, message) in cases {
            let u = try ipv6Unknown(cloud, leaf: "ipv6s", body: body)
            XCTAssertFalse(u.isPending, "\(cloud) \(quoted(body))")
            XCTAssertTrue(u.reason.hasPrefix("http://127.0.0.1:"), u.reason)
            XCTAssertTrue(u.reason.hasSuffix(message), "\(cloud) \(quoted(body)):\n got \(u.reason)\nwant …\(message)")
            XCTAssertFalse(u.reason.unicodeScalars.contains { $0.value < 0x20 }, "control characters are quoted: \(quoted(u.reason))")
        }
    }

    func testBadSubnetOrRouterHoldTheIPv6Only() throws {
        let dir = "/network/interfaces/macs/\(P.eth1)/: ENI \(P.eth1): "
        let cases: [(Scenario.Cloud, String, String, String)] = [
            (.aws, "subnet-ipv6-cidr-blocks", "2001:db8:0:2::/64\n2001:db8:0:3::/64",
             url("subnet-ipv6-cidr-blocks") + #"a subnet has one IPv6 block, got 2: "2001:db8:0:2::/64\n2001:db8:0:3::/64""#),
            (.aws, "subnet-ipv6-cidr-blocks", "2001:db8:0:2::1/64",
             url("subnet-ipv6-cidr-blocks") + #"invalid IPv6 prefix "2001:db8:0:2::1/64": host bits set"#),
            (.aws, "subnet-ipv6-cidr-blocks", "2001:db8:0:3::/64", dir + "IPv6 address 2001:db8:0:2::b is outside its subnet 2001:db8:0:3::/64"),
            (.aws, "subnet-ipv6-cidr-blocks", "fe80::/64", dir + "IPv6 subnet fe80::/64 is not a global unicast subnet"),
            (.aliyun, "vswitch-ipv6-cidr-block", "2001:db8:0:2::/64\n2001:db8:0:3::/64",
             url("vswitch-ipv6-cidr-block") + #"expected one value, got "2001:db8:0:2::/64\n2001:db8:0:3::/64""#),
            (.aliyun, "vswitch-ipv6-cidr-block", "2001:db8:0:2::/064", url("vswitch-ipv6-cidr-block") + #"invalid IPv6 prefix "2001:db8:0:2::/064""#),
            (.aliyun, "ipv6-gateway", "fe80::1%eth0", url("ipv6-gateway") + #"invalid IPv6 address "fe80::1%eth0""#),
            (.aliyun, "ipv6-gateway", "2001:db8:9::1", dir + "IPv6 gateway 2001:db8:9::1 is neither link-local nor inside its subnet 2001:db8:0:2::/64"),
            (.aliyun, "ipv6-gateway", "2001:db8:0:2::a", dir + "IPv6 gateway 2001:db8:0:2::a is also one of its IPv6 addresses"),
        ]
        for (cloud, leaf, body, message) in cases {
            let u = try ipv6Unknown(cloud, leaf: leaf, body: body)
            XCTAssertFalse(u.isPending, "\(cloud) \(leaf) \(quoted(body))")
            XCTAssertTrue(u.reason.hasSuffix(message), "\(cloud) \(leaf) \(quoted(body)):\n got \(u.reason)\nwant …\(message)")
        }
    }

    /// "Not yet", as the IPv4 leaves have it: the subnet or router answers 404 while addresses are
    /// listed, an empty list. An HTTP error is invalid.
    func testPendingAndErrors() throws {
        let pending: [(Scenario.Cloud, String, String?, Int?, String)] = [
            (.aws, "ipv6s", "", nil, "ipv6s lists no address"),
            (.aws, "ipv6s", "\n", nil, "ipv6s lists no address"),
            (.aliyun, "ipv6s", "[]", nil, "ipv6s lists no address"),
            (.aliyun, "ipv6s", " [ ]\n", nil, "ipv6s lists no address"),
            (.aws, "subnet-ipv6-cidr-blocks", nil, 404, "subnet-ipv6-cidr-blocks answers 404"),
            (.aws, "subnet-ipv6-cidr-blocks", "", nil, "subnet-ipv6-cidr-blocks lists no IPv6 block"),
            (.aliyun, "vswitch-ipv6-cidr-block", nil, 404, "vswitch-ipv6-cidr-block answers 404"),
            (.aliyun, "ipv6-gateway", nil, 404, "ipv6-gateway answers 404"),
        ]
        for (cloud, leaf, body, status, message) in pending {
            let u = try ipv6Unknown(cloud, leaf: leaf, body: body, status: status)
            XCTAssertTrue(u.isPending, "\(cloud) \(leaf): \(u)")
            XCTAssertTrue(u.reason.hasPrefix("http://127.0.0.1:"), u.reason)
            XCTAssertTrue(u.reason.hasSuffix("/latest/meta-data/network/interfaces/macs/\(P.eth1)/\(message)"), u.reason)
        }
        for (cloud, leaf) in [(Scenario.Cloud.aws, "ipv6s"), (.aws, "subnet-ipv6-cidr-blocks"), (.aliyun, "ipv6s"), (.aliyun, "ipv6-gateway")] {
            let u = try ipv6Unknown(cloud, leaf: leaf, status: 403)
            XCTAssertFalse(u.isPending, "\(cloud) \(leaf)")
            XCTAssertTrue(u.reason.hasPrefix("GET http://") && u.reason.hasSuffix("/\(P.eth1)/\(leaf): HTTP 403"), u.reason)
        }
        // A 500 that lasts: retried, then invalid.
        let u = try ipv6Unknown(.aws, leaf: "ipv6s", status: 500)
        XCTAssertTrue(u.reason.hasSuffix("/\(P.eth1)/ipv6s: HTTP 500"), u.reason)
    }

    /// A failed subnet is not cached: the next pass reads it again, and the IPv6 is described.
    func testAFailedSubnetIsReadAgain() throws {
        for (cloud, leaf) in [(Scenario.Cloud.aws, "subnet-ipv6-cidr-blocks"), (.aliyun, "vswitch-ipv6-cidr-block")] {
            let s = Self.scenario(cloud)
            let sim = try MetadataSimulator(scenario: s)
            sim.setFaults([Fault(path: "\(P.eth1)/\(leaf)", body: "2001:db8:0:2::1/64")])
            let p = provider(sim, cloud)
            XCTAssertNotNil(try p.fetch(waitingFor: []).instance.eni(mac: mac(P.eth1))?.ipv6Unknown, "\(cloud)")
            sim.setFaults([])
            XCTAssertEqual(try p.fetch(waitingFor: []).instance, try P.expected(s), "\(cloud)")
            XCTAssertEqual(requests(sim, leaf), 2, "\(cloud)")
        }
    }

    /// An IPv6 address under two ENIs: the IPv6 of both is unknown, their IPv4 stays.
    func testOneIPv6AddressOnTwoENIs() throws {
        var s = Self.scenario(.aws)
        s.enis[2].ipv6s = ["2001:db8:0:2::b", "2001:db8:0:2::d"]
        s.enis[2].subnet6 = Self.subnet6
        let sim = try MetadataSimulator(scenario: s)
        let r = try provider(sim, .aws).fetch(waitingFor: [])
        XCTAssertEqual(r.instance.enis.map(\.mac), [mac(P.primary), mac(P.eth1), mac(P.eth2)])
        for m in [P.eth1, P.eth2] {
            let e = try XCTUnwrap(r.instance.eni(mac: mac(m)))
            XCTAssertNil(e.ipv6)
            XCTAssertEqual(e.ipv6Unknown, .invalid("IPv6 address 2001:db8:0:2::b is claimed by two ENIs: \(P.eth1) and \(P.eth2)"))
        }
    }

    /// Alibaba's `[a,b]`: spaces and tabs around items, quoted items, `[]` (an empty list: the
    /// provider makes it pending); anything else is refused.
    func testBracketedList() throws {
        let u = "http://m/ipv6s"
        for (text, want) in [("[fd00::1,fd00::2]", ["fd00::1", "fd00::2"]), (" [ fd00::1 ,\t\"FD00:0::2\" ] ", ["fd00::1", "fd00::2"]),
                             ("[2001:DB8:0:0::0A]", ["2001:db8::a"]), ("[]", []), ("[ ]", [])] {
            XCTAssertEqual(try Answer.bracketedIPv6s(text, at: u, max: 4).map(\.description), want, text)
        }
        for text in ["", "fd00::1", "[fd00::1", "fd00::1]", "[,]", "[fd00::1,]", "[\"fd00::1]", "[fd00::1\"]", "[fd00::1\"x]"] {
            XCTAssertThrowsError(try Answer.bracketedIPv6s(text, at: u, max: 4), text) {
                XCTAssertEqual("\($0)", "\(u): expected a list in brackets, [a,b], got \(quoted(text))")
            }
        }
        for (text, bad) in [("[fd00::1 fd00::2]", "fd00::1 fd00::2"), ("[\"fd00::1\"\"]", "fd00::1\""), ("[fe80::1%eth0]", "fe80::1%eth0"),
                            ("[\"\"]", ""), ("[[fd00::1]]", "[fd00::1]")] {
            XCTAssertThrowsError(try Answer.bracketedIPv6s(text, at: u, max: 4), text) {
                XCTAssertEqual("\($0)", "\(u): invalid IPv6 address \(quoted(bad))")
            }
        }
        XCTAssertThrowsError(try Answer.bracketedIPv6s("[fd00::1,fd00::2,fd00::3]", at: u, max: 2)) {
            XCTAssertEqual("\($0)", "\(u): 3 IPv6 addresses, more than the limit of 2")
        }
        // private-ipv4s, through the same splitter, keeps its messages.
        for (text, message) in [("10.0.0.1", "expected a JSON array, got \"10.0.0.1\""), ("[10.0.0.1]", "expected a JSON array of strings, got \"[10.0.0.1]\""),
                                ("[]", "the list of IPs is empty")] {
            XCTAssertThrowsError(try Answer.jsonIPs(text, at: u, max: 4), text) {
                guard case .invalid(let m)? = $0 as? ENIRead else { return XCTFail("\($0)") }
                XCTAssertEqual(m, "\(u): \(message)")
            }
        }
    }
}

private extension String {
    /// The MAC as the cloud's listing spells it (Tencent: upper case).
    func uppercased(with cloud: Scenario.Cloud) -> String { cloud == .tencent ? uppercased() : self }
}

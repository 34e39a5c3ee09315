import FoundationEssentials

/// What the simulated cloud says about the instance. Values are kept as the strings the tree
/// serves, so a scenario can carry garbage or hostile values on purpose.
///
///     { "cloud": "tencent",
///       "primary_mac": "52:54:00:00:01:0a",
///       "enis": [ { "mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10",
///                   "secondary_ips": ["10.0.2.11"], "subnet": "10.0.2.0/24", "gateway": "10.0.2.1",
///                   "device_number": 1, "network_card": 0, "id": "eni-02",
///                   "ipv6s": ["2001:db8:0:2::10"], "subnet6": "2001:db8:0:2::/64", "gateway6": "fe80::1" } ],
///       "faults": [ { "path": "local-ipv4s", "status": 500, "times": 2 } ] }
public struct Scenario: Codable, Sendable, Equatable {
    public enum Cloud: String, Codable, Sendable { case tencent, aliyun, aws }

    public struct ENI: Codable, Sendable, Equatable {
        public var mac: String
        /// `primary_ip`, `subnet` and `gateway` absent: an ENI without IPv4 (an IPv6-only ENI on
        /// AWS), whose IPv4 leaves answer 404.
        public var primaryIP: String?
        public var secondaryIPs: [String]
        public var subnet: String?
        public var gateway: String?
        /// AWS `device-number`. Alibaba and Tencent have none.
        public var deviceNumber: Int?
        /// AWS `network-card`: absent means the leaf answers 404 (single-card instance).
        public var networkCard: Int?
        public var id: String?
        /// Per-IP overrides of Tencent's `gateway` and `subnet-mask` leaves.
        public var ipGateways: [String: String]?
        public var ipMasks: [String: String]?
        /// IPv6 (Alibaba and AWS; Tencent has no IPv6 leaf): `ipv6s` absent, the leaf answers 404
        /// (no IPv6); `[]`, an empty list (AWS: an empty body; Alibaba: `[]`). Served as AWS's
        /// listing or Alibaba's `[a,b]`.
        public var ipv6s: [String]?
        /// AWS `subnet-ipv6-cidr-blocks`, Alibaba `vswitch-ipv6-cidr-block`, served as is (a "\n"
        /// in it makes two AWS blocks); absent: 404.
        public var subnet6: String?
        /// Alibaba `ipv6-gateway`; absent: 404. AWS has no gateway leaf: ignored.
        public var gateway6: String?

        public init(mac: String, primaryIP: String?, secondaryIPs: [String] = [], subnet: String?, gateway: String?,
                    deviceNumber: Int? = nil, networkCard: Int? = nil, id: String? = nil,
                    ipv6s: [String]? = nil, subnet6: String? = nil, gateway6: String? = nil) {
            self.mac = mac; self.primaryIP = primaryIP; self.secondaryIPs = secondaryIPs; self.subnet = subnet
            self.gateway = gateway; self.deviceNumber = deviceNumber; self.networkCard = networkCard; self.id = id
            self.ipv6s = ipv6s; self.subnet6 = subnet6; self.gateway6 = gateway6
        }

        enum CodingKeys: String, CodingKey {
            case mac, subnet, gateway, id, ipv6s, subnet6, gateway6
            case primaryIP = "primary_ip", secondaryIPs = "secondary_ips", deviceNumber = "device_number"
            case networkCard = "network_card", ipGateways = "ip_gateways", ipMasks = "ip_masks"
        }

        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            mac = try c.decode(String.self, forKey: .mac)
            primaryIP = try c.decodeIfPresent(String.self, forKey: .primaryIP)
            secondaryIPs = try c.decodeIfPresent([String].self, forKey: .secondaryIPs) ?? []
            subnet = try c.decodeIfPresent(String.self, forKey: .subnet)
            gateway = try c.decodeIfPresent(String.self, forKey: .gateway)
            deviceNumber = try c.decodeIfPresent(Int.self, forKey: .deviceNumber)
            networkCard = try c.decodeIfPresent(Int.self, forKey: .networkCard)
            id = try c.decodeIfPresent(String.self, forKey: .id)
            ipGateways = try c.decodeIfPresent([String: String].self, forKey: .ipGateways)
            ipMasks = try c.decodeIfPresent([String: String].self, forKey: .ipMasks)
            ipv6s = try c.decodeIfPresent([String].self, forKey: .ipv6s)
            subnet6 = try c.decodeIfPresent(String.self, forKey: .subnet6)
            gateway6 = try c.decodeIfPresent(String.self, forKey: .gateway6)
        }
    }

    public var cloud: Cloud
    public var primaryMAC: String
    public var enis: [ENI]
    /// Alibaba: GETs without a token are refused (hardened mode). AWS always requires one.
    public var tokenRequired: Bool?
    /// Token PUTs asking for a longer TTL answer 400 (the clouds allow 1...21600).
    public var maxTokenTTL: Int?
    /// Tencent: whether `local-ipv4s/` lists `<ip>/` (true) or `<ip>` (false).
    public var listingSlashes: Bool?
    /// Tencent: serve the ENIs' IPv6 (`ipv6s` one per line, `subnet-ipv6-cidr-block`,
    /// `ipv6-gateway`) and list them in each ENI's directory. Tencent documents no such leaf: this
    /// is a tree that offers one, for the tests that the agent picks it up.
    public var tencentIPv6: Bool?
    public var faults: [Fault]

    public init(cloud: Cloud, primaryMAC: String, enis: [ENI], faults: [Fault] = []) {
        self.cloud = cloud; self.primaryMAC = primaryMAC; self.enis = enis; self.faults = faults
    }

    enum CodingKeys: String, CodingKey {
        case cloud, enis, faults
        case primaryMAC = "primary_mac", tokenRequired = "token_required", listingSlashes = "listing_slashes", tencentIPv6 = "tencent_ipv6"
        case maxTokenTTL = "max_token_ttl"
    }

    public init(from d: any Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        cloud = try c.decode(Cloud.self, forKey: .cloud)
        primaryMAC = try c.decode(String.self, forKey: .primaryMAC)
        enis = try c.decode([ENI].self, forKey: .enis)
        tokenRequired = try c.decodeIfPresent(Bool.self, forKey: .tokenRequired)
        listingSlashes = try c.decodeIfPresent(Bool.self, forKey: .listingSlashes)
        tencentIPv6 = try c.decodeIfPresent(Bool.self, forKey: .tencentIPv6)
        maxTokenTTL = try c.decodeIfPresent(Int.self, forKey: .maxTokenTTL)
        faults = try c.decodeIfPresent([Fault].self, forKey: .faults) ?? []
    }

    public static func decode(_ bytes: some Collection<UInt8>) throws -> Scenario {
        try JSONDecoder().decode(Scenario.self, from: Data(bytes))
    }
}

/// A misbehaviour of the endpoint. A fault applies to requests whose path contains `path` (ends
/// with it, when `path` ends in `$`; all requests when absent), for the first `times` of them (all when absent), during the first
/// `seconds` after the faults were set (always when absent).
public struct Fault: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable {
        /// Read the request and never answer (the connection stays open).
        case hang
        /// Close the connection without an answer.
        case close
        /// Announce the full length, send half the body, close.
        case truncate
        /// Answer 200 with a 100 KiB body.
        case oversize
    }
    public var path: String?
    public var method: String?
    public var status: Int?
    public var body: String?
    public var latencyMs: Int?
    public var mode: Mode?
    public var times: Int?
    public var seconds: Double?
    /// The MAC (any case) is missing from `macs/` and its leaves answer 404: metadata lag.
    public var hideMAC: String?
    /// With `hideMAC`: the MAC is listed, only its leaves answer 404.
    public var leavesOnly: Bool?
    /// Every token issued so far expires when a matching request arrives (which then answers 401).
    public var expireTokens: Bool?

    public init(path: String? = nil, method: String? = nil, status: Int? = nil, body: String? = nil,
                latencyMs: Int? = nil, mode: Mode? = nil, times: Int? = nil, seconds: Double? = nil,
                hideMAC: String? = nil, leavesOnly: Bool? = nil, expireTokens: Bool? = nil) {
        self.path = path; self.method = method; self.status = status; self.body = body; self.latencyMs = latencyMs
        self.mode = mode; self.times = times; self.seconds = seconds; self.hideMAC = hideMAC; self.leavesOnly = leavesOnly
        self.expireTokens = expireTokens
    }

    enum CodingKeys: String, CodingKey {
        case path, method, status, body, mode, times, seconds
        case latencyMs = "latency_ms", hideMAC = "hide_mac", leavesOnly = "leaves_only", expireTokens = "expire_tokens"
    }
}

extension Scenario {
    /// The metadata tree below `/latest/meta-data/`: path -> body. Directories end in `/`.
    func tree() -> [String: String] {
        var t: [String: String] = [:]
        let macs = "network/interfaces/macs/"
        switch cloud {
        case .tencent:
            t["mac"] = primaryMAC.uppercased()
            t[macs] = enis.map { $0.mac.uppercased() + "/" }.joined(separator: "\n")
            for e in enis {
                let d = macs + e.mac.uppercased() + "/"
                let ipv6 = tencentIPv6 == true ? Self.serve(&t, d, [("ipv6s", e.ipv6s?.joined(separator: "\n")),
                                                                  ("subnet-ipv6-cidr-block", e.subnet6), ("ipv6-gateway", e.gateway6)]) : []
                t[d] = (["mac", "vpc-id", "subnet-id", "public-ipv4s", "owner-id"]
                    + (e.primaryIP == nil ? [] : ["primary-local-ipv4", "local-ipv4s/"]) + ipv6).joined(separator: "\n")
                t[d + "mac"] = e.mac.uppercased()
                t[d + "vpc-id"] = "vpc-sim"
                t[d + "subnet-id"] = "subnet-sim"
                t[d + "owner-id"] = "100000000001"
                t[d + "public-ipv4s"] = ""
                guard let primaryIP = e.primaryIP else { continue }
                t[d + "primary-local-ipv4"] = primaryIP
                let ips = [primaryIP] + e.secondaryIPs
                let slash = (listingSlashes ?? true) ? "/" : ""
                t[d + "local-ipv4s/"] = ips.map { $0 + slash }.joined(separator: "\n")
                for ip in ips {
                    let l = d + "local-ipv4s/" + ip + "/"
                    t[l] = "gateway\nlocal-ipv4\npublic-ipv4\npublic-ipv4-mode\nsubnet-mask"
                    t[l + "gateway"] = e.ipGateways?[ip] ?? e.gateway ?? ""
                    t[l + "subnet-mask"] = e.ipMasks?[ip] ?? Self.netmask(e.subnet ?? "")
                    t[l + "local-ipv4"] = ip
                    t[l + "public-ipv4-mode"] = "NAT"
                }
            }
        case .aliyun:
            t["mac"] = primaryMAC.lowercased()
            t[macs] = enis.map { $0.mac.lowercased() + "/" }.joined(separator: "\n")
            for e in enis {
                let d = macs + e.mac.lowercased() + "/"
                var leaves = ["network-interface-id", "vpc-cidr-block", "vpc-id", "vswitch-id"]
                leaves += Self.serve(&t, d, [("ipv6s", e.ipv6s.map { "[" + $0.joined(separator: ",") + "]" }),
                                              ("ipv6-gateway", e.gateway6), ("vswitch-ipv6-cidr-block", e.subnet6),
                                              ("primary-ip-address", e.primaryIP),
                                              ("private-ipv4s", e.primaryIP.map { p in
                                                  "[" + ([p] + e.secondaryIPs).map { "\"\($0)\"" }.joined(separator: ",") + "]" }),
                                              ("netmask", e.subnet.map(Self.netmask)), ("gateway", e.gateway),
                                              ("vswitch-cidr-block", e.subnet)])
                t[d] = leaves.sorted().joined(separator: "\n")
                t[d + "vpc-cidr-block"] = "10.0.0.0/8"
                t[d + "network-interface-id"] = e.id ?? "eni-sim"
                t[d + "vswitch-id"] = "vsw-sim"
                t[d + "vpc-id"] = "vpc-sim"
            }
        case .aws:
            t["mac"] = primaryMAC.lowercased()
            t[macs] = enis.map { $0.mac.lowercased() + "/" }.joined(separator: "\n")
            for e in enis {
                let d = macs + e.mac.lowercased() + "/"
                var leaves = ["device-number", "interface-id", "local-hostname", "mac",
                              "security-group-ids", "subnet-id", "vpc-id"]
                leaves += Self.serve(&t, d, [("network-card", e.networkCard.map(String.init)),
                                              ("ipv6s", e.ipv6s?.joined(separator: "\n")), ("subnet-ipv6-cidr-blocks", e.subnet6),
                                              ("local-ipv4s", e.primaryIP.map { ([$0] + e.secondaryIPs).joined(separator: "\n") }),
                                              ("subnet-ipv4-cidr-block", e.subnet)])
                t[d] = leaves.sorted().joined(separator: "\n")
                t[d + "mac"] = e.mac.lowercased()
                t[d + "device-number"] = String(e.deviceNumber ?? 0)
                t[d + "interface-id"] = e.id ?? "eni-sim"
                t[d + "subnet-id"] = "subnet-sim"
                t[d + "vpc-id"] = "vpc-sim"
                t[d + "security-group-ids"] = "sg-sim"
                t[d + "local-hostname"] = "ip-sim.ec2.internal"
            }
        }
        return t
    }

    /// Serves each leaf that has a value below `dir`; the names of those served.
    static func serve(_ t: inout [String: String], _ dir: String, _ leaves: [(name: String, value: String?)]) -> [String] {
        leaves.compactMap { l in l.value.map { t[dir + l.name] = $0; return l.name } }
    }

    /// `a.b.c.d/n` -> the dotted mask of length n; the input itself when it does not parse.
    static func netmask(_ cidr: String) -> String {
        guard let slash = cidr.lastIndex(of: "/"), let n = Int(cidr[cidr.index(after: slash)...]), (0...32).contains(n) else {
            return cidr
        }
        let m: UInt32 = n == 0 ? 0 : ~UInt32(0) << (32 - n)
        return [24, 16, 8, 0].map { String((m >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }
}

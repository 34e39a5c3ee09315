/// An ENI's IPv6 addresses as the cloud describes them.
public struct ENIIPv6: Hashable, Sendable {
    /// Sorted, without duplicates, at least one.
    public var addresses: [IPv6Address]
    public var subnet: IPv6Prefix
    /// The router the metadata names (Alibaba's `ipv6-gateway`); nil where the cloud names none and
    /// the link's router advertisements tell it (AWS).
    public var gateway: IPv6Address?

    /// Each address goes on the ENI as a /128, as the clouds' DHCPv6 servers hand it out; the
    /// subnet is on-link in the ENI's own table only, so that the main table, and with it the
    /// primary NIC's IPv6 routing, never changes.
    public static let addressPrefixLength = 128
    /// The longest and shortest subnet prefixes accepted (the clouds' subnets are /64s).
    public static let subnetLengths = 16...127

    /// Validates: at least one address; a global unicast subnet of /16 to /127; every address global
    /// unicast, inside the subnet and not its subnet-router anycast address (the network address);
    /// the gateway link-local, or global and inside the subnet, and not one of the addresses.
    /// `name` begins each error (`ENI 52:54:00:00:00:02`).
    public init(addresses: [IPv6Address], subnet: IPv6Prefix, gateway: IPv6Address?, name: String) throws(ModelError) {
        guard !addresses.isEmpty else { throw ModelError("\(name): no IPv6 address in its IPv6 subnet \(subnet)") }
        guard ENIIPv6.subnetLengths.contains(subnet.length) else {
            throw ModelError("\(name): IPv6 subnet \(subnet) is not a /\(ENIIPv6.subnetLengths.lowerBound) to /\(ENIIPv6.subnetLengths.upperBound)")
        }
        guard subnet.network.isGlobalUnicast else { throw ModelError("\(name): IPv6 subnet \(subnet) is not a global unicast subnet") }
        for a in addresses {
            guard subnet.contains(a) else { throw ModelError("\(name): IPv6 address \(a) is outside its subnet \(subnet)") }
            guard a != subnet.network || subnet.length == 127 else {
                throw ModelError("\(name): IPv6 address \(a) is the subnet-router anycast address of its subnet \(subnet)")
            }
        }
        if let g = gateway {
            guard g.isLinkLocal || (g.isGlobalUnicast && subnet.contains(g)) else {
                throw ModelError("\(name): IPv6 gateway \(g) is neither link-local nor inside its subnet \(subnet)")
            }
            guard g != subnet.network || subnet.length == 127 else {
                throw ModelError("\(name): IPv6 gateway \(g) is the subnet-router anycast address of its subnet \(subnet)")
            }
            guard !addresses.contains(g) else { throw ModelError("\(name): IPv6 gateway \(g) is also one of its IPv6 addresses") }
        }
        self.addresses = Array(Set(addresses)).sorted()
        self.subnet = subnet
        self.gateway = gateway
    }
}

/// An ENI's IPv4 addresses as the cloud describes them.
public struct ENIIPv4: Hashable, Sendable {
    public var primaryIP: IPv4Address
    /// Secondary private IPs, sorted, without duplicates and without the primary IP.
    public var secondaryIPs: [IPv4Address]
    public var subnet: IPv4Prefix
    public var gateway: IPv4Address

    /// Validates: a subnet of /8 to /30; every IP and the gateway inside the subnet and neither its
    /// network nor its broadcast address; the gateway not one of the IPs. `name` begins each error
    /// (`ENI 52:54:00:00:00:02`).
    public init(primaryIP: IPv4Address, secondaryIPs: [IPv4Address] = [], subnet: IPv4Prefix, gateway: IPv4Address,
                name: String) throws(ModelError) {
        guard subnet.length <= 30 else {
            throw ModelError("\(name): subnet \(subnet) is too small for an ENI")
        }
        // No cloud has a subnet larger than a /8 (VPCs are /8 to /28); a /0 would make every address
        // on the link "in the subnet" and strip the ENI.
        guard subnet.length >= ENIIPv4.minimumSubnetLength else {
            throw ModelError("\(name): subnet \(subnet) is too large for an ENI (shorter than /\(ENIIPv4.minimumSubnetLength))")
        }
        for ip in [primaryIP] + secondaryIPs {
            guard subnet.contains(ip) else { throw ModelError("\(name): IP \(ip) is outside its subnet \(subnet)") }
            guard subnet.isHost(ip) else {
                throw ModelError("\(name): IP \(ip) is the \(ip == subnet.network ? "network" : "broadcast") address of its subnet \(subnet)")
            }
        }
        guard subnet.contains(gateway) else {
            throw ModelError("\(name): gateway \(gateway) is outside its subnet \(subnet)")
        }
        guard subnet.isHost(gateway) else {
            throw ModelError("\(name): gateway \(gateway) is the \(gateway == subnet.network ? "network" : "broadcast") address of its subnet \(subnet)")
        }
        guard gateway != primaryIP, !secondaryIPs.contains(gateway) else {
            throw ModelError("\(name): gateway \(gateway) is also one of its IPs")
        }
        self.primaryIP = primaryIP
        self.secondaryIPs = Array(Set(secondaryIPs).subtracting([primaryIP])).sorted()
        self.subnet = subnet
        self.gateway = gateway
    }

    /// The shortest subnet prefix an ENI may have.
    public static let minimumSubnetLength = 8

    /// Primary IP first, then the secondary IPs in order.
    public var allIPs: [IPv4Address] { [primaryIP] + secondaryIPs }
}

/// One elastic network interface as the cloud describes it: IPv4, IPv6 or both (an ENI in an
/// IPv6-only subnet has no IPv4 address).
public struct ENI: Hashable, Sendable {
    public var mac: MACAddress
    /// Its IPv4 addresses; nil for an IPv6-only ENI.
    public var ipv4: ENIIPv4?
    /// The provider's device index (AWS `device-number`), when it has one.
    public var deviceNumber: Int?
    /// The provider's network card index (AWS `network-card`), when it has one.
    public var networkCard: Int?
    /// The provider's ENI id (`eni-...`), for display only.
    public var id: String?
    /// Its IPv6 addresses; nil when it has none, or when `ipv6Unknown` says why they are not known.
    public var ipv6: ENIIPv6?
    /// Why the metadata could not describe its IPv6 this time (an invalid value, a router not yet
    /// known): its IPv6 is left as it is, its IPv4 is configured all the same.
    public var ipv6Unknown: Undescribed?

    /// Builds and validates an ENI: a unicast MAC; IPv4, IPv6 or an IPv6 not known this time (an
    /// ENI without IPv4 whose IPv6 is unknown is left as it is); indices in range.
    public init(
        mac: MACAddress, ipv4: ENIIPv4?,
        deviceNumber: Int? = nil, networkCard: Int? = nil, id: String? = nil,
        ipv6: ENIIPv6? = nil, ipv6Unknown: Undescribed? = nil
    ) throws(ModelError) {
        let name = "ENI \(mac)"
        try mac.requireUnicast(for: name)
        guard ipv4 != nil || ipv6 != nil || ipv6Unknown != nil else {
            throw ModelError("\(name): no IPv4 and no IPv6 address")
        }
        if let d = deviceNumber, d < 0 || d > 255 {
            throw ModelError("\(name): device number \(d) out of range 0...255")
        }
        if let c = networkCard, c < 0 || c > 31 {
            throw ModelError("\(name): network card \(c) out of range 0...31")
        }
        if let id, id.isEmpty || !id.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) {
            throw ModelError("\(name): invalid ENI id \(quoted(id))")
        }
        self.mac = mac
        self.ipv4 = ipv4
        self.deviceNumber = deviceNumber
        self.networkCard = networkCard
        self.id = id
        self.ipv6 = ipv6Unknown == nil ? ipv6 : nil
        self.ipv6Unknown = ipv6Unknown
    }

    /// An ENI with IPv4 (and perhaps IPv6), validated as `ENIIPv4` and the other `init` do.
    public init(
        mac: MACAddress, primaryIP: IPv4Address, secondaryIPs: [IPv4Address] = [],
        subnet: IPv4Prefix, gateway: IPv4Address,
        deviceNumber: Int? = nil, networkCard: Int? = nil, id: String? = nil,
        ipv6: ENIIPv6? = nil, ipv6Unknown: Undescribed? = nil
    ) throws(ModelError) {
        try mac.requireUnicast(for: "ENI \(mac)")
        let v4 = try ENIIPv4(primaryIP: primaryIP, secondaryIPs: secondaryIPs, subnet: subnet, gateway: gateway, name: "ENI \(mac)")
        try self.init(mac: mac, ipv4: v4, deviceNumber: deviceNumber, networkCard: networkCard, id: id, ipv6: ipv6, ipv6Unknown: ipv6Unknown)
    }

    /// Its IPv4 addresses, primary first (none for an IPv6-only ENI).
    public var allIPs: [IPv4Address] { ipv4?.allIPs ?? [] }
}

/// Why the metadata could not describe an ENI this time. Either way nothing of it is changed.
public enum Undescribed: Hashable, Sendable, CustomStringConvertible {
    /// Not listed or not described yet (metadata that lags an attach): waited for, not an error.
    case pending(String)
    /// An error or an invalid value: reported as an error.
    case invalid(String)

    /// Why, without the kind.
    public var reason: String {
        switch self {
        case .pending(let r), .invalid(let r): r
        }
    }

    public var isPending: Bool { if case .pending = self { true } else { false } }

    /// `pending: WHY` or `WHY`, as messages show it.
    public var description: String { isPending ? "pending: \(reason)" : reason }
}

/// What the cloud says is attached to this instance.
public struct Instance: Hashable, Sendable {
    /// The instance's top-level MAC: the primary ENI (eth0).
    public var primaryMAC: MACAddress
    /// ENIs the metadata described completely and validly, sorted by MAC.
    public var enis: [ENI]
    /// ENIs the metadata lists (or the kernel has) but that it could not describe this time,
    /// pending or invalid, per MAC. The planner changes nothing for them.
    public var unknown: [MACAddress: Undescribed]

    /// Validates the instance as a whole: the primary MAC is a unicast MAC and is among the ENIs
    /// (described or unknown), no MAC is listed twice, no IP is on two ENIs. An instance that fails
    /// here is unusable: nothing is planned from it. An IPv6 address on two ENIs makes the IPv6 of
    /// both unknown (invalid), and only that.
    public init(primaryMAC: MACAddress, enis: [ENI], unknown: [MACAddress: Undescribed] = [:]) throws(ModelError) {
        try primaryMAC.requireUnicast(for: "primary MAC")
        var enis = enis
        var owner6: [IPv6Address: Int] = [:]
        var clash: [Int: String] = [:]
        for (i, eni) in enis.enumerated() {
            for a in eni.ipv6?.addresses ?? [] {
                if let j = owner6[a] {
                    let why = "IPv6 address \(a) is claimed by two ENIs: \(enis[j].mac) and \(eni.mac)"
                    if clash[j] == nil { clash[j] = why }
                    if clash[i] == nil { clash[i] = why }
                } else {
                    owner6[a] = i
                }
            }
        }
        for (i, why) in clash {
            enis[i].ipv6 = nil
            enis[i].ipv6Unknown = .invalid(why)
        }
        var seenMAC = Set<MACAddress>()
        var owner: [IPv4Address: MACAddress] = [:]
        for eni in enis {
            guard seenMAC.insert(eni.mac).inserted else {
                throw ModelError("MAC \(eni.mac) is listed twice")
            }
            for ip in eni.allIPs {
                if let other = owner[ip] {
                    throw ModelError("IP \(ip) is claimed by two ENIs: \(other) and \(eni.mac)")
                }
                owner[ip] = eni.mac
            }
        }
        guard seenMAC.contains(primaryMAC) || unknown[primaryMAC] != nil else {
            throw ModelError("primary MAC \(primaryMAC) is not among the ENIs (\(enis.count + unknown.count) listed)")
        }
        self.primaryMAC = primaryMAC
        self.enis = enis.sorted { $0.mac < $1.mac }
        self.unknown = unknown.filter { !seenMAC.contains($0.key) }
    }

    public func eni(mac: MACAddress) -> ENI? { enis.first { $0.mac == mac } }
}

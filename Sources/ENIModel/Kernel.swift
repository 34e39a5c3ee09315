/// A network interface as the kernel has it.
public struct Link: Hashable, Sendable {
    public var index: Int32
    public var name: String
    public var mac: MACAddress?
    public var isUp: Bool
    /// The device has carrier (`IFF_LOWER_UP`).
    public var hasCarrier: Bool
    /// rtnetlink link kind (`veth`, `vlan`, `bond`, ...); nil for a physical device.
    public var kind: String?
    /// Index of the master device (bond, bridge, VRF) when enslaved.
    public var master: Int32?
    public init(index: Int32, name: String, mac: MACAddress?, isUp: Bool, hasCarrier: Bool? = nil, kind: String? = nil, master: Int32? = nil) {
        self.index = index; self.name = name; self.mac = mac; self.isUp = isUp
        self.hasCarrier = hasCarrier ?? isUp
        self.kind = kind; self.master = master
    }

    /// Up with carrier: the kernel keeps routes through it (taking a link down drops them).
    public var isRunning: Bool { isUp && hasCarrier }
}

extension Link {
    /// A link that may be an ENI: a physical NIC (no link kind; in a cloud VM each one is an ENI)
    /// or a veth (the labs' stand-in), with a MAC that is not all zeros, not the loopback. The one
    /// answer to "may this link be an ENI" for the planner, the agent and the daemon; whether it
    /// is free to configure (not enslaved, not excluded) is asked apart.
    public var mayBeENI: Bool {
        guard let mac, name != "lo", mac.bytes.contains(where: { $0 != 0 }) else { return false }
        return kind == nil || kind == "veth"
    }
}

extension Link {
    /// Names the agent will manage: 1-15 of `A-Z a-z 0-9 _ . -`, not `.` or `..`. The kernel allows
    /// more (quotes, `$`); such a name could not be written to network files or shown as an `ip`
    /// command safely, so its link is left alone.
    public static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 15 && name != "." && name != ".."
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0))
            }
    }
}

/// An address on an interface (`ip addr add A/LEN dev IF`), IPv4 or IPv6.
public struct InterfaceAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int
    public var device: String
    /// The kernel's IFA_F_SECONDARY (IPv4): not the first address of its subnet on this interface.
    public var isSecondary: Bool
    /// The kernel's IFA_F_TENTATIVE or IFA_F_DADFAILED (IPv6): duplicate address detection has not
    /// passed, so the address does not work (yet, or ever).
    public var isTentative: Bool

    public init(address: IPAddress, prefixLength: Int, device: String, isSecondary: Bool = false, isTentative: Bool = false) {
        self.address = address; self.prefixLength = prefixLength; self.device = device
        self.isSecondary = isSecondary; self.isTentative = isTentative
    }

    public init(address: IPv4Address, prefixLength: Int, device: String, isSecondary: Bool = false) {
        self.init(address: .v4(address), prefixLength: prefixLength, device: device, isSecondary: isSecondary)
    }

    public init(address: IPv6Address, prefixLength: Int, device: String, isTentative: Bool = false) {
        self.init(address: .v6(address), prefixLength: prefixLength, device: device, isTentative: isTentative)
    }

    public var family: IPFamily { address.family }

    /// The subnet the address belongs to (`10.0.2.11/24` -> `10.0.2.0/24`).
    public var subnet: IPPrefix { IPPrefix(containing: address, length: prefixLength) }

    /// Identity for planning: the secondary and tentative flags are the kernel's business.
    public func sameAs(_ o: InterfaceAddress) -> Bool {
        address == o.address && prefixLength == o.prefixLength && device == o.device
    }

    /// The address with the kernel's flags cleared: equal for two addresses that are `sameAs`.
    public var identity: InterfaceAddress {
        var a = self
        a.isSecondary = false
        a.isTentative = false
        return a
    }

    public var description: String { "\(address)/\(prefixLength) dev \(device)" }
    public static func < (a: Self, b: Self) -> Bool {
        (a.device, a.address, a.prefixLength) < (b.device, b.address, b.prefixLength)
    }
}

public enum RouteScope: UInt8, Sendable, Codable {
    case universe = 0
    case link = 253
    case host = 254
}

/// A unicast route in a table, IPv4 or IPv6 (the destination's family).
public struct Route: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var table: UInt32
    public var destination: IPPrefix
    public var gateway: IPAddress?
    /// Output interface name; nil for routes without one (blackhole, multipath).
    public var device: String?
    public var scope: RouteScope
    public var proto: UInt8
    public var metric: UInt32

    public init(table: UInt32, destination: IPPrefix, gateway: IPAddress? = nil, device: String?,
                scope: RouteScope = .universe, proto: UInt8, metric: UInt32? = nil) {
        self.table = table; self.destination = destination; self.gateway = gateway
        self.device = device; self.scope = scope; self.proto = proto
        self.metric = metric ?? Route.defaultMetric(destination.family)
    }

    public init(table: UInt32, destination: IPv4Prefix, gateway: IPv4Address? = nil, device: String?,
                scope: RouteScope = .universe, proto: UInt8, metric: UInt32 = 0) {
        self.init(table: table, destination: .v4(destination), gateway: gateway.map { .v4($0) }, device: device,
                  scope: scope, proto: proto, metric: metric)
    }

    /// The metric the kernel gives a route added without one: 0 for IPv4, 1024 for IPv6
    /// (`IP6_RT_PRIO_USER`).
    public static func defaultMetric(_ family: IPFamily) -> UInt32 { family == .v4 ? 0 : 1024 }

    /// The kernel's protocol number of routes it learned from router advertisements (`proto ra`).
    public static let routerAdvertisementProto: UInt8 = 9
    /// The kernel's own routes (`proto kernel`): an address's prefix, an advertised prefix on-link.
    public static let kernelProto: UInt8 = 2

    public var family: IPFamily { destination.family }

    /// The kernel's key: two routes with the same key cannot coexist (`EEXIST`).
    public var key: RouteKey { RouteKey(table: table, destination: destination, metric: metric) }

    /// `ip route` syntax without the verb: `default via 10.0.2.1 dev eth1 table 10001 proto 234`.
    public var description: String {
        var s = destination.isDefault ? "default" : destination.description
        if let gateway { s += " via \(gateway)" }
        if let device { s += " dev \(device)" }
        if scope == .link { s += " scope link" } else if scope == .host { s += " scope host" }
        s += " table \(table) proto \(proto)"
        if metric != Route.defaultMetric(family) { s += " metric \(metric)" }
        return s
    }

    /// By family, table, then destination, then the rest of what tells two routes apart (no text
    /// built).
    public static func < (a: Route, b: Route) -> Bool {
        if (a.family, a.table, a.destination.length) != (b.family, b.table, b.destination.length) {
            return (a.family, a.table, a.destination.length) < (b.family, b.table, b.destination.length)
        }
        if a.destination.network != b.destination.network { return a.destination.network < b.destination.network }
        if a.gateway != b.gateway {
            guard let ag = a.gateway else { return true }
            guard let bg = b.gateway else { return false }
            return ag < bg
        }
        return (a.device ?? "", a.scope.rawValue, a.proto, a.metric) < (b.device ?? "", b.scope.rawValue, b.proto, b.metric)
    }
}

public struct RouteKey: Hashable, Sendable {
    public var table: UInt32
    public var destination: IPPrefix
    public var metric: UInt32
}

/// A policy routing rule, IPv4 or IPv6.
public struct Rule: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var family: IPFamily
    public var priority: UInt32
    /// Source selector, of the rule's family; nil means `from all`.
    public var source: IPPrefix?
    public var table: UInt32
    public var proto: UInt8
    /// True when the kernel rule has selectors or actions this model does not describe
    /// (to, iif, oif, fwmark, tos, goto, not, ...). Such a rule never equals one the agent wants.
    public var hasOtherSelectors: Bool

    /// A rule of `source`'s family, or of `family` for `from all`.
    public init(priority: UInt32, source: IPPrefix?, family: IPFamily = .v4, table: UInt32, proto: UInt8, hasOtherSelectors: Bool = false) {
        self.family = source?.family ?? family
        self.priority = priority; self.source = source; self.table = table; self.proto = proto
        self.hasOtherSelectors = hasOtherSelectors
    }

    public init(priority: UInt32, source: IPv4Prefix, table: UInt32, proto: UInt8, hasOtherSelectors: Bool = false) {
        self.init(priority: priority, source: .v4(source), table: table, proto: proto, hasOtherSelectors: hasOtherSelectors)
    }

    /// `ip rule` syntax without the verb: `from 10.0.2.10 lookup 10001 priority 10001 protocol 234`.
    public var description: String {
        let from: String
        if let source { from = source.isHost ? source.network.description : source.description } else { from = "all" }
        return "from \(from) lookup \(table) priority \(priority) protocol \(proto)"
            + (hasOtherSelectors ? " (+other selectors)" : "")
    }

    /// By family, priority, table, source, then the rest (no text built).
    public static func < (a: Rule, b: Rule) -> Bool {
        if (a.family, a.priority, a.table) != (b.family, b.priority, b.table) {
            return (a.family, a.priority, a.table) < (b.family, b.priority, b.table)
        }
        if a.source != b.source {
            guard let x = a.source else { return false }
            guard let y = b.source else { return true }
            return (x.network, x.length) < (y.network, y.length)
        }
        return (a.proto, a.hasOtherSelectors ? 1 : 0) < (b.proto, b.hasOtherSelectors ? 1 : 0)
    }
}

/// A router the kernel knows on a link from its router advertisements (a neighbour with the
/// router flag): where an ENI's IPv6 default route goes when the metadata names no gateway (AWS).
public struct IPv6Router: Hashable, Comparable, Sendable {
    public var device: String
    public var address: IPv6Address
    public init(device: String, address: IPv6Address) { self.device = device; self.address = address }
    public static func < (a: Self, b: Self) -> Bool { (a.device, a.address) < (b.device, b.address) }
}

/// A file as found on disk, for planning. Paths are absolute as seen on the target system
/// (without the `--root` prefix).
public struct ObservedFile: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case regular(content: String), symlink, other }
    public var kind: Kind
    /// The permission bits (`st_mode & 07777`) of a regular file; nil where not known.
    public var mode: UInt16?
    public init(_ kind: Kind, mode: UInt16? = nil) { self.kind = kind; self.mode = mode }

    public var content: String? {
        if case .regular(let c) = kind { return c }
        return nil
    }
}

/// Everything the planner needs to know about the machine, read in one go.
public struct ObservedState: Hashable, Sendable {
    public var links: [Link]
    public var addresses: [InterfaceAddress]
    public var routes: [Route]
    public var rules: [Rule]
    /// IPv6 routers the kernel learned on each link (from router advertisements).
    public var routers: [IPv6Router]
    /// sysctl key (`net.ipv4.conf.eth1.rp_filter`) -> current value, for the keys the agent manages.
    public var sysctls: [String: String]
    /// Path -> file, for the paths the agent may write or has written.
    public var files: [String: ObservedFile]
    /// Links udev has not finished with yet (it may still rename them; bringing a link up would
    /// make its rename fail): not configured until it has.
    public var unsettled: Set<String>

    public init(links: [Link] = [], addresses: [InterfaceAddress] = [], routes: [Route] = [], rules: [Rule] = [],
                routers: [IPv6Router] = [], sysctls: [String: String] = [:], files: [String: ObservedFile] = [:], unsettled: Set<String> = []) {
        self.links = links; self.addresses = addresses; self.routes = routes; self.rules = rules; self.routers = routers
        self.sysctls = sysctls; self.files = files; self.unsettled = unsettled
    }

    public func link(mac: MACAddress) -> Link? { links.first { $0.mac == mac } }
    public func link(named name: String) -> Link? { links.first { $0.name == name } }
}

/// Interfaces and MACs the agent leaves alone entirely: not configured, not cleaned up, not waited
/// for. Names are shell-style patterns: `*` any run of characters, `?` one character.
public struct Exclusions: Hashable, Sendable {
    public var interfaces: [String]
    public var macs: Set<MACAddress>

    /// Container and virtual-network links that are never ENIs: Docker, CNI plugins (Calico,
    /// Cilium, Flannel), libvirt, tunnels.
    public static let defaultInterfaces = ["veth*", "docker*", "br-*", "cali*", "cilium*", "lxc*", "flannel*", "cni*", "kube-*", "virbr*", "tun*", "tap*"]

    public init(interfaces: [String] = Exclusions.defaultInterfaces, macs: Set<MACAddress> = []) {
        self.interfaces = interfaces; self.macs = macs
    }

    public static let none = Exclusions(interfaces: [], macs: [])

    public func excludes(name: String?, mac: MACAddress?) -> Bool {
        if let mac, macs.contains(mac) { return true }
        guard let name else { return false }
        return interfaces.contains { Self.match(Array($0.unicodeScalars)[...], Array(name.unicodeScalars)[...]) }
    }

    /// Shell-style match of the whole name.
    static func match(_ p: ArraySlice<Unicode.Scalar>, _ s: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let c = p.first else { return s.isEmpty }
        switch c {
        case "*":
            var rest = s
            while true {
                if match(p.dropFirst(), rest) { return true }
                if rest.isEmpty { return false }
                rest = rest.dropFirst()
            }
        case "?": return !s.isEmpty && match(p.dropFirst(), s.dropFirst())
        default: return s.first == c && match(p.dropFirst(), s.dropFirst())
        }
    }
}

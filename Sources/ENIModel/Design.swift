/// How one interface is to be configured: the planner's decision, the renderers' input.
public struct InterfaceDesign: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable, Codable {
        /// The instance's primary ENI: only its secondary IPs are added; routing untouched.
        case primary
        /// A secondary ENI: addresses, its own table and rules.
        case secondary
    }

    public var name: String
    public var role: Role
    public var eni: ENI
    /// Policy routing table and rule priority (secondary ENIs only).
    public var table: UInt32?
    public var priority: UInt32?
    /// The agent's own protocol number (`route_protocol`): carried by its routes and rules unless
    /// `routeProto` / `ruleProto` say otherwise.
    public var proto: UInt8
    /// The protocol number of the agent's routes: `proto`, or the one the network manager gives the
    /// routes the agent's files declare where a file cannot say it (NetworkManager: `static`), so
    /// that its copy and the agent's are one object.
    public var routeProto: UInt8
    /// The protocol number of the agent's rules: `proto`, or the one the network manager gives the
    /// rules the agent's files declare (networkd: `static`), so that its copy and the agent's are
    /// one object.
    public var ruleProto: UInt8
    /// The router of its IPv6 default route (the metadata's, or the one the link's router
    /// advertisements named): set when its IPv6 is configured, nil otherwise.
    public var ipv6Gateway: IPv6Address?
    /// Why its IPv6 is left as it is this time (the metadata could not describe it, no router known
    /// yet); nil when it is configured or the ENI has none.
    public var ipv6Held: Undescribed?

    public init(name: String, role: Role, eni: ENI, table: UInt32?, priority: UInt32?, proto: UInt8, ruleProto: UInt8? = nil,
                routeProto: UInt8? = nil, ipv6Gateway: IPv6Address? = nil, ipv6Held: Undescribed? = nil) {
        self.name = name; self.role = role; self.eni = eni
        self.table = table; self.priority = priority; self.proto = proto
        self.ruleProto = ruleProto ?? proto
        self.routeProto = routeProto ?? proto
        self.ipv6Gateway = ipv6Gateway; self.ipv6Held = ipv6Held
    }

    public var mac: MACAddress { eni.mac }

    /// The IPv6 the agent configures on this interface: a secondary ENI's with a router known.
    public var ipv6: (eni: ENIIPv6, gateway: IPv6Address)? {
        guard role == .secondary, ipv6Held == nil, let v6 = eni.ipv6, let g = ipv6Gateway else { return nil }
        return (v6, g)
    }

    /// `ip addr` entries this interface must carry (the primary ENI: its secondary IPs only), IPv4
    /// then IPv6.
    public var addresses: [InterfaceAddress] {
        var v4: [InterfaceAddress] = []
        if let ipv4 = eni.ipv4 {
            v4 = (role == .primary ? ipv4.secondaryIPs : ipv4.allIPs).map {
                InterfaceAddress(address: $0, prefixLength: ipv4.subnet.length, device: name)
            }
        }
        return v4 + (ipv6?.eni.addresses ?? []).map { InterfaceAddress(address: $0, prefixLength: ENIIPv6.addressPrefixLength, device: name) }
    }

    /// Routes in this interface's own table: the subnet (`scope link`) and the default route, of
    /// each family it has.
    public var routes: [Route] {
        guard role == .secondary, let table else { return [] }
        var routes: [Route] = []
        if let v4 = eni.ipv4 {
            routes += [
                Route(table: table, destination: v4.subnet, device: name, scope: .link, proto: routeProto),
                Route(table: table, destination: .any, gateway: v4.gateway, device: name, proto: routeProto),
            ]
        }
        if let (v6, gateway) = ipv6 {
            routes += [
                Route(table: table, destination: .v6(v6.subnet), device: name, proto: routeProto),
                Route(table: table, destination: .any(.v6), gateway: .v6(gateway), device: name, proto: routeProto),
            ]
        }
        return routes
    }

    /// One `from IP lookup T` rule per IP of a secondary ENI, IPv4 then IPv6.
    public var rules: [Rule] {
        guard role == .secondary, let table, let priority else { return [] }
        let ips = eni.allIPs.map(IPAddress.v4) + (ipv6?.eni.addresses ?? []).map(IPAddress.v6)
        return ips.map { Rule(priority: priority, source: IPPrefix(host: $0), table: table, proto: ruleProto) }
    }
}

/// A sysctl setting, e.g. `net.ipv4.conf.eth1.rp_filter = 2`, and the ENI it is for.
public struct SysctlSetting: Hashable, Sendable {
    public var key: String
    public var value: String
    /// The ENI the setting belongs to; nil for machine-wide settings (`all`, `default`).
    public var owner: MACAddress?
    public init(key: String, value: String, owner: MACAddress? = nil) { self.key = key; self.value = value; self.owner = owner }

    /// `net.ipv4.conf.IF.LEAF`; a dot in an interface name is written `/`, as sysctl.d(5) has it.
    public static func ipv4Conf(_ interface: String, _ leaf: String) -> String { conf("ipv4", interface, leaf) }

    /// `net.ipv6.conf.IF.LEAF`, written as `ipv4Conf`.
    public static func ipv6Conf(_ interface: String, _ leaf: String) -> String { conf("ipv6", interface, leaf) }

    static func conf(_ family: String, _ interface: String, _ leaf: String) -> String {
        "net.\(family).conf.\(interface.replacingOccurrences(".", with: "/")).\(leaf)"
    }

    /// What a secondary ENI with IPv6 needs: IPv6 on (`disable_ipv6` 0); no duplicate address
    /// detection (`accept_dad` 0: the cloud assigns each address once; an address on its way
    /// through detection does not work yet, and one that failed it never does); and from router
    /// advertisements neither a default route (`accept_ra_defrtr` 0) nor on-link prefixes and SLAAC
    /// addresses (`accept_ra_pinfo` 0) in the main table. `accept_ra` is left alone (a network
    /// manager that handles advertisements itself sets it 0): the kernel learns the router of
    /// every advertisement as a neighbour all the same, and that names the ENI's router on AWS.
    public static let ipv6ENILeaves: [(leaf: String, value: String)] = [
        ("disable_ipv6", "0"), ("accept_dad", "0"), ("accept_ra_defrtr", "0"), ("accept_ra_pinfo", "0"),
    ]

    /// The path below /proc/sys: dots separate components; a `/` inside a component is a dot.
    public static func procPath(_ key: String) -> String {
        key.split(separator: ".", omittingEmptySubsequences: false)
            .map { String($0).replacingOccurrences("/", with: ".") }.joined(separator: "/")
    }
}

/// The complete desired configuration of the machine, as decided by the planner.
public struct NetworkDesign: Hashable, Sendable {
    /// Interfaces, sorted by name.
    public var interfaces: [InterfaceDesign]
    /// Sysctls to hold and persist, in a stable order.
    public var sysctls: [SysctlSetting]
    public init(interfaces: [InterfaceDesign], sysctls: [SysctlSetting]) {
        self.interfaces = interfaces.sorted { $0.name < $1.name }
        self.sysctls = sysctls
    }
}

/// Turns a design into files. Pure: returns path -> content, writes nothing.
public protocol FileRenderer: Sendable {
    /// Directories whose marked files this renderer owns (to find files of detached ENIs).
    var directories: [String] { get }
    /// Extra single files this renderer owns outside those directories.
    var files: [String] { get }
    /// The files for `design`. Throws when a value cannot be written safely.
    func render(_ design: NetworkDesign) throws(ModelError) -> [String: String]
    /// The settings this renderer's files hold now (from `files` as observed), with the ENI each
    /// belongs to where the file says: what an ENI left alone keeps.
    func persistedSettings(_ files: [String: ObservedFile]) -> [SysctlSetting]
    /// The protocol number the network manager gives the rules this renderer's files declare when
    /// it applies them at runtime, where the file cannot say it (networkd's `[RoutingPolicyRule]`
    /// has no `Protocol=`: networkd's rules are `static`, 4). nil where the files carry the
    /// agent's own protocol (ifcfg's `rule-IF` lines say `protocol 234`) or declare no rule.
    var ruleProtocol: UInt8? { get }
    /// The rules this renderer's own files declare (from `files` as observed: marked, at paths it
    /// writes), parsed back, each with `proto` = `ruleProtocol`: what the network manager may hold
    /// in the kernel because the agent's file told it to. A section the renderer would not have
    /// written (a key it does not write, a value it would not write) declares nothing.
    func declaredRules(_ files: [String: ObservedFile]) -> [Rule]
    /// The protocol number the network manager gives the routes this renderer's files declare,
    /// where the file cannot say it (a NetworkManager keyfile route has no protocol attribute:
    /// NetworkManager's routes are `static`, 4). nil where the files carry the agent's own protocol
    /// (networkd's `Protocol=`, ifcfg's `route-IF` lines) or declare no route.
    var routeProtocol: UInt8? { get }
    /// The routes this renderer's own files declare, parsed back as `declaredRules` does, each with
    /// `proto` = `routeProtocol` and the interface the file is named after as its device.
    func declaredRoutes(_ files: [String: ObservedFile]) -> [Route]
    /// The permission bits the file at `path` (one this renderer writes) must have: 0644 unless the
    /// program reading it wants otherwise (NetworkManager ignores keyfiles readable by others: 0600).
    func mode(ofPath path: String) -> UInt16
    /// The interface a path this renderer writes is named after (`ifcfg-eth1` -> `eth1`); nil
    /// for a path it does not write or one not named after an interface.
    func interface(ofPath path: String) -> String?
}

extension FileRenderer {
    /// The path is one this renderer writes: in one of its directories, or one of its files.
    public func owns(_ path: String) -> Bool {
        files.contains(path) || directories.contains { path.hasPrefix($0 + "/") && !path.dropFirst($0.count + 1).contains("/") }
    }

    public func persistedSettings(_ files: [String: ObservedFile]) -> [SysctlSetting] { [] }
    public var ruleProtocol: UInt8? { nil }
    public func declaredRules(_ files: [String: ObservedFile]) -> [Rule] { [] }
    public var routeProtocol: UInt8? { nil }
    public func declaredRoutes(_ files: [String: ObservedFile]) -> [Route] { [] }
    public func mode(ofPath path: String) -> UInt16 { FileMarker.defaultMode }
    public func interface(ofPath path: String) -> String? { nil }
}

/// The first line of every file the agent writes. A file without it is never changed.
public enum FileMarker {
    public static let prefix = "# Managed by eni-agent"
    /// The permission bits of the agent's files unless their renderer says otherwise.
    public static let defaultMode: UInt16 = 0o644

    /// `0644`: a mode as `chmod` takes it, for messages.
    public static func modeText(_ mode: UInt16) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The marker line, naming the ENI the file belongs to when it belongs to one.
    public static func line(owner: MACAddress?) -> String {
        if let owner { return "\(prefix) for \(owner); local changes are overwritten." }
        return "\(prefix); local changes are overwritten."
    }

    public static func isManaged(_ content: String) -> Bool {
        content.hasPrefix(prefix + " ") || content.hasPrefix(prefix + ";") || content.hasPrefix(prefix + "\n")
    }

    /// A write in progress goes to `.NAME` + this suffix in the same directory, then is renamed.
    public static let temporarySuffix = ".eni-agent-tmp"

    /// The temporary name of a write to `name`.
    public static func temporaryName(_ name: String) -> String { "." + name + temporarySuffix }

    /// A path of the agent's own temporary naming: a write that did not finish.
    public static func isTemporary(_ path: String) -> Bool {
        guard let name = path.split(separator: "/").last else { return false }
        return name.hasPrefix(".") && name.hasSuffix(temporarySuffix) && name.count > temporarySuffix.count + 1
    }

    /// The ENI named in a managed file's marker, if any.
    public static func owner(of content: String) -> MACAddress? {
        guard isManaged(content), let first = content.split(separator: "\n", maxSplits: 1).first else { return nil }
        guard let r = first.firstRange(of: " for ") else { return nil }
        let rest = first[r.upperBound...].prefix { $0 != ";" }
        return try? MACAddress(rest)
    }
}

extension String {
    /// Replaces every occurrence of `target` (FoundationEssentials has no such method on String).
    public func replacingOccurrences(_ target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}

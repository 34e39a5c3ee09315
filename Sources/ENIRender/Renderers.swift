import ENIModel

/// Which files the agent writes.
public enum RendererKind: String, CaseIterable, Sendable, Codable {
    /// Files only where something reads them: `networkmanager` where NetworkManager runs, else
    /// `networkd` where systemd-networkd runs, else `ifcfg` where `/etc/sysconfig/network-scripts`
    /// exists (RHEL-family network-scripts), else `none`.
    /// Resolved against the system before use (`AgentConfig`'s renderer choice).
    case auto
    /// RHEL/CentOS network-scripts: `ifcfg-IF`, `route-IF`, `rule-IF`, plus the sysctl.d file.
    case ifcfg
    /// systemd-networkd: `05-eni-agent-IF.network` in `/etc/systemd/network`, plus the sysctl.d file.
    case networkd
    /// NetworkManager: `eni-agent-IF.nmconnection` (0600) in `/etc/NetworkManager/system-connections`,
    /// plus the sysctl.d file.
    case networkmanager
    /// No files at all: runtime state only.
    case none

    /// The renderer of a resolved kind (`auto` unresolved renders nothing).
    public func renderer(nmControlled: Bool) -> any FileRenderer {
        switch self {
        case .ifcfg: Renderers([IfcfgRenderer(nmControlled: nmControlled), SysctlRenderer()])
        case .networkd: Renderers([NetworkdRenderer(), SysctlRenderer()])
        case .networkmanager: Renderers([NetworkManagerRenderer(), SysctlRenderer()])
        case .none, .auto: Renderers([])
        }
    }
}

/// Several renderers as one; a path rendered twice is an error.
public struct Renderers: FileRenderer {
    public let parts: [any FileRenderer]
    public init(_ parts: [any FileRenderer]) { self.parts = parts }
    public var directories: [String] { parts.flatMap(\.directories) }
    public var files: [String] { parts.flatMap(\.files) }
    public func persistedSettings(_ files: [String: ObservedFile]) -> [SysctlSetting] {
        parts.flatMap { $0.persistedSettings(files) }
    }
    public func interface(ofPath path: String) -> String? { parts.lazy.compactMap { $0.interface(ofPath: path) }.first }
    /// The first part's that has one.
    public var ruleProtocol: UInt8? { parts.lazy.compactMap(\.ruleProtocol).first }
    public func declaredRules(_ files: [String: ObservedFile]) -> [Rule] { parts.flatMap { $0.declaredRules(files) } }
    /// The first part's that has one.
    public var routeProtocol: UInt8? { parts.lazy.compactMap(\.routeProtocol).first }
    public func declaredRoutes(_ files: [String: ObservedFile]) -> [Route] { parts.flatMap { $0.declaredRoutes(files) } }
    /// The first part's that is not the default.
    public func mode(ofPath path: String) -> UInt16 {
        parts.lazy.map { $0.mode(ofPath: path) }.first { $0 != FileMarker.defaultMode } ?? FileMarker.defaultMode
    }
    public func render(_ design: NetworkDesign) throws(ModelError) -> [String: String] {
        var out: [String: String] = [:]
        for p in parts {
            for (path, content) in try p.render(design) {
                guard out.updateValue(content, forKey: path) == nil else {
                    throw ModelError("two renderers write \(path)")
                }
            }
        }
        return out
    }
}

/// Shell-safe `KEY=value` lines, for files that network-scripts read with `.` (source).
public enum ShellValue {
    /// Quotes `value` so that `bash -c '. FILE'` yields exactly `value`. Rejects control characters
    /// (a newline would start a new assignment or command).
    public static func quote(_ value: String, for key: String) throws(ModelError) -> String {
        if let bad = value.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw ModelError("\(key): value \(quoted(value)) has a control character (U+\(String(bad.value, radix: 16))); not written")
        }
        let safe = value.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._:/@%+=,-".unicodeScalars.contains($0)
        }
        if safe && !value.isEmpty { return value }
        return "'" + value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    public static func assignment(_ key: String, _ value: String) throws(ModelError) -> String {
        "\(key)=\(try quote(value, for: key))"
    }
}

/// Interface names that may appear in a file name and in `ip` arguments unquoted.
func validateInterfaceName(_ name: String) throws(ModelError) {
    guard Link.isSafeName(name) else { throw ModelError("interface name \(quoted(name)) cannot be written to network files safely") }
}

/// RHEL/CentOS network-scripts files for each secondary ENI, so that the runtime state comes back
/// at boot without the agent: `ifcfg-IF` (addresses), `route-IF` and `rule-IF` (`ip route` /
/// `ip rule` argument lines, carrying the agent's protocol number; `ifup-routes` runs each line as
/// `ip -4 route add LINE`, `ip -4 rule add LINE`) and, for an ENI with IPv6, `route6-IF` and
/// `rule6-IF` (the same, run with `ip -6`). The primary ENI's `ifcfg` is never written.
public struct IfcfgRenderer: FileRenderer {
    public static let directory = "/etc/sysconfig/network-scripts"
    public var nmControlled: Bool
    public init(nmControlled: Bool = false) { self.nmControlled = nmControlled }

    public var directories: [String] { [Self.directory] }
    public var files: [String] { [] }

    /// `DIR/ifcfg-IF`, `DIR/route-IF`, `DIR/rule-IF`, `DIR/route6-IF`, `DIR/rule6-IF` -> IF.
    public func interface(ofPath path: String) -> String? {
        guard path.hasPrefix(Self.directory + "/") else { return nil }
        let name = path.dropFirst(Self.directory.count + 1)
        for kind in ["ifcfg-", "route-", "rule-", "route6-", "rule6-"] where name.hasPrefix(kind) {
            let iface = String(name.dropFirst(kind.count))
            return Link.isSafeName(iface) ? iface : nil
        }
        return nil
    }

    public func render(_ design: NetworkDesign) throws(ModelError) -> [String: String] {
        var out: [String: String] = [:]
        for d in design.interfaces where d.role == .secondary {
            try validateInterfaceName(d.name)
            let marker = FileMarker.line(owner: d.mac)
            var ifcfg = [marker]
            // An IPv6-only ENI: no IPADDR, so no IPv4 at all (`BOOTPROTO=none`).
            var ipv4: [(String, String)] = []
            if let v4 = d.eni.ipv4 {
                let len = String(v4.subnet.length)
                ipv4 = [("IPADDR", v4.primaryIP.description), ("PREFIX", len)]
                    + v4.secondaryIPs.enumerated().flatMap { i, ip in [("IPADDR\(i + 1)", ip.description), ("PREFIX\(i + 1)", len)] }
            }
            let fields: [(String, String)] = [
                ("DEVICE", d.name), ("HWADDR", d.mac.description), ("ONBOOT", "yes"), ("BOOTPROTO", "none"),
            ] + ipv4 + [("DEFROUTE", "no")] + Self.ipv6Fields(d) + [("NM_CONTROLLED", nmControlled ? "yes" : "no")]
            for (k, v) in fields { ifcfg.append(try ShellValue.assignment(k, v)) }
            out["\(Self.directory)/ifcfg-\(d.name)"] = ifcfg.joined(separator: "\n") + "\n"
            // `ifup-routes` runs the lines of `route-IF` / `rule-IF` with `ip -4`, those of
            // `route6-IF` / `rule6-IF` with `ip -6`: each family in its own file.
            for family in IPFamily.allCases {
                let suffix = family == .v4 ? "" : "6"
                let routes = d.routes.filter { $0.family == family }, rules = d.rules.filter { $0.family == family }
                // The IPv4 files of an ENI with IPv4 always (as before IPv6); the others where there
                // is something to say.
                guard (family == .v4 && d.eni.ipv4 != nil) || !routes.isEmpty || !rules.isEmpty else { continue }
                out["\(Self.directory)/route\(suffix)-\(d.name)"] = ([marker] + routes.map(\.description)).joined(separator: "\n") + "\n"
                out["\(Self.directory)/rule\(suffix)-\(d.name)"] = ([marker] + rules.map(\.description)).joined(separator: "\n") + "\n"
            }
        }
        return out
    }

    /// The IPv6 keys of an ENI with IPv6 (`ifup-ipv6`; NetworkManager's ifcfg-rh reads the same);
    /// none for one without, whose `ifcfg-IF` stays as it was before IPv6.
    /// - `IPV6INIT=yes`: `ifup-ipv6` configures the link.
    /// - `IPV6_AUTOCONF=no`: no SLAAC address and no router advertisements taken (`ifup-ipv6` sets
    ///   `autoconf` and `accept_ra` 0 on the link; ifcfg-rh: method `manual`). The kernel learns the
    ///   router all the same; the agent's sysctls keep advertisements out of the main table anyway.
    /// - `IPV6ADDR`, `IPV6ADDR_SECONDARIES`: the addresses, /128 each.
    /// - `IPV6_DEFROUTE=no`: for ifcfg-rh (`never-default`). `ifup-ipv6` adds a default route to the
    ///   main table only from `IPV6_DEFAULTGW` / `IPV6_DEFAULTDEV`, which this file never sets; the
    ///   ENI's default route is in its own table (`route6-IF`). No `DHCPV6C`: no DHCPv6 client.
    static func ipv6Fields(_ d: InterfaceDesign) -> [(String, String)] {
        let v6 = d.addresses.filter { $0.family == .v6 }.map { "\($0.address)/\($0.prefixLength)" }
        guard let first = v6.first else { return [] }
        return [("IPV6INIT", "yes"), ("IPV6_AUTOCONF", "no"), ("IPV6ADDR", first)]
            + (v6.count > 1 ? [("IPV6ADDR_SECONDARIES", v6.dropFirst().joined(separator: " "))] : [])
            + [("IPV6_DEFROUTE", "no")]
    }
}

/// systemd-networkd files for each secondary ENI, so that networkd brings the runtime state back at
/// boot and, holding the same objects, keeps it when it restarts or reloads:
/// `05-eni-agent-IF.network`, matched by MAC, with the ENI's addresses, the routes of its table
/// (carrying the agent's protocol number: networkd's route is the agent's route) and its rules
/// (networkd gives them `static`, `ruleProtocol`), of both families. The primary ENI gets no file.
public struct NetworkdRenderer: FileRenderer {
    public static let directory = "/etc/systemd/network"
    /// The file systemd-networkd keeps while it runs: `renderer = "auto"` picks this renderer
    /// when it exists.
    public static let runningMarker = "/run/systemd/netif/state"
    /// networkd applies to a link the first `.network` file, in lexical order of file names, that
    /// matches it: `05-` comes before cloud images' own (netplan's `10-netplan-*.network`, Amazon
    /// Linux's `80-ec2.network`), which may match the ENI by name.
    static let namePrefix = "05-eni-agent-"
    static let nameSuffix = ".network"
    /// `RTPROT_STATIC`: what networkd gives every rule of a `[RoutingPolicyRule]` section
    /// (`routing_policy_rule_new_static`, src/network/networkd-routing-policy-rule.c), which has no
    /// `Protocol=`.
    public static let staticProtocol: UInt8 = 4

    public init() {}
    public var directories: [String] { [Self.directory] }
    public var files: [String] { [] }
    public var ruleProtocol: UInt8? { Self.staticProtocol }

    public static func path(_ interface: String) -> String { "\(directory)/\(namePrefix)\(interface)\(nameSuffix)" }

    /// The interface of a path this renderer writes (`DIR/05-eni-agent-IF.network`, IF safe).
    public func interface(ofPath path: String) -> String? { Self.interface(ofPath: path) }

    public static func interface(ofPath path: String) -> String? {
        let prefix = directory + "/" + namePrefix
        guard path.hasPrefix(prefix), path.hasSuffix(nameSuffix) else { return nil }
        let name = String(path.dropFirst(prefix.count).dropLast(nameSuffix.count))
        return Link.isSafeName(name) ? name : nil
    }

    /// What networkd does on the link besides the sections below: nothing of its own (no DHCP, no
    /// router advertisements, no IPv4 link-local), and nothing undone of the agent's.
    static let network = [
        "[Network]",
        // The addresses are the metadata's, set statically: no DHCP client on the ENI.
        "DHCP=no",
        // networkd's own router advertisement client off: it would add a default route (and
        // addresses from the advertised prefixes) to the main table. The ENI's IPv6 addresses are
        // the metadata's, set statically below, and its default route is in its own table; the
        // agent's sysctls keep the kernel's handling of advertisements out of the main table too.
        "IPv6AcceptRA=no",
        // No IPv4 link-local address (169.254.0.0/16) and route; IPv6 link-local, as the kernel
        // gives it anyway.
        "LinkLocalAddressing=ipv6",
        // Configure the link once it is up, carrier or not, as the agent does: the state after a
        // boot is the one the agent would set.
        "ConfigureWithoutCarrier=yes",
        // On a carrier loss networkd would otherwise remove the addresses and routes (the agent's
        // own objects) and add them back once the carrier returns. It follows
        // ConfigureWithoutCarrier= since systemd 246; said for older ones (Ubuntu 20.04: 245).
        "IgnoreCarrierLoss=yes",
        // When networkd (re)configures the link (start, restart, reload), it keeps the addresses
        // (and routes of protocol static) it finds there instead of removing those its copy of
        // this file does not declare: an IP the agent has just added while networkd still holds
        // the older file, or one it could not write. Removing what the metadata no longer lists
        // is the agent's job.
        "KeepConfiguration=static",
    ]

    static let link = [
        "[Link]",
        // The agent holds network-online.target until the ENIs present at start are configured
        // (READY=1, at most ready_timeout) and starts after systemd-networkd-wait-online: without
        // this, a secondary ENI without carrier would hold both for wait-online's 2 minutes.
        "RequiredForOnline=no",
    ]

    public func render(_ design: NetworkDesign) throws(ModelError) -> [String: String] {
        var out: [String: String] = [:]
        for d in design.interfaces where d.role == .secondary {
            try validateInterfaceName(d.name)
            var sections = [["[Match]", "MACAddress=\(d.mac)"], Self.link, Self.network]
            sections += d.addresses.map(Self.section)
            for r in d.routes { sections.append(try Self.section(r, device: d.name)) }
            for r in d.rules { sections.append(try Self.section(r)) }
            out[Self.path(d.name)] = FileMarker.line(owner: d.mac) + "\n"
                + sections.map { $0.joined(separator: "\n") + "\n" }.joined(separator: "\n")
        }
        return out
    }

    /// An `[Address]`. An IPv6 one without duplicate address detection (`IFA_F_NODAD`), as the agent
    /// adds it: the cloud assigns each address once, and one on its way through detection does not
    /// work yet. An IPv4 one as networkd's default has it (no conflict detection).
    static func section(_ a: InterfaceAddress) -> [String] {
        ["[Address]", "Address=\(a.address)/\(a.prefixLength)"] + (a.family == .v6 ? ["DuplicateAddressDetection=none"] : [])
    }

    /// A `[Route]` on the matched link: `Protocol=` makes networkd's route the agent's very route.
    /// `Metric=` only where it is not the family's default (IPv4 0; IPv6 1024, which networkd gives
    /// an IPv6 route without one). An IPv6 route has no scope (networkd ignores `Scope=` there).
    static func section(_ r: Route, device: String) throws(ModelError) -> [String] {
        guard r.device == device else { throw ModelError("route '\(r)' is not through \(device); not written to its .network file") }
        guard r.family == .v4 || r.scope == .universe else { throw ModelError("route '\(r)' cannot be written as a [Route]: an IPv6 route has no scope") }
        guard r.gateway.map({ $0.family == r.family }) ?? true else { throw ModelError("route '\(r)' has a gateway of another family") }
        var s = ["[Route]"]
        // Without Destination= a route is a default route; networkd tells its family by the gateway.
        if r.destination.length != 0 || r.gateway == nil { s.append("Destination=\(r.destination)") }
        if let g = r.gateway { s.append("Gateway=\(g)") }
        switch r.scope {
        case .universe: break
        case .link: s.append("Scope=link")
        case .host: s.append("Scope=host")
        }
        s += ["Table=\(r.table)", "Protocol=\(r.proto)"]
        if r.metric != Route.defaultMetric(r.family) { s.append("Metric=\(r.metric)") }
        return s
    }

    static let ruleKeys: Set<Substring> = ["From", "Table", "Priority"]

    /// A `[RoutingPolicyRule]`: exactly the keys `declaredRules` reads back. networkd takes an
    /// IPv6 rule's family from its `From=` (no `Family=`).
    static func section(_ r: Rule) throws(ModelError) -> [String] {
        guard let source = r.source, !r.hasOtherSelectors else { throw ModelError("rule '\(r)' cannot be written as a [RoutingPolicyRule]") }
        return ["[RoutingPolicyRule]", "From=\(source)", "Table=\(r.table)", "Priority=\(r.priority)"]
    }

    public func declaredRules(_ files: [String: ObservedFile]) -> [Rule] {
        files.sorted { $0.key < $1.key }.flatMap { path, file -> [Rule] in
            guard Self.interface(ofPath: path) != nil, let content = file.content, FileMarker.isManaged(content) else { return [] }
            return Self.rules(in: content)
        }
    }

    /// The `[RoutingPolicyRule]` sections of a file as this renderer writes them: `KEY=value` lines
    /// with the three keys, once each, and values it would write (`From=` an IPv4 or IPv6 prefix in
    /// its canonical text: the rule is of its family); any other section declares nothing. A line
    /// ending in `\` (networkd joins it with the next) makes the file declare nothing.
    static func rules(in content: String) -> [Rule] {
        let lines = content.split(separator: "\n", omittingEmptySubsequences: false)
        guard !lines.contains(where: { $0.hasSuffix("\\") }) else { return [] }
        var out: [Rule] = []
        /// The `[RoutingPolicyRule]` section being read, by key; nil outside one, and from its first
        /// line the renderer would not write on.
        var section: [Substring: Substring]?
        func close() {
            defer { section = nil }
            guard let v = section, v.count == ruleKeys.count, let from = v["From"].flatMap(CanonicalText.prefix),
                  let table = v["Table"].flatMap({ UInt32(decimal: $0) }),
                  let priority = v["Priority"].flatMap({ UInt32(decimal: $0) }) else { return }
            out.append(Rule(priority: priority, source: from, table: table, proto: staticProtocol))
        }
        for line in lines {
            if line.hasPrefix("[") {
                close()
                if line == "[RoutingPolicyRule]" { section = [:] }
                continue
            }
            guard section != nil, !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix(";") else { continue }
            let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count != 2 || !ruleKeys.contains(kv[0]) || section?.updateValue(kv[1], forKey: kv[0]) != nil { section = nil }
        }
        close()
        return out
    }
}

/// Addresses and prefixes of either family as the renderers write them, read back: only the
/// canonical text (`IPv4Address.description`; RFC 5952 for IPv6) of a valid value.
enum CanonicalText {
    static func address(_ s: Substring) -> IPAddress? {
        let a: IPAddress? = s.contains(":") ? (try? IPv6Address(s)).map { .v6($0) } : (try? IPv4Address(s)).map { .v4($0) }
        return a.flatMap { $0.description == s ? $0 : nil }
    }

    static func prefix(_ s: Substring) -> IPPrefix? {
        let p: IPPrefix? = s.contains(":") ? (try? IPv6Prefix(s)).map { .v6($0) } : (try? IPv4Prefix(s)).map { .v4($0) }
        return p.flatMap { $0.description == s ? $0 : nil }
    }
}

extension FixedWidthInteger {
    /// A number as the renderers write it: decimal digits only, no sign, no leading zero.
    init?(decimal s: Substring) {
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), !(s.count > 1 && s.first == "0") else { return nil }
        self.init(s)
    }
}

/// `/etc/sysctl.d/90-eni-agent.conf`: the rp_filter settings and the per-ENI IPv6 settings
/// (`net.ipv6.conf.IF.LEAF`), so they hold after a reboot (systemd's udev rule applies an
/// interface's keys when its link appears, before a network manager configures it). Each
/// setting of an ENI follows a comment naming it (`# ENI 52:54:00:00:02:0a`), so that the line of
/// an ENI left alone is kept whatever its link is called now.
public struct SysctlRenderer: FileRenderer {
    public static let path = "/etc/sysctl.d/90-eni-agent.conf"
    static let ownerPrefix = "# ENI "
    public init() {}
    public var directories: [String] { [] }
    public var files: [String] { [Self.path] }

    static func isSafe(_ s: SysctlSetting) -> Bool {
        !s.key.isEmpty && !s.value.isEmpty
            && s.key.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7f && $0 != "=" })
            && s.value.allSatisfy { $0.isASCII && $0.isNumber }
    }

    public func render(_ design: NetworkDesign) throws(ModelError) -> [String: String] {
        guard !design.sysctls.isEmpty else { return [:] }
        var lines = [FileMarker.line(owner: nil)]
        for s in design.sysctls {
            guard Self.isSafe(s) else { throw ModelError("sysctl \(quoted(s.key)) = \(quoted(s.value)) cannot be written safely") }
            if let owner = s.owner { lines.append(Self.ownerPrefix + owner.description) }
            lines.append("\(s.key) = \(s.value)")
        }
        return [Self.path: lines.joined(separator: "\n") + "\n"]
    }

    /// The settings of the file as this renderer writes it; lines it would not write are ignored.
    public func persistedSettings(_ files: [String: ObservedFile]) -> [SysctlSetting] {
        guard let content = files[Self.path]?.content, FileMarker.isManaged(content) else { return [] }
        var out: [SysctlSetting] = []
        var owner: MACAddress?
        for line in content.split(separator: "\n").dropFirst() {
            if line.hasPrefix(Self.ownerPrefix) {
                owner = try? MACAddress(line.dropFirst(Self.ownerPrefix.count))
                continue
            }
            defer { owner = nil }
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let s = SysctlSetting(key: parts[0].trimmingSpaces, value: parts[1].trimmingSpaces, owner: owner)
            if Self.isSafe(s) { out.append(s) }
        }
        return out
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

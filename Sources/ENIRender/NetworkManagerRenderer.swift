import ENIModel

/// NetworkManager keyfiles for each secondary ENI, so that NetworkManager brings the runtime state
/// back at boot and, holding the same objects, keeps it when it restarts or reactivates the
/// profile: `eni-agent-IF.nmconnection` in `/etc/NetworkManager/system-connections`, matched by
/// MAC, with the ENI's addresses, the routes of its table and its rules (IPv4 in `[ipv4]`, IPv6 in
/// `[ipv6]`, each group's keys numbered from 1 as NetworkManager does). NetworkManager gives the
/// routes and the rules of a profile the protocol `static` (a keyfile cannot say another), so the
/// agent's own routes and rules carry `static` too under this renderer (`routeProtocol`,
/// `ruleProtocol`): NetworkManager's copy and the agent's are one kernel object. The primary ENI
/// gets no file. Files are 0600: NetworkManager ignores a keyfile others may read.
public struct NetworkManagerRenderer: FileRenderer {
    public static let directory = "/etc/NetworkManager/system-connections"
    /// The directory where NetworkManager keeps each device's state while it runs (it makes it at
    /// start; nothing else does, and under systemd it has no pid file): `renderer = "auto"` picks
    /// this renderer when it exists.
    public static let runningMarker = "/run/NetworkManager/devices"
    static let namePrefix = "eni-agent-"
    /// The keyfile plugin's own extension: files it writes have it, and files with it are read.
    static let nameSuffix = ".nmconnection"
    /// `RTPROT_STATIC`: what NetworkManager gives the routes of a profile (keyfile routes have no
    /// protocol attribute; `nmp_utils_ip_config_source_coerce_to_rtprot`) and, since 1.40.4 (1.42
    /// and backported), its routing rules (`nm_ip_routing_rule_to_platform`,
    /// src/core/NetworkManagerUtils.c; 0, unspec, before).
    public static let staticProtocol: UInt8 = 4
    /// NetworkManager refuses (`nms_keyfile_utils_check_file_permissions`) a keyfile with any
    /// group or other permission bit.
    public static let fileMode: UInt16 = 0o600
    /// The first 20 hex digits of every profile's UUID; the MAC's 12 digits complete it. A
    /// version-4-shaped UUID (`4` and `8` at the version and variant positions), `enia` `ge` `Nt`
    /// in ASCII: the same MAC always gives the same profile, whatever its interface is called.
    static let uuidPrefix = "656e6961-6765-4e74-8000-"

    public init() {}
    public var directories: [String] { [Self.directory] }
    public var files: [String] { [] }
    public var ruleProtocol: UInt8? { Self.staticProtocol }
    public var routeProtocol: UInt8? { Self.staticProtocol }

    public static func path(_ interface: String) -> String { "\(directory)/\(namePrefix)\(interface)\(nameSuffix)" }

    /// The interface of a path this renderer writes (`DIR/eni-agent-IF.nmconnection`, IF safe).
    public func interface(ofPath path: String) -> String? { Self.interface(ofPath: path) }

    public static func interface(ofPath path: String) -> String? {
        let prefix = directory + "/" + namePrefix
        guard path.hasPrefix(prefix), path.hasSuffix(nameSuffix) else { return nil }
        let name = String(path.dropFirst(prefix.count).dropLast(nameSuffix.count))
        return Link.isSafeName(name) ? name : nil
    }

    /// 0600 for the keyfiles; the default for any other path.
    public func mode(ofPath path: String) -> UInt16 {
        Self.interface(ofPath: path) != nil ? Self.fileMode : FileMarker.defaultMode
    }

    /// The profile's UUID: the fixed prefix and the MAC's 12 hex digits.
    public static func uuid(_ mac: MACAddress) -> String {
        uuidPrefix + mac.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    public func render(_ design: NetworkDesign) throws(ModelError) -> [String: String] {
        var out: [String: String] = [:]
        for d in design.interfaces where d.role == .secondary {
            // The name goes into `id=` and the file name: only letters, digits, `_.-` (no newline,
            // no `\`, no leading space, nothing GKeyFile would unescape or trim).
            try validateInterfaceName(d.name)
            let connection = [
                "[connection]",
                "id=\(Self.namePrefix)\(d.name)",
                // Fixed per ENI: NetworkManager knows the profile again after a rewrite or a rename.
                "uuid=\(Self.uuid(d.mac))",
                "type=ethernet",
                // Activated on any device with the MAC below, at boot and on hot-plug.
                "autoconnect=true",
                // Before other profiles that may match the device (the image's or cloud-init's,
                // NetworkManager's own "Wired connection N" at 0): theirs would run DHCP on it.
                "autoconnect-priority=100",
            ]
            // Matched by MAC only (no `interface-name=`): the profile follows the ENI whatever udev
            // names its link. NetworkManager writes the MAC in upper case.
            let ethernet = ["[ethernet]", "mac-address=\(d.mac.description.uppercased())"]
            let ipv4 = ["[ipv4]"] + (try Self.ipLines(d, .v4))
            let ipv6 = ["[ipv6]"] + (try Self.ipLines(d, .v6))
            out[Self.path(d.name)] = FileMarker.line(owner: d.mac) + "\n"
                + [connection, ethernet, ipv4, ipv6].map { $0.joined(separator: "\n") + "\n" }.joined(separator: "\n")
        }
        return out
    }

    /// The `[ipv4]` or `[ipv6]` group's keys after its name: the ENI's addresses, routes and rules
    /// of that family.
    /// - IPv4: `method=manual` (the metadata's addresses, set statically: no DHCP client);
    ///   `method=disabled` for an IPv6-only ENI (no IPv4 at all, no DHCP client either).
    /// - IPv6 of an ENI with IPv6: `method=manual` as well: the metadata's addresses (/128), and
    ///   neither NetworkManager's router advertisement client (it would add a default route to the
    ///   main table, and SLAAC addresses) nor DHCPv6; NetworkManager sets the link's `accept_ra` 0.
    /// - IPv6 of an ENI without: `method=link-local`: the link-local address the kernel gives
    ///   anyway, no router advertisements, no DHCPv6.
    ///
    /// With addresses, `never-default=true`: no default route in the main table from this profile,
    /// whatever else it says; the ENI's default route is in its own table.
    static func ipLines(_ d: InterfaceDesign, _ family: IPFamily) throws(ModelError) -> [String] {
        let addresses = d.addresses.filter { $0.family == family }
        guard !addresses.isEmpty else { return [family == .v4 ? "method=disabled" : "method=link-local"] }
        var lines = ["method=manual"]
        for (i, a) in addresses.enumerated() { lines.append("address\(i + 1)=\(a.address)/\(a.prefixLength)") }
        lines.append("never-default=true")
        for (i, r) in d.routes.filter({ $0.family == family }).enumerated() {
            lines += try routeLines(r, index: i + 1, device: d.name)
        }
        for (i, r) in d.rules.filter({ $0.family == family }).enumerated() {
            lines.append("routing-rule\(i + 1)=\(try ruleText(r))")
        }
        return lines
    }

    /// The group of a family's keys: `[ipv4]`, `[ipv6]`.
    static func group(_ family: IPFamily) -> Substring { family == .v4 ? "[ipv4]" : "[ipv6]" }

    /// `routeN=DEST/LEN,GATEWAY,METRIC` and `routeN_options=table=T` for a route through the
    /// profile's device, in the group of its family. The gateway is written `0.0.0.0` (`::`) where
    /// there is none (NetworkManager's own writer does so whenever a metric follows); the metric is
    /// always written, as without it NetworkManager would use the profile's (ethernet: 100), not
    /// the agent's (IPv4 0, IPv6 1024: the kernel's defaults). No `scope` option: NetworkManager
    /// gives an IPv4 route without gateway scope link and one with a gateway scope universe, as the
    /// agent's routes have (`_ip_route_scope_inv_get_normalized`); an IPv6 route has no scope
    /// (universe).
    static func routeLines(_ r: Route, index: Int, device: String) throws(ModelError) -> [String] {
        let scope: RouteScope = r.family == .v6 || r.gateway != nil ? .universe : .link
        guard r.device == device, r.scope == scope, r.gateway.map({ $0.family == r.family }) ?? true else {
            throw ModelError("route '\(r)' cannot be written to \(device)'s keyfile")
        }
        return ["route\(index)=\(routeText(r))", "route\(index)_options=\(routeOptions(r))"]
    }

    static func routeText(_ r: Route) -> String {
        "\(r.destination),\(r.gateway?.description ?? (r.family == .v4 ? "0.0.0.0" : "::")),\(r.metric)"
    }
    static func routeOptions(_ r: Route) -> String { "table=\(r.table)" }

    /// A routing rule as NetworkManager writes it (`nm_ip_routing_rule_to_string`: a /32 or /128
    /// source without its length, no family: the group says it): exactly what `declaredRules`
    /// reads back.
    static func ruleText(_ r: Rule) throws(ModelError) -> String {
        guard let source = r.source, source.isHost, !r.hasOtherSelectors else {
            throw ModelError("rule '\(r)' cannot be written as a routing-rule")
        }
        return "priority \(r.priority) from \(source.network) table \(r.table)"
    }

    /// The `[ipv4]` and `[ipv6]` keys of the agent's keyfiles (marked, at paths it writes), by
    /// group and key; nil for a file GKeyFile might read otherwise than this renderer wrote it: a
    /// group or key twice, a line that is not `[group]`, `key=value` or a comment.
    static func ipKeys(_ files: [String: ObservedFile]) -> [(device: String, keys: [Substring: [Substring: Substring]])] {
        files.sorted { $0.key < $1.key }.compactMap { path, file in
            guard let device = interface(ofPath: path), let content = file.content, FileMarker.isManaged(content) else { return nil }
            var groups = Set<Substring>()
            var group: Substring?
            var keys: [Substring: [Substring: Substring]] = [:]
            for line in content.split(separator: "\n") where !line.hasPrefix("#") {
                if line.hasPrefix("[") {
                    guard line.hasSuffix("]"), groups.insert(line).inserted else { return nil }
                    group = line
                    continue
                }
                let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let g = group, kv.count == 2, !kv[0].isEmpty,
                      kv[0].unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" })
                else { return nil }
                if g == "[ipv4]" || g == "[ipv6]", keys[g, default: [:]].updateValue(kv[1], forKey: kv[0]) != nil { return nil }
            }
            return (device, keys)
        }
    }

    /// The `routing-ruleN=` lines of the agent's keyfiles, each as this renderer writes it
    /// (`ruleText`, byte for byte) in the group of its family, with NetworkManager's protocol; any
    /// other value declares nothing. A file's IPv4 rules, then its IPv6 ones.
    public func declaredRules(_ files: [String: ObservedFile]) -> [Rule] {
        Self.ipKeys(files).flatMap { _, groups in
            IPFamily.allCases.flatMap { family in
                (groups[Self.group(family)] ?? [:]).compactMap { key, value -> (Int, Rule)? in
                    guard key.hasPrefix("routing-rule"), let n = Self.index(key.dropFirst("routing-rule".count)),
                          let r = Self.rule(value, family) else { return nil }
                    return (n, r)
                }.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
    }

    static func rule(_ text: Substring, _ family: IPFamily) -> Rule? {
        let w = text.split(separator: " ", omittingEmptySubsequences: false)
        guard w.count == 6, w[0] == "priority", w[2] == "from", w[4] == "table",
              let priority = UInt32(decimal: w[1]), let table = UInt32(decimal: w[5]),
              let ip = CanonicalText.address(w[3]), ip.family == family else { return nil }
        let r = Rule(priority: priority, source: IPPrefix(host: ip), table: table, proto: staticProtocol)
        return (try? ruleText(r)) == String(text) ? r : nil
    }

    /// The `routeN=` lines of the agent's keyfiles with their `routeN_options=`, each pair as this
    /// renderer writes it (`routeText`, `routeOptions`, byte for byte) in the group of its family,
    /// through the interface the file is named after, with NetworkManager's protocol; any other
    /// pair declares nothing. A file's IPv4 routes, then its IPv6 ones.
    public func declaredRoutes(_ files: [String: ObservedFile]) -> [Route] {
        Self.ipKeys(files).flatMap { device, groups in
            IPFamily.allCases.flatMap { family in
                let keys = groups[Self.group(family)] ?? [:]
                return keys.compactMap { key, value -> (Int, Route)? in
                    guard key.hasPrefix("route"), let n = Self.index(key.dropFirst("route".count)),
                          let options = keys[Substring("\(key)_options")],
                          let r = Self.route(value, options: options, device: device, family) else { return nil }
                    return (n, r)
                }.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
    }

    static func route(_ text: Substring, options: Substring, device: String, _ family: IPFamily) -> Route? {
        let f = text.split(separator: ",", omittingEmptySubsequences: false)
        let o = options.split(separator: "=", omittingEmptySubsequences: false)
        guard f.count == 3, o.count == 2, o[0] == "table", let table = UInt32(decimal: o[1]),
              let destination = CanonicalText.prefix(f[0]), destination.family == family,
              let gateway = CanonicalText.address(f[1]), gateway.family == family, let metric = UInt32(decimal: f[2]) else { return nil }
        let via: IPAddress? = gateway.bytes.allSatisfy { $0 == 0 } ? nil : gateway
        let r = Route(table: table, destination: destination, gateway: via, device: device,
                      scope: family == .v4 && via == nil ? .link : .universe, proto: staticProtocol, metric: metric)
        return routeText(r) == String(text) && routeOptions(r) == String(options) ? r : nil
    }

    /// `N` of `routeN` / `routing-ruleN`: a number as the renderer writes it, from 1.
    static func index(_ s: Substring) -> Int? { Int(decimal: s).flatMap { $0 > 0 ? $0 : nil } }
}

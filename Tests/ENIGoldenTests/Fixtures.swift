import ENIModel
import ENIPlanner
import ENIRender
@testable import ENIPlannerTests
import Foundation

/// Observed state in a readable test format: kernel objects in `ip` syntax.
struct ObservedFixture: Decodable {
    struct LinkFixture: Decodable {
        var name: String
        var mac: String?
        var up: Bool?
        var kind: String?
        var master: Int32?
    }
    var links: [LinkFixture] = []
    var addresses: [String]? = []
    var routes: [String]? = []
    var rules: [String]? = []
    /// `fe80::1 dev eth1`: IPv6 router neighbours.
    var routers: [String]? = []
    var sysctls: [String: String]? = [:]
    var files: [String: String]? = [:]
    var symlinks: [String]? = []
    var config: ConfigFixture?

    struct ConfigFixture: Decodable {
        var rp_filter: String?
        var interfaces: [String]?
        var force: Bool?
        var renderer: String?
        var table_base: UInt32?
        var rule_priority_base: UInt32?
        var exclude_interfaces: [String]?
        var exclude_macs: [String]?
    }

    func state() throws -> ObservedState {
        var s = ObservedState()
        for (i, l) in links.enumerated() {
            s.links.append(Link(index: Int32(i + 1), name: l.name, mac: try l.mac.map { try MACAddress($0) },
                                isUp: l.up ?? true, kind: l.kind, master: l.master))
        }
        s.addresses = try (addresses ?? []).map(parseAddress)
        s.routes = try (routes ?? []).map(parseRoute)
        s.rules = try (rules ?? []).map(parseRule)
        s.routers = try (routers ?? []).map { text in
            let t = text.split(separator: " ")
            guard t.count == 3, t[1] == "dev" else { throw FixtureError(description: "bad router \(text)") }
            return IPv6Router(device: String(t[2]), address: try IPv6Address(t[0]))
        }
        s.sysctls = sysctls ?? [:]
        for (p, c) in files ?? [:] { s.files[p] = ObservedFile(.regular(content: c)) }
        for p in symlinks ?? [] { s.files[p] = ObservedFile(.symlink) }
        return s
    }

    func plannerConfig() -> PlannerConfig {
        var c = PlannerConfig()
        if let m = config?.rp_filter { c.rpFilter = RPFilterMode(rawValue: m)! }
        if let i = config?.interfaces { c.interfaces = Set(i) }
        if let f = config?.force { c.force = f }
        if let t = config?.table_base { c.tableBase = t }
        if let p = config?.rule_priority_base { c.priorityBase = p }
        if let x = config?.exclude_interfaces { c.exclusions.interfaces = x }
        if let m = config?.exclude_macs { c.exclusions.macs = Set(m.map { try! MACAddress($0) }) }
        return c
    }

    var renderer: any FileRenderer { RendererKind(rawValue: config?.renderer ?? "ifcfg")!.renderer(nmControlled: false) }
}

struct FixtureError: Error, CustomStringConvertible { var description: String }

/// An IPv4 or IPv6 address, by its text.
func parseIP(_ s: some StringProtocol) throws -> IPAddress {
    s.contains(":") ? .v6(try IPv6Address(s)) : .v4(try IPv4Address(s))
}

/// An IPv4 or IPv6 prefix; a bare address is a host prefix.
func parsePrefix(_ s: String) throws -> IPPrefix {
    if s.contains(":") { return .v6(try IPv6Prefix(s.contains("/") ? s : s + "/128")) }
    return .v4(try IPv4Prefix(s.contains("/") ? s : s + "/32"))
}

/// `10.0.2.10/24 dev eth1 [secondary]`, `2001:db8::10/128 dev eth1 [tentative]`
func parseAddress(_ s: String) throws -> InterfaceAddress {
    let t = s.split(separator: " ").map(String.init)
    guard t.count >= 3, t[1] == "dev" else { throw FixtureError(description: "bad address \(s)") }
    let parts = t[0].split(separator: "/")
    return InterfaceAddress(address: try parseIP(parts[0]), prefixLength: Int(parts[1])!, device: t[2],
                            isSecondary: t.contains("secondary"), isTentative: t.contains("tentative"))
}

/// `ip route` syntax as `Route.description` prints it: `DST [via GW] [dev IF] [scope link] table T proto P [metric M]`;
/// an IPv6 `default` has an IPv6 gateway or begins `-6`. An IPv6 route's metric is 1024 unless it says otherwise.
func parseRoute(_ s: String) throws -> Route {
    var t = s.split(separator: " ").map(String.init)[...]
    let v6 = t.first == "-6" || s.contains(":")
    if t.first == "-6" { t.removeFirst() }
    let dstText = t.removeFirst()
    let dst = dstText == "default" ? IPPrefix.any(v6 ? .v6 : .v4) : try parsePrefix(dstText)
    var r = Route(table: 254, destination: dst, device: nil, proto: 0)
    while let k = t.popFirst() {
        guard let v = t.popFirst() else { throw FixtureError(description: "bad route \(s)") }
        switch k {
        case "via": r.gateway = try parseIP(v)
        case "dev": r.device = v
        case "scope": r.scope = v == "link" ? .link : v == "host" ? .host : .universe
        case "table": r.table = UInt32(v)!
        case "proto": r.proto = UInt8(v)!
        case "metric": r.metric = UInt32(v)!
        default: throw FixtureError(description: "bad route \(s)")
        }
    }
    return r
}

/// `[-6] from IP[/LEN]|all lookup T priority P protocol N [other]`
func parseRule(_ s: String) throws -> Rule {
    var t = s.split(separator: " ").map(String.init)[...]
    var r = Rule(priority: 0, source: nil, table: 0, proto: 0)
    while let k = t.popFirst() {
        if k == "other" { r.hasOtherSelectors = true; continue }
        if k == "-6" { r.family = .v6; continue }
        guard let v = t.popFirst() else { throw FixtureError(description: "bad rule \(s)") }
        switch k {
        case "from":
            r.source = v == "all" ? nil : try parsePrefix(v)
            if let f = r.source?.family { r.family = f }
        case "lookup": r.table = UInt32(v)!
        case "priority": r.priority = UInt32(v)!
        case "protocol": r.proto = UInt8(v)!
        default: throw FixtureError(description: "bad rule \(s)")
        }
    }
    return r
}

/// The golden text of a plan: ENI states, problems, then every action with its diff.
func goldenText(_ plan: Plan) -> String {
    var out = "## enis\n"
    for e in plan.enis {
        switch e.state {
        case .managed(let d):
            out += "\(e.mac) managed \(d.name) \(d.role.rawValue)" + (d.table.map { " table \($0) priority \(d.priority!)" } ?? "")
                + (d.eni.ipv4 == nil ? " ipv6-only" : "") + (d.ipv6Held.map { " ipv6 held (\($0))" } ?? "") + "\n"
        case .waiting: out += "\(e.mac) waiting\n"
        case .settling(let d): out += "\(e.mac) settling \(d)\n"
        case .unknown(let r): out += "\(e.mac) unknown: \(r)\n"
        case .skipped(let d): out += "\(e.mac) skipped \(d)\n"
        case .excluded(let d): out += "\(e.mac) excluded \(d ?? "-")\n"
        }
    }
    out += "## problems\n"
    for p in plan.problems { out += "\(p)\n" }
    out += "## actions\n"
    for a in plan.actions {
        out += "[\(a.interface ?? "-")] \(a.change.command)\n"
        if let d = a.change.unifiedDiff { out += d }
    }
    return out
}

/// What the renderers' tests start from.
enum RendererFixtures {
    /// The design of the eight-secondaries machine (8 × 30 IPs), as the planner decides it.
    static func eightSecondaries(_ renderer: any FileRenderer) throws -> NetworkDesign {
        let (instance, state) = try SafetyChecks.eightSecondaries()
        return Planner.plan(desired: instance, observed: state, config: PlannerConfig(), renderer: renderer).design
    }

    static func observed(_ files: [String: String]) -> [String: ObservedFile] { files.mapValues { ObservedFile(.regular(content: $0)) } }

    /// ENI 52:54:00:00:02:0a (10.0.2.10, .11) as a secondary at `table` (its rule priority too).
    static func oneSecondary(name: String, table: UInt32, ruleProto: UInt8? = nil, routeProto: UInt8? = nil) throws -> InterfaceDesign {
        let eni = try ENI(mac: MACAddress("52:54:00:00:02:0a"), primaryIP: IPv4Address("10.0.2.10"),
                          secondaryIPs: [IPv4Address("10.0.2.11")], subnet: IPv4Prefix("10.0.2.0/24"), gateway: IPv4Address("10.0.2.1"))
        return InterfaceDesign(name: name, role: .secondary, eni: eni, table: table, priority: table, proto: 234,
                               ruleProto: ruleProto, routeProto: routeProto)
    }

    /// `oneSecondary` with IPv6 in 2001:db8:2::/64: `addresses` (`::10`, `::11`, `::12` for a
    /// dual-stack ENI whose router the metadata names, 2001:db8:2::1, as Alibaba's does), or with
    /// `routerFromAdvertisements` a router the metadata does not name (AWS) and the link's router
    /// advertisements do: a link-local one.
    static func dualStack(name: String, table: UInt32, ruleProto: UInt8? = nil, routeProto: UInt8? = nil,
                          addresses: [String] = ["2001:db8:2::10", "2001:db8:2::11", "2001:db8:2::12"],
                          routerFromAdvertisements: String? = nil) throws -> InterfaceDesign {
        var d = try oneSecondary(name: name, table: table, ruleProto: ruleProto, routeProto: routeProto)
        let metadataGateway = routerFromAdvertisements == nil ? try IPv6Address("2001:db8:2::1") : nil
        d.eni.ipv6 = try ENIIPv6(addresses: addresses.map { try IPv6Address($0) }, subnet: IPv6Prefix("2001:db8:2::/64"),
                                 gateway: metadataGateway, name: "ENI \(d.mac)")
        d.ipv6Gateway = try metadataGateway ?? IPv6Address(routerFromAdvertisements!)
        return d
    }

    /// The ENI of `dualStack` with one IPv6 address and the link-local router fe80::1:ff:fe00:1 its
    /// router advertisements name.
    static func linkLocalRouter(name: String, table: UInt32, ruleProto: UInt8? = nil, routeProto: UInt8? = nil) throws -> InterfaceDesign {
        try dualStack(name: name, table: table, ruleProto: ruleProto, routeProto: routeProto, addresses: ["2001:db8:2::20"],
                      routerFromAdvertisements: "fe80::1:ff:fe00:1")
    }

    /// A machine of two ENIs: eth0 (the primary, 10.0.1.10) and eth1 (10.0.2.10, .11, down), eth1
    /// with IPv6 (2001:db8:2::10, ::11), its router the metadata's (2001:db8:2::1) or, with
    /// `advertisedRouter`, none in the metadata and that one known from its router advertisements.
    static func dualStackMachine(advertisedRouter: String? = nil) throws -> (Instance, ObservedState) {
        let primary = try ENI(mac: MACAddress("52:54:00:00:01:0a"), primaryIP: IPv4Address("10.0.1.10"), subnet: IPv4Prefix("10.0.1.0/24"),
                              gateway: IPv4Address("10.0.1.1"))
        let v6 = try ENIIPv6(addresses: [IPv6Address("2001:db8:2::10"), IPv6Address("2001:db8:2::11")], subnet: IPv6Prefix("2001:db8:2::/64"),
                             gateway: advertisedRouter == nil ? IPv6Address("2001:db8:2::1") : nil, name: "ENI 52:54:00:00:02:0a")
        let secondary = try ENI(mac: MACAddress("52:54:00:00:02:0a"), primaryIP: IPv4Address("10.0.2.10"), secondaryIPs: [IPv4Address("10.0.2.11")],
                                subnet: IPv4Prefix("10.0.2.0/24"), gateway: IPv4Address("10.0.2.1"), ipv6: v6)
        let state = ObservedState(
            links: [Link(index: 1, name: "lo", mac: nil, isUp: true), Link(index: 2, name: "eth0", mac: primary.mac, isUp: true),
                    Link(index: 3, name: "eth1", mac: secondary.mac, isUp: false)],
            addresses: [InterfaceAddress(address: primary.ipv4!.primaryIP, prefixLength: 24, device: "eth0")],
            routes: [Route(table: 254, destination: .any, gateway: primary.ipv4!.gateway, device: "eth0", proto: 3)],
            rules: [(0, 255), (32766, 254), (32767, 253)].map { Rule(priority: $0, source: nil, table: $1, proto: 2) },
            routers: try advertisedRouter.map { [IPv6Router(device: "eth1", address: try IPv6Address($0))] } ?? [])
        return (try Instance(primaryMAC: primary.mac, enis: [primary, secondary]), state)
    }

    /// `content` (ending in a newline) without its `[...]` sections (blank-line separated, as the
    /// networkd renderer writes them) that contain a line for which `isIPv6` holds.
    static func withoutIPv6(_ content: String, _ isIPv6: (Substring) -> Bool) -> String {
        content.dropLast().split(separator: "\n\n", omittingEmptySubsequences: false)
            .filter { section in !(section.hasPrefix("[") && section.split(separator: "\n").dropFirst().contains(where: isIPv6)) }
            .joined(separator: "\n\n") + "\n"
    }
}

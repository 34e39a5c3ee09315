import ENIModel

/// How `rp_filter` is set on the interfaces the agent manages.
public enum RPFilterMode: String, CaseIterable, Hashable, Sendable, Codable {
    /// 2 on each managed secondary interface (the default): policy routing keeps replies symmetric,
    /// loose mode also tolerates asymmetric traffic the operator routes on purpose.
    case loose
    /// 0 on `all`, `default` and every ENI interface, exactly as the Tencent Cloud guide does it.
    case off
    /// 1 on each managed secondary interface.
    case strict
    /// The agent neither reads nor writes `rp_filter`.
    case unchanged
}

public struct PlannerConfig: Hashable, Sendable {
    /// Table of the ENI in slot s is `tableBase + s`.
    public var tableBase: UInt32
    /// Rule priority of the ENI in slot s is `priorityBase + s`.
    public var priorityBase: UInt32
    /// The protocol number carried by every route and rule the agent creates (`proto N`).
    public var proto: UInt8
    public var rpFilter: RPFilterMode
    /// Only these interfaces are changed (empty: all). Machine-wide changes are always planned.
    public var interfaces: Set<String>
    /// Overwrite files at the agent's paths that do not carry its marker (never other changes).
    public var force: Bool
    /// Links and MACs left alone entirely: their addresses, tables, rules and files are kept as they are.
    public var exclusions: Exclusions

    public init(tableBase: UInt32 = 10000, priorityBase: UInt32 = 10000, proto: UInt8 = 234,
                rpFilter: RPFilterMode = .loose, interfaces: Set<String> = [], force: Bool = false,
                exclusions: Exclusions = .none) {
        self.tableBase = tableBase; self.priorityBase = priorityBase; self.proto = proto
        self.rpFilter = rpFilter; self.interfaces = interfaces; self.force = force
        self.exclusions = exclusions
    }
}

/// Decides everything. Pure: no I/O, no clock; same inputs, same plan.
public enum Planner {
    /// Slots 1...8191: device number + 256 × network card at most.
    public static let maxSlot = 32 * 256 - 1
    /// The kernel's rule for the main table; ours must come before it.
    public static let mainRulePriority: UInt32 = 32766
    /// The main table's number (`RT_TABLE_MAIN`).
    public static let mainTable: UInt32 = 254

    /// `retired`: the renderers not in effect. The agent's marked files at their paths are
    /// removed (but an ENI left alone keeps its own), and the rules and routes those files
    /// declare are the agent's, as its files' are: after a change of renderer, nothing the former
    /// one wrote stays behind, and the network manager that read it holds no second profile.
    public static func plan(desired: Instance, observed: ObservedState, config: PlannerConfig,
                            renderer: any FileRenderer, retired: [any FileRenderer] = []) -> Plan {
        var b = Builder(desired: desired, observed: observed, config: config, renderer: renderer, retired: retired)
        b.matchLinks()
        b.allocateSlots()
        b.planInterfaces()
        b.planOrphans()
        b.planSysctls(renderer: renderer)
        b.planFiles(renderer: renderer)
        return b.finish()
    }
}

/// The planner's working state for one plan.
private struct Builder {
    let desired: Instance
    let observed: ObservedState
    let config: PlannerConfig

    var problems: [Problem] = []
    var statuses: [ENIStatus] = []
    var actions: [Action] = []
    /// Managed ENIs with their link, before slots are known.
    var candidates: [(eni: ENI, link: Link)] = []
    var designs: [InterfaceDesign] = []
    var sysctls: [SysctlSetting] = []
    /// Links the agent must not touch this pass (unknown ENIs, unlisted MACs, ambiguous).
    var protectedLinks = Set<String>()
    /// MACs of ENIs left alone this pass (unknown, excluded, waiting, unusable link, unlisted
    /// link): their files and persisted settings are kept although nothing is rendered for them.
    var protectedOwners = Set<MACAddress>()

    /// The kernel's routes and rules as sets: planning stays linear in the number of IPs.
    let observedRoutes: Set<Route>
    let observedRules: Set<Rule>

    /// The protocol of the agent's rules (`FileRenderer.ruleProtocol`, else its own).
    let ruleProto: UInt8
    /// Rules the agent's own files declare, with the network manager's protocol: the manager's
    /// copies of the agent's rules, which are the agent's to remove when no ENI wants them.
    let declaredRules: Set<Rule>
    /// The protocol of the agent's routes (`FileRenderer.routeProtocol`, else its own).
    let routeProto: UInt8
    /// Routes the agent's own files declare, with the network manager's protocol: the manager's
    /// copies of the agent's routes (NetworkManager's are `static`), the agent's as its own are.
    let declaredRoutes: Set<Route>

    /// The renderers not in effect (`Planner.plan`).
    let retired: [any FileRenderer]

    init(desired: Instance, observed: ObservedState, config: PlannerConfig, renderer: any FileRenderer, retired: [any FileRenderer]) {
        self.desired = desired; self.observed = observed; self.config = config; self.retired = retired
        observedRoutes = Set(observed.routes)
        observedRules = Set(observed.rules)
        ruleProto = renderer.ruleProtocol ?? config.proto
        routeProto = renderer.routeProtocol ?? config.proto
        // What each renderer's files declare, with the protocol its network manager gives them.
        var rules = Set<Rule>(), routes = Set<Route>()
        for r in [renderer] + retired {
            if let p = r.ruleProtocol, p != config.proto { rules.formUnion(r.declaredRules(observed.files).filter { $0.proto == p }) }
            if let p = r.routeProtocol, p != config.proto { routes.formUnion(r.declaredRoutes(observed.files).filter { $0.proto == p }) }
        }
        declaredRules = rules
        declaredRoutes = routes
    }

    var ours: UInt8 { config.proto }

    /// A rule the agent made: its protocol, or the manager's copy of a rule its files declare.
    func isOurs(_ r: Rule) -> Bool { r.proto == ours || declaredRules.contains(r) }

    /// A route the agent made: its protocol, or the manager's copy of a route its files declare.
    /// Another program's route with the manager's protocol (`static`: `ip route add` without
    /// `proto`) is never the agent's, even in its tables.
    func isOurs(_ r: Route) -> Bool { r.proto == ours || declaredRoutes.contains(r) }

    // MARK: Matching

    mutating func matchLinks() {
        // Links that may be an ENI: physical or veth, not enslaved. VLANs, bonds and the like
        // carry their parent's MAC and are never an ENI.
        var byMAC: [MACAddress: [Link]] = [:]
        for l in observed.links.sorted(by: { $0.index < $1.index }) {
            guard let mac = l.mac else { continue }
            byMAC[mac, default: []].append(l)
        }
        func candidateLinks(_ mac: MACAddress) -> [Link] {
            (byMAC[mac] ?? []).filter(\.mayBeENI)
        }
        var listed = Set<MACAddress>()
        /// nil: not excluded; else the name of its link, if it has one.
        func excluded(_ mac: MACAddress, _ links: [Link]) -> String?? {
            let byName = links.first { config.exclusions.excludes(name: $0.name, mac: nil) }
            guard byName != nil || config.exclusions.macs.contains(mac) else { return nil }
            return .some((byName ?? links.first)?.name)
        }
        for (mac, reason) in desired.unknown.sorted(by: { $0.key < $1.key }) {
            listed.insert(mac)
            if let device = excluded(mac, candidateLinks(mac)) {
                statuses.append(ENIStatus(mac: mac, state: .excluded(device: device)))
            } else {
                statuses.append(ENIStatus(mac: mac, state: .unknown(reason)))
            }
            protectedOwners.insert(mac)
        }
        for eni in desired.enis {
            listed.insert(eni.mac)
            let links = candidateLinks(eni.mac)
            if let device = excluded(eni.mac, links) {
                statuses.append(ENIStatus(mac: eni.mac, state: .excluded(device: device)))
                protectedOwners.insert(eni.mac)
                continue
            }
            guard let link = links.first else {
                statuses.append(ENIStatus(mac: eni.mac, state: .waiting))
                protectedOwners.insert(eni.mac)
                continue
            }
            if let l = links.first(where: { observed.unsettled.contains($0.name) }) {
                statuses.append(ENIStatus(mac: eni.mac, state: .settling(device: l.name)))
                protectedOwners.insert(eni.mac)
                continue
            }
            if links.count > 1 {
                problems.append(Problem(interface: nil, message:
                    "MAC \(eni.mac) is on several links (\(links.map(\.name).joined(separator: ", "))); none is configured"))
                statuses.append(ENIStatus(mac: eni.mac, state: .unknown(.invalid("MAC on several links"))))
                protectedOwners.insert(eni.mac)
                continue
            }
            if !Link.isSafeName(link.name) {
                problems.append(Problem(interface: nil, message:
                    "link \(quoted(link.name)) (\(eni.mac)) has a name eni-agent cannot write safely; left alone"))
                statuses.append(ENIStatus(mac: eni.mac, state: .unknown(.invalid("unsafe interface name"))))
                protectedOwners.insert(eni.mac)
                continue
            }
            if link.master != nil {
                problems.append(Problem(interface: link.name, message:
                    "link \(link.name) (\(eni.mac)) is enslaved to another device; left alone"))
                statuses.append(ENIStatus(mac: eni.mac, state: .unknown(.invalid("enslaved to another device"))))
                protectedOwners.insert(eni.mac)
                continue
            }
            candidates.append((eni, link))
        }
        let managedNames = Set(candidates.map(\.link.name))
        for l in observed.links where !managedNames.contains(l.name) {
            protectedLinks.insert(l.name)
            if let mac = l.mac, !listed.contains(mac) { protectedOwners.insert(mac) }
        }
    }

    // MARK: Slots

    /// Tables that hold a route through a link the agent must not touch.
    var protectedTables: Set<UInt32> {
        Set(observed.routes.filter { $0.device.map(protectedLinks.contains) ?? false }.map(\.table))
    }

    func slotRange(_ s: Int) -> Bool { (1...Planner.maxSlot).contains(s) }

    mutating func allocateSlots() {
        var taken = Set(protectedTables.compactMap { t -> Int? in
            t >= config.tableBase ? Int(t - config.tableBase) : nil
        }.filter(slotRange))
        var slot: [MACAddress: Int] = [:]
        let secondaries = candidates.filter { $0.eni.mac != desired.primaryMAC }
        // In order of strength: the provider's device number (0 is the primary's, never trusted for a
        // secondary), the table the kernel already uses for it (an ENI keeps its table whatever link
        // appears later), the ethN index, the lowest free slot.
        let sources: [(ENI, Link) -> Int?] = [
            { eni, _ in
                guard let d = eni.deviceNumber, d > 0 else { return nil }
                return (eni.networkCard ?? 0) * 256 + d
            },
            { [observed, config, self] _, link in
                observed.routes.first { self.isOurs($0) && $0.device == link.name && $0.table > config.tableBase }
                    .map { Int($0.table - config.tableBase) }
            },
            { _, link in
                guard link.name.hasPrefix("eth"), let n = Int(link.name.dropFirst(3)),
                      link.name.dropFirst(3).allSatisfy(\.isNumber), n > 0 else { return nil }
                return n
            },
        ]
        for source in sources {
            for (eni, link) in secondaries where slot[eni.mac] == nil {
                if let s = source(eni, link), slotRange(s), !taken.contains(s) {
                    slot[eni.mac] = s; taken.insert(s)
                }
            }
        }
        var next = 1
        for (eni, _) in secondaries where slot[eni.mac] == nil {
            while taken.contains(next) { next += 1 }
            slot[eni.mac] = next; taken.insert(next)
        }
        for (eni, link) in candidates {
            if eni.mac == desired.primaryMAC {
                designs.append(InterfaceDesign(name: link.name, role: .primary, eni: eni, table: nil, priority: nil, proto: ours))
                continue
            }
            let s = UInt32(slot[eni.mac]!)
            let (table, tOverflow) = config.tableBase.addingReportingOverflow(s)
            let priority = config.priorityBase + s
            if tOverflow || [0, 253, 254, 255].contains(table) {
                problems.append(Problem(interface: link.name, message: "table \(table) for \(eni.mac) is reserved or out of range; change table_base"))
                protectedLinks.insert(link.name); protectedOwners.insert(eni.mac)
                continue
            }
            if priority >= Planner.mainRulePriority {
                problems.append(Problem(interface: link.name, message:
                    "rule priority \(priority) for \(eni.mac) would come after the main table's rule (32766); lower rule_priority_base"))
                protectedLinks.insert(link.name); protectedOwners.insert(eni.mac)
                continue
            }
            let (gateway6, held6) = ipv6State(eni, device: link.name, table: table)
            if case .invalid(let why) = held6 {
                problems.append(Problem(interface: link.name, message: "IPv6 of \(eni.mac) left as it is: \(why)"))
            }
            designs.append(InterfaceDesign(name: link.name, role: .secondary, eni: eni, table: table, priority: priority, proto: ours,
                                           ruleProto: ruleProto, routeProto: routeProto, ipv6Gateway: gateway6, ipv6Held: held6))
        }
        designs.sort { $0.name < $1.name }
        for d in designs { statuses.append(ENIStatus(mac: d.mac, state: .managed(d))) }
    }

    /// The router of a secondary ENI's IPv6 default route, or why its IPv6 is left as it is. The
    /// metadata's gateway where it names one; else one the kernel learned on the link from router
    /// advertisements (a router neighbour, or the default route they gave the main table): the one
    /// the agent's route already uses while it is still among them (or none is known any more),
    /// else the lowest.
    func ipv6State(_ eni: ENI, device: String, table: UInt32) -> (IPv6Address?, Undescribed?) {
        if let u = eni.ipv6Unknown { return (nil, u) }
        guard let v6 = eni.ipv6 else { return (nil, nil) }
        if let g = v6.gateway { return (g, nil) }
        let announced = observed.routes.filter { r in
            r.family == .v6 && r.table == Planner.mainTable && r.destination.isDefault && r.device == device
                && r.proto == Route.routerAdvertisementProto
        }.compactMap { $0.gateway?.ipv6 }
        let routers = Set(observed.routers.filter { $0.device == device }.map(\.address)).union(announced)
        let current = observed.routes.first { r in
            isOurs(r) && r.family == .v6 && r.table == table && r.destination.isDefault && r.device == device
        }?.gateway?.ipv6
        if let current, routers.isEmpty || routers.contains(current) { return (current, nil) }
        if let first = routers.min() { return (first, nil) }
        return (nil, .pending("no IPv6 router known on \(device) yet (its router advertisements name it)"))
    }

    // MARK: Kernel objects of managed interfaces

    mutating func add(_ c: Change, _ iface: String?, _ reason: String) {
        actions.append(Action(c, interface: iface, reason: reason))
    }

    mutating func planInterfaces() {
        let foreignRoutes = observed.routes.filter { !isOurs($0) }
        for d in designs {
            let link = observed.link(named: d.name)!
            // Addresses.
            let have = observed.addresses.filter { $0.device == d.name }.sorted()
            let want = d.addresses
            let wanted = Set(want.map(\.identity))
            // The agent's own: on a secondary ENI, an address in its subnet of that family or the
            // source of one of the agent's rules to its table (an address gone from the metadata
            // with its subnet: IPv6 taken off, an ENI now IPv6-only); IPv6 only where its IPv6 is
            // not held. On the primary, its secondary IPs in its subnet.
            let v6Held = d.ipv6Held != nil
            let formerSources = Set(observed.rules.filter { r in
                isOurs(r) && r.table == d.table && r.source?.isHost == true
            }.compactMap { $0.source?.network })
            func isAgents(_ a: InterfaceAddress) -> Bool {
                switch a.address {
                case .v4(let ip):
                    (d.eni.ipv4.map { v4 in v4.subnet.contains(ip) && (d.role == .secondary || (a.isSecondary && ip != v4.primaryIP)) } ?? false)
                        || (d.role == .secondary && formerSources.contains(a.address))
                case .v6(let ip):
                    d.role == .secondary && !v6Held && ((d.eni.ipv6?.subnet.contains(ip) ?? false) || formerSources.contains(a.address))
                }
            }
            // An address duplicate address detection has not passed does not work: added again.
            let removals = have.filter { a in isAgents(a) && (!wanted.contains(a.identity) || a.isTentative) }
            let removed = Set(removals.map(\.identity))
            // Deleting the kernel's primary address of a subnet deletes its secondaries too, unless
            // promote_secondaries is on: turn it on first when addresses in that subnet stay.
            let key = SysctlSetting.ipv4Conf(d.name, "promote_secondaries")
            let staying = (have + want).filter { !removed.contains($0.identity) }
            let dropsFirstOfSubnet = removals.contains { r in
                r.family == .v4 && !r.isSecondary && staying.contains { $0.address != r.address && r.subnet.contains($0.address) }
            }
            if dropsFirstOfSubnet, observed.sysctls[key] != "1" {
                add(.setSysctl(key: key, from: observed.sysctls[key], to: "1"), d.name,
                    "keep the other addresses of the subnet when its first address is removed")
            }
            for a in removals {
                add(.removeAddress(a), d.name, wanted.contains(a.identity)
                    ? "duplicate address detection has not passed: added again without it" : "IP no longer assigned to \(d.mac)")
            }
            if d.role == .secondary, !link.isUp { add(.linkUp(device: d.name), d.name, "ENI \(d.mac) is down") }
            let present = Set(have.filter { !$0.isTentative }.map(\.identity))
            for a in want where !present.contains(a.identity) {
                add(.addAddress(a), d.name, "IP assigned to \(d.mac)")
            }
            // Routes in the ENI's table.
            let wantRoutes = d.routes
            let wantRouteSet = Set(wantRoutes)
            for r in observed.routes.filter({ r in
                isOurs(r) && r.table == d.table && !wantRouteSet.contains(r) && !(v6Held && r.family == .v6)
            }).sorted() {
                add(.removeRoute(r), d.name, "not part of \(d.mac)'s table")
            }
            // Router advertisements gave the main table routes through the ENI before the agent
            // turned that off (`SysctlSetting.ipv6ENILeaves`): a default route (protocol ra) and its
            // subnet on-link (protocol kernel). The kernel will not add them again.
            if d.role == .secondary, let v6 = d.eni.ipv6 {
                for r in observed.routes.filter({ r in
                    r.family == .v6 && r.table == Planner.mainTable && r.device == d.name
                        && (r.proto == Route.routerAdvertisementProto || (r.proto == Route.kernelProto && r.destination == .v6(v6.subnet)))
                }).sorted() {
                    add(.removeRoute(r), d.name, "a router advertisement's route through a secondary ENI in the main table")
                }
            }
            for r in wantRoutes where !observedRoutes.contains(r) {
                if let f = foreignRoutes.first(where: { $0.key == r.key }) {
                    problems.append(Problem(interface: d.name, message:
                        "table \(r.table) already holds route '\(f)' that eni-agent did not create; '\(r)' not added"))
                    continue
                }
                add(.addRoute(r), d.name, "policy routing for \(d.mac)")
            }
            // Rules.
            for r in d.rules where !observedRules.contains(r) {
                add(.addRule(r), d.name, "replies from \(r.source!.network) leave through \(d.name)")
            }
        }
    }

    /// Our rules and routes that no managed interface wants: ENIs detached, IPs moved, slots changed.
    mutating func planOrphans() {
        let wantRules = Set(designs.flatMap(\.rules))
        let wantRoutes = Set(designs.flatMap(\.routes))
        let keep = protectedTables
        let managedTables = Set(designs.compactMap(\.table))
        func group(_ table: UInt32) -> String {
            designs.first { $0.table == table }?.name ?? "table \(table)"
        }
        // Rules from an address of an ENI left alone this pass (its link's addresses, or the IPs
        // the metadata gives it) are kept, even when its table lost its routes (a link taken down
        // to be renamed loses them).
        var heldSources = Set(observed.addresses.filter { protectedLinks.contains($0.device) }.map(\.address))
        for eni in desired.enis where protectedOwners.contains(eni.mac) {
            heldSources.formUnion(eni.allIPs.map(IPAddress.v4))
            heldSources.formUnion((eni.ipv6?.addresses ?? []).map(IPAddress.v6))
        }
        // The IPv6 rules of an ENI whose IPv6 is held this pass are kept.
        let heldV6Tables = Set(designs.filter { $0.ipv6Held != nil }.compactMap(\.table))
        func held(_ r: Rule) -> Bool {
            keep.contains(r.table) || (r.family == .v6 && heldV6Tables.contains(r.table))
                || r.source.map { $0.isHost && heldSources.contains($0.network) } ?? false
        }
        // A rule with selectors the agent does not model is not one it made: left alone.
        for r in observed.rules.sorted() where isOurs(r) && !r.hasOtherSelectors && !wantRules.contains(r) && !held(r) {
            add(.removeRule(r), group(r.table), "no managed ENI holds \(r.source.map { "\($0.network)" } ?? "this rule")")
        }
        for r in observed.routes.sorted() where isOurs(r) && !wantRoutes.contains(r)
            && !managedTables.contains(r.table) && !(r.device.map(protectedLinks.contains) ?? false) {
            add(.removeRoute(r), group(r.table), "no managed ENI uses table \(r.table)")
        }
    }

    // MARK: rp_filter

    mutating func planSysctls(renderer: any FileRenderer) {
        var wanted: [(interface: String?, setting: SysctlSetting, reason: String)] = []
        let rpValue: String?
        var targets: [InterfaceDesign] = []
        var machineWide: [String] = []
        switch config.rpFilter {
        case .unchanged: rpValue = nil
        case .loose: rpValue = "2"; targets = designs.filter { $0.role == .secondary }
        case .strict: rpValue = "1"; targets = designs.filter { $0.role == .secondary }
        case .off: rpValue = "0"; targets = designs; machineWide = ["all", "default"]
        }
        // rp_filter is IPv4's: an IPv6-only ENI has nothing for it to check.
        targets = targets.filter { $0.eni.ipv4 != nil }
        if let rpValue {
            let why = "rp_filter mode \(config.rpFilter.rawValue)"
            wanted += machineWide.map { (nil, SysctlSetting(key: SysctlSetting.ipv4Conf($0, "rp_filter"), value: rpValue), why) }
            wanted += targets.map { ($0.name, SysctlSetting(key: SysctlSetting.ipv4Conf($0.name, "rp_filter"), value: rpValue, owner: $0.mac), why) }
        }
        // A secondary ENI with IPv6 (its IPv6 known, its router perhaps not yet: these settings let
        // the kernel learn it without a route in the main table).
        for d in designs where d.role == .secondary && d.eni.ipv6 != nil {
            for (leaf, value) in SysctlSetting.ipv6ENILeaves {
                wanted.append((d.name, SysctlSetting(key: SysctlSetting.ipv6Conf(d.name, leaf), value: value, owner: d.mac),
                               "IPv6 of \(d.mac) through its own table only"))
            }
        }
        for (iface, s, why) in wanted where observed.sysctls[s.key] != s.value {
            add(.setSysctl(key: s.key, from: observed.sysctls[s.key], to: s.value), iface, why)
        }
        sysctls = wanted.map(\.setting)
        // An ENI left alone this pass keeps the lines persisted for it, as they are (a metadata error,
        // an exclusion, a lag or a renamed link rewrites nothing of them), and an ENI whose IPv6 is
        // held its IPv6 lines; nothing is set for them. A line written before lines named their ENI
        // belongs to the ENI whose link has that name.
        var keys = Set(sysctls.map(\.key))
        let linkOwners = Dictionary(observed.links.compactMap { l in l.mac.map { (SysctlSetting.ipv4Conf(l.name, "rp_filter"), $0) } },
                                    uniquingKeysWith: { a, _ in a })
        // (Not those whose router is awaited: their settings are set, above.)
        let ipv6Unknown = Set(designs.filter { $0.eni.ipv6Unknown != nil }.map(\.mac))
        let ipv6Leaves = SysctlSetting.ipv6ENILeaves.map { "." + $0.leaf }
        for var p in renderer.persistedSettings(observed.files) {
            let isIPv6 = p.key.hasPrefix("net.ipv6.conf.") && ipv6Leaves.contains { p.key.hasSuffix($0) }
            guard p.key.hasSuffix(".rp_filter") || isIPv6, let owner = p.owner ?? linkOwners[p.key],
                  protectedOwners.contains(owner) || (isIPv6 && ipv6Unknown.contains(owner)), keys.insert(p.key).inserted else { continue }
            p.owner = owner
            sysctls.append(p)
        }
        // Stable order, whatever the state of each ENI: `all`, `default`, then by key.
        let first = Set(["all", "default"].map { SysctlSetting.ipv4Conf($0, "rp_filter") })
        sysctls.sort { (first.contains($0.key) ? 0 : 1, $0.key) < (first.contains($1.key) ? 0 : 1, $1.key) }
    }

    // MARK: Files

    mutating func planFiles(renderer: any FileRenderer) {
        let design = NetworkDesign(interfaces: designs, sysctls: sysctls)
        let rendered: [String: String]
        do { rendered = try renderer.render(design) } catch {
            problems.append(Problem(interface: nil, message: "files not written: \(error)"))
            return
        }
        func owner(_ content: String) -> String? {
            FileMarker.owner(of: content).flatMap { mac in designs.first { $0.mac == mac }?.name }
        }
        // An ENI whose IPv6 is held keeps the files it has as they are: rendered without its IPv6,
        // they would make the network manager drop it (NetworkManager on reapply, networkd on a
        // restart). A file it does not have yet is written (without IPv6, until it is known).
        let ipv6Held = Set(designs.filter { $0.role == .secondary && $0.ipv6Held != nil }.map(\.mac))
        func keptForIPv6(_ file: ObservedFile?) -> Bool {
            guard let old = file?.content, FileMarker.isManaged(old), let mac = FileMarker.owner(of: old) else { return false }
            return ipv6Held.contains(mac)
        }
        for (path, content) in rendered.sorted(by: { $0.key < $1.key }) where !keptForIPv6(observed.files[path]) {
            let iface = owner(content)
            let mode = renderer.mode(ofPath: path)
            // The mode the file has, where it is known and not the one it must have.
            let wrongMode = observed.files[path]?.mode.flatMap { $0 == mode ? nil : $0 }
            switch observed.files[path]?.kind {
            case nil:
                add(.writeFile(path: path, old: nil, new: content, mode: mode), iface, "new file")
            case .regular(let old) where old == content && (wrongMode == nil || !FileMarker.isManaged(old)):
                break
            case .regular(let old) where old == content:
                add(.writeFile(path: path, old: old, new: content, mode: mode, oldMode: wrongMode), iface,
                    "mode \(FileMarker.modeText(wrongMode!)), not \(FileMarker.modeText(mode))")
            case .regular(let old) where FileMarker.isManaged(old) || config.force:
                add(.writeFile(path: path, old: old, new: content, mode: mode, oldMode: wrongMode), iface,
                    FileMarker.isManaged(old) ? "out of date" : "overwritten with --force")
            case .regular:
                problems.append(Problem(interface: iface, message:
                    "\(path) exists and is not managed by eni-agent (no marker line); not overwritten (use --force)"))
            case .symlink where config.force:
                add(.writeFile(path: path, old: nil, new: content, mode: mode), iface, "symlink replaced with --force")
            case .symlink:
                problems.append(Problem(interface: iface, message:
                    "\(path) is a symlink; not written through (use --force to replace the link)"))
            case .other:
                problems.append(Problem(interface: iface, message: "\(path) is not a regular file; not written"))
            }
        }
        for (path, file) in observed.files.sorted(by: { $0.key < $1.key }) where rendered[path] == nil {
            // A write that an earlier run did not finish: never in use, removed whatever its ENI.
            if FileMarker.isTemporary(path) {
                if file.kind != .other { add(.removeFile(path: path, old: file.content ?? ""), nil, "left by an interrupted write") }
                continue
            }
            guard let old = file.content, FileMarker.isManaged(old) else { continue }
            let mac = FileMarker.owner(of: old)
            if let mac, protectedOwners.contains(mac) || ipv6Held.contains(mac) { continue }
            let formerRenderer = retired.contains { $0.owns(path) } && !renderer.owns(path)
            let iface = mac.flatMap { m in observed.link(mac: m)?.name }
                ?? ([renderer] + retired).lazy.compactMap { $0.interface(ofPath: path) }.first
            let why = formerRenderer ? "written for another renderer than the one in effect"
                : mac.map { m in designs.contains { $0.mac == m } ? "no longer part of \(m)'s configuration" : "ENI \(m) is no longer attached" }
                ?? "no longer needed"
            add(.removeFile(path: path, old: old), mac == nil ? nil : iface, why)
        }
    }

    // MARK: Ordering

    /// An interface's IPv6 settings come before its link goes up (no route from a router
    /// advertisement) and before its addresses (IPv6 on, no duplicate address detection).
    static func rank(_ c: Change) -> Int {
        switch c {
        case .setSysctl(let k, _, _) where k.hasSuffix(".promote_secondaries"): 0
        case .removeRule: 1
        case .removeRoute: 2
        case .removeAddress: 3
        case .setSysctl(let k, _, _) where k.hasPrefix("net.ipv6.conf."): 4
        case .linkUp: 5
        case .addAddress: 6
        case .addRoute: 7
        case .addRule: 8
        case .setSysctl: 9
        case .removeFile: 10
        case .writeFile: 11
        }
    }

    func finish() -> Plan {
        let managed = Set(designs.map(\.name))
        // Groups: orphan cleanup first, then interfaces by name, then machine-wide changes.
        func groupRank(_ a: Action) -> (Int, String) {
            guard let i = a.interface else { return (2, "") }
            return (managed.contains(i) ? 1 : 0, i)
        }
        var ordered = actions.enumerated().sorted { x, y in
            let gx = groupRank(x.element), gy = groupRank(y.element)
            if gx != gy { return gx < gy }
            let rx = Builder.rank(x.element.change), ry = Builder.rank(y.element.change)
            return rx != ry ? rx < ry : x.offset < y.offset
        }.map(\.element)
        var enis = statuses.sorted { $0.mac < $1.mac }
        if !config.interfaces.isEmpty {
            ordered = ordered.filter { $0.interface == nil || config.interfaces.contains($0.interface!) }
            enis = enis.map { s in
                if case .managed(let d) = s.state, !config.interfaces.contains(d.name) {
                    return ENIStatus(mac: s.mac, state: .skipped(device: d.name))
                }
                return s
            }
        }
        return Plan(actions: ordered, problems: problems, enis: enis,
                    design: NetworkDesign(interfaces: designs, sysctls: sysctls))
    }
}

import ENIAgent
import ENIApply
import ENIMetadata
import ENIModel
import ENIPlanner
import FoundationEssentials

/// Human and JSON renderings of plans and passes. Deterministic: same plan, same bytes.
public enum PlanOutput {
    /// Notes on ENIs that are not configured this pass (waiting, unknown, skipped).
    /// Some ENI could not be described or matched this pass (it was left as it is): the run did not
    /// do everything, so the commands exit 1.
    public static func hasUnknown(_ plan: Plan) -> Bool {
        plan.enis.contains { if case .unknown = $0.state { true } else { false } }
    }

    public static func notes(_ plan: Plan) -> [String] {
        plan.enis.compactMap { s in
            switch s.state {
            case .managed: nil
            case .waiting: "waiting: ENI \(s.mac) is listed by the metadata but no link has its MAC yet"
            case .settling(let d): "waiting: ENI \(s.mac): udev has not finished with \(d) yet"
            case .unknown(let r): "unknown: ENI \(s.mac) left as it is: \(r)"
            case .skipped(let d): "skipped: ENI \(s.mac) (\(d)) not selected by --interface"
            case .excluded(let d): "excluded: ENI \(s.mac)" + (d.map { " (\($0))" } ?? "") + " left alone by exclude_interfaces / exclude_macs"
            }
        }
    }

    /// `eni-agent diff`: kernel changes as `+`/`-` lines in `ip` syntax and files as unified diffs,
    /// grouped by interface.
    /// `verbose` adds each change's reason as a `#` comment line.
    public static func text(_ plan: Plan, verbose: Bool = false) -> String {
        var out = ""
        for (iface, actions) in Plan.groups(plan.actions, \.interface) {
            out += "# " + plan.heading(iface) + "\n"
            for a in actions {
                if verbose { out += "#   \(a.reason)\n" }
                if let d = a.change.unifiedDiff { out += d } else { out += a.change.command + "\n" }
            }
        }
        return out
    }

    /// One line per ENI: MAC, state, interface, table (for `--verbose`).
    public static func states(_ plan: Plan) -> [String] {
        plan.enis.map { s in
            switch s.state {
            case .managed(let d):
                "ENI \(s.mac): \(d.name), \(d.role.rawValue)" + (d.table.map { ", table \($0), rule priority \(d.priority!)" } ?? "")
                    + (d.eni.ipv4 == nil ? ", IPv6 only" : ", \(d.eni.allIPs.count) IPs") + (d.ipv6.map { ", \($0.eni.addresses.count) IPv6 via \($0.gateway)" } ?? "")
                    + (d.ipv6Held.map { ", IPv6 held (\($0))" } ?? "")
            case .waiting: "ENI \(s.mac): waiting for its link"
            case .settling(let d): "ENI \(s.mac): waiting for udev to finish with \(d)"
            case .unknown(let r): "ENI \(s.mac): unknown (\(r))"
            case .skipped(let d): "ENI \(s.mac): \(d), skipped"
            case .excluded(let d): "ENI \(s.mac): " + (d.map { "\($0), " } ?? "") + "excluded"
            }
        }
    }

    /// `eni-agent reconfigure`: what was done, one line per change.
    public static func text(_ r: PassResult, verbose: Bool = false) -> String {
        var out = ""
        for (iface, outcomes) in Plan.groups(r.outcomes, \.action.interface) {
            out += "# " + r.plan.heading(iface) + "\n"
            for o in outcomes {
                if verbose { out += "#   \(o.action.reason)\n" }
                out += o.action.change.command + "\n"
                switch o.result {
                case .failed(let why): out += "  ! failed: \(why)\n"
                case .skipped(let why): out += "  ! skipped: \(why)\n"
                case .done: break
                }
            }
        }
        return out
    }

    public static func summary(_ r: PassResult) -> String {
        if r.plan.isEmpty { return "nothing to do" }
        let ok = r.outcomes.filter { $0.result == .done }.count
        var s = "\(ok) of \(r.outcomes.count) changes applied (\(r.applied.netlinkWrites) netlink writes, \(r.applied.sysctlWrites) sysctl writes, \(r.applied.fileWrites) file writes)"
        if !r.failed.isEmpty { s += "; \(r.failed.count) failed" }
        return s
    }

    // MARK: JSON

    struct JSONPlan: Encodable {
        var changes: [JSONChange]
        var enis: [JSONENI]
        var problems: [String]
        var pending: Int
        var provider: String?
        var renderer: String?
    }

    struct JSONChange: Encodable {
        var interface: String?
        var op: String
        var command: String
        var reason: String
        var path: String?
        var diff: String?
        var result: String?
        var error: String?
    }

    struct JSONENI: Encodable {
        var mac: String
        var state: String
        var interface: String?
        var role: String?
        var ips: [String]?
        var table: UInt32?
        var priority: UInt32?
        var reason: String?
        var id: String?
        /// The IPv6 addresses the agent configures on it, and the router of their default route.
        var ipv6s: [String]?
        var ipv6_gateway: String?
        /// Why its IPv6 is left as it is this time.
        var ipv6_held: String?
    }

    /// The IPv6 side of a managed ENI, for the JSON outputs: addresses, router, why held.
    static func ipv6Fields(_ d: InterfaceDesign) -> (ipv6s: [String]?, gateway: String?, held: String?) {
        (d.ipv6?.eni.addresses.map(\.description), d.ipv6?.gateway.description, d.ipv6Held?.description)
    }

    static func op(_ c: Change) -> (String, String?) {
        switch c {
        case .linkUp: ("link_up", nil)
        case .addAddress: ("add_address", nil)
        case .removeAddress: ("remove_address", nil)
        case .addRoute: ("add_route", nil)
        case .removeRoute: ("remove_route", nil)
        case .addRule: ("add_rule", nil)
        case .removeRule: ("remove_rule", nil)
        case .setSysctl: ("set_sysctl", nil)
        case .writeFile(let p, _, _, _, _): ("write_file", p)
        case .removeFile(let p, _): ("remove_file", p)
        }
    }

    static func jsonENIs(_ plan: Plan) -> [JSONENI] {
        plan.enis.map { s in
            var e = JSONENI(mac: s.mac.description, state: "")
            switch s.state {
            case .managed(let d):
                e.state = "managed"; e.interface = d.name; e.role = d.role.rawValue
                e.ips = d.eni.allIPs.map(\.description); e.table = d.table; e.priority = d.priority; e.id = d.eni.id
                (e.ipv6s, e.ipv6_gateway, e.ipv6_held) = ipv6Fields(d)
            case .waiting: e.state = "waiting"
            case .settling(let d): e.state = "waiting"; e.interface = d
            case .unknown(let r): e.state = "unknown"; e.reason = r.description
            case .skipped(let d): e.state = "skipped"; e.interface = d
            case .excluded(let d): e.state = "excluded"; e.interface = d
            }
            return e
        }
    }

    static func encode(_ v: some Encodable) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? enc.encode(v)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }

    public static func json(_ plan: Plan, about: About? = nil) -> String {
        encode(JSONPlan(
            changes: plan.actions.map { a in
                let (o, p) = op(a.change)
                return JSONChange(interface: a.interface, op: o, command: a.change.command, reason: a.reason, path: p, diff: a.change.unifiedDiff)
            },
            enis: jsonENIs(plan), problems: plan.problems.map(\.description), pending: plan.actions.count,
            provider: about?.provider, renderer: about?.renderer))
    }

    public static func json(_ r: PassResult) -> String {
        encode(JSONPlan(
            changes: r.outcomes.map { o in
                let a = o.action
                let (op, p) = op(a.change)
                var c = JSONChange(interface: a.interface, op: op, command: a.change.command, reason: a.reason, path: p)
                switch o.result {
                case .done: c.result = "done"
                case .failed(let e): c.result = "failed"; c.error = e
                case .skipped(let e): c.result = "skipped"; c.error = e
                }
                return c
            },
            enis: jsonENIs(r.plan), problems: r.plan.problems.map(\.description), pending: r.remaining.count))
    }

    // MARK: Daemon log and status

    struct JSONStatus: Encodable {
        var enis: [JSONStatusENI]
        var problems: [String]
        var provider: String
        var renderer: String
        var ipv6_note: String?
    }

    struct JSONStatusENI: Encodable {
        var mac: String
        var interface: String?
        var state: String
        var reason: String?
        var role: String?
        var ips: [String]
        var table: UInt32?
        var id: String?
        var ipv6s: [String]?
        var ipv6_gateway: String?
        var ipv6_held: String?
    }

    static func statusRows(_ plan: Plan, links: [Link]) -> [JSONStatusENI] {
        plan.enis.map { s in
            let (condition, reason) = plan.condition(of: s)
            let state = condition.rawValue
            var e = JSONStatusENI(mac: s.mac.description, state: state, reason: reason, ips: [])
            switch s.state {
            case .managed(let d):
                e.interface = d.name; e.role = d.role.rawValue; e.ips = d.eni.allIPs.map(\.description)
                e.table = d.table; e.id = d.eni.id
                (e.ipv6s, e.ipv6_gateway, e.ipv6_held) = ipv6Fields(d)
            case .skipped(let d), .settling(let d): e.interface = d
            case .excluded(let d): e.interface = d
            case .waiting, .unknown: e.interface = links.first { $0.mac == s.mac }?.name
            }
            return e
        }
    }

    /// `eni-agent status --json`.
    public static func statusJSON(_ plan: Plan, links: [Link], about: About) -> String {
        encode(JSONStatus(enis: statusRows(plan, links: links), problems: plan.problems.map(\.description),
                          provider: about.provider, renderer: about.renderer, ipv6_note: about.ipv6))
    }

    /// `eni-agent status`: the metadata source and the renderer in effect, each with why; then a
    /// table, one ENI per line, the reason (if any) indented below it.
    public static func statusText(_ plan: Plan, links: [Link], about: About) -> String {
        let rows = statusRows(plan, links: links)
        let cells = [["MAC", "INTERFACE", "STATE", "TABLE", "IPS"]] + rows.map {
            [$0.mac, $0.interface ?? "-", $0.state, $0.table.map { "\($0)" } ?? "-",
             $0.ips.isEmpty && $0.ipv6s == nil ? "-" : ($0.ips + ($0.ipv6s ?? [])).joined(separator: ",")]
        }
        let widths = (0..<4).map { c in cells.map { $0[c].count }.max()! }
        var out = "provider: \(about.provider)\nrenderer: \(about.renderer)\n" + (about.ipv6.map { "ipv6: \($0)\n" } ?? "")
        for (i, row) in cells.enumerated() {
            out += (0..<4).map { row[$0] + String(repeating: " ", count: widths[$0] - row[$0].count) }.joined(separator: "  ")
            out += "  " + row[4] + "\n"
            if i > 0, let r = rows[i - 1].reason { out += "    \(r)\n" }
            // (Not again where it is the reason: an IPv6-only ENI's state is its IPv6's.)
            if i > 0, let h = rows[i - 1].ipv6_held, !h.hasSuffix(rows[i - 1].reason ?? "\0") { out += "    IPv6 left as it is: \(h)\n" }
        }
        return out
    }
}

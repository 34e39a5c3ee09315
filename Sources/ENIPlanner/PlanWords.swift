import ENIModel

/// Where each ENI stands after a plan, in the words `status`, `--json` and the daemon's log and
/// STATUS= use: they switch on this, never on text.
public enum ENICondition: String, CaseIterable, Sendable {
    /// Managed, and the plan has no change left for it.
    case configured
    /// Managed, and the plan still has changes for it.
    case unconfigured
    /// Not described or not attached yet, or udev has not finished with its link.
    case pending
    /// The metadata's description of it cannot be used.
    case error
    /// Left out by `--interface`.
    case skipped
    /// Left alone by `exclude_interfaces` / `exclude_macs`.
    case excluded
}

/// The plan in words, shared by the CLI's output and the daemon's log. Deterministic: same plan,
/// same text.
extension Plan {
    /// An ENI's condition, with why when it is not configured.
    public func condition(of s: ENIStatus) -> (condition: ENICondition, reason: String?) {
        switch s.state {
        case .managed(let d):
            // An IPv6-only ENI whose IPv6 is held has nothing configured: it is as its IPv6 is.
            if d.role == .secondary, d.eni.ipv4 == nil, let held = d.ipv6Held {
                return held.isPending ? (.pending, held.reason) : (.error, held.reason)
            }
            let n = actions.filter { $0.interface == d.name }.count
            return n == 0 ? (.configured, nil) : (.unconfigured, "\(n) changes to apply")
        case .waiting: return (.pending, "listed by the metadata; no link with this MAC yet")
        case .settling(let d): return (.pending, "udev has not finished with \(d) yet")
        case .unknown(.pending(let r)): return (.pending, r)
        case .unknown(.invalid(let r)): return (.error, r)
        case .skipped: return (.skipped, nil)
        case .excluded: return (.excluded, nil)
        }
    }

    /// Items grouped in plan order by their interface (nil: machine-wide).
    public static func groups<T>(_ items: [T], _ interface: (T) -> String?) -> [(String?, [T])] {
        var out: [(String?, [T])] = []
        for x in items {
            let i = interface(x)
            if let last = out.last, last.0 == i { out[out.count - 1].1.append(x) } else { out.append((i, [x])) }
        }
        return out
    }

    /// What a group of changes is about: `eth1: ENI 52:54:00:00:02:0a, table 10001, rule priority
    /// 10001`, `machine-wide`, `table 10002 (no managed ENI)`, `eth5: ENI detached`.
    public func heading(_ iface: String?) -> String {
        guard let iface else { return "machine-wide" }
        for s in enis {
            if case .managed(let d) = s.state, d.name == iface {
                var h = "\(iface): ENI \(d.mac)" + (d.eni.id.map { " (\($0))" } ?? "")
                if d.role == .primary { h += ", primary" }
                if let t = d.table, let p = d.priority { h += ", table \(t), rule priority \(p)" }
                return h
            }
        }
        return iface.hasPrefix("table ") ? "\(iface) (no managed ENI)" : "\(iface): ENI detached"
    }
}

extension Change {
    /// `+2 addresses, +2 routes, +2 rules, link up, 1 sysctl set, 3 files written`: what a pass
    /// did to one interface.
    public static func tally(_ changes: [Change]) -> String {
        // In plan order: removals, then additions, then sysctls and files.
        let kinds: [(label: (Int) -> String, matches: (Change) -> Bool)] = [
            ({ "-\($0) rule\($0 == 1 ? "" : "s")" }, { if case .removeRule = $0 { true } else { false } }),
            ({ "-\($0) route\($0 == 1 ? "" : "s")" }, { if case .removeRoute = $0 { true } else { false } }),
            ({ "-\($0) address\($0 == 1 ? "" : "es")" }, { if case .removeAddress = $0 { true } else { false } }),
            ({ _ in "link up" }, { if case .linkUp = $0 { true } else { false } }),
            ({ "+\($0) address\($0 == 1 ? "" : "es")" }, { if case .addAddress = $0 { true } else { false } }),
            ({ "+\($0) route\($0 == 1 ? "" : "s")" }, { if case .addRoute = $0 { true } else { false } }),
            ({ "+\($0) rule\($0 == 1 ? "" : "s")" }, { if case .addRule = $0 { true } else { false } }),
            ({ "\($0) sysctl\($0 == 1 ? "" : "s") set" }, { if case .setSysctl = $0 { true } else { false } }),
            ({ "\($0) file\($0 == 1 ? "" : "s") removed" }, { if case .removeFile = $0 { true } else { false } }),
            ({ "\($0) file\($0 == 1 ? "" : "s") written" }, { if case .writeFile = $0 { true } else { false } }),
        ]
        return kinds.compactMap { k in
            let n = changes.filter(k.matches).count
            return n == 0 ? nil : k.label(n)
        }.joined(separator: ", ")
    }
}

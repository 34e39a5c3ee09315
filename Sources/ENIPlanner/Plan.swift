import ENIModel

/// One change to the machine. The executor carries out exactly these; `diff` prints exactly these.
public enum Change: Hashable, Sendable {
    case linkUp(device: String)
    case addAddress(InterfaceAddress)
    case removeAddress(InterfaceAddress)
    case addRoute(Route)
    case removeRoute(Route)
    case addRule(Rule)
    case removeRule(Rule)
    case setSysctl(key: String, from: String?, to: String)
    /// `mode`: the permission bits the file gets; `oldMode`: those it has, when the write changes them.
    case writeFile(path: String, old: String?, new: String, mode: UInt16 = FileMarker.defaultMode, oldMode: UInt16? = nil)
    case removeFile(path: String, old: String)

    public var isFile: Bool {
        switch self {
        case .writeFile, .removeFile: true
        default: false
        }
    }

    /// The change as one `ip`/`sysctl` command, prefixed `+` (adds/sets) or `-` (removes).
    /// Files print as `+ write PATH` / `- remove PATH`; their content is in `unifiedDiff`.
    public var command: String {
        switch self {
        case .linkUp(let dev): "+ ip link set dev \(dev) up"
        case .addAddress(let a): "+ ip\(Self.option(a.family)) addr add \(a)"
        case .removeAddress(let a): "- ip\(Self.option(a.family)) addr del \(a)"
        case .addRoute(let r): "+ ip\(Self.option(r.family)) route add \(r)"
        case .removeRoute(let r): "- ip\(Self.option(r.family)) route del \(r)"
        case .addRule(let r): "+ ip\(Self.option(r.family)) rule add \(r)"
        case .removeRule(let r): "- ip\(Self.option(r.family)) rule del \(r)"
        case .setSysctl(let k, let from, let to): "+ sysctl -w \(k)=\(to)" + (from.map { "  # was \($0)" } ?? "")
        case .writeFile(let path, let old, _, let mode, let oldMode):
            "+ write \(path)" + { notes in notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))" }(
                (old == nil ? ["new"] : []) + Self.modeNotes(mode: mode, oldMode: oldMode))
        case .removeFile(let path, _): "- remove \(path)"
        }
    }

    /// ` -6` for an IPv6 object (`ip` would take `from all` or a route without a gateway as IPv4);
    /// nothing for IPv4, as before.
    static func option(_ f: IPFamily) -> String { f == .v6 ? " -6" : "" }

    /// A write's mode, where it is not the default or changes.
    static func modeNotes(mode: UInt16, oldMode: UInt16?) -> [String] {
        if let oldMode, oldMode != mode { return ["mode \(FileMarker.modeText(oldMode)) -> \(FileMarker.modeText(mode))"] }
        return mode == FileMarker.defaultMode ? [] : ["mode \(FileMarker.modeText(mode))"]
    }

    /// git's extended header lines for a mode (`old mode`/`new mode`, `new file mode`), where the
    /// write sets a mode that is not the default or changes it.
    static func modeLines(new: Bool, mode: UInt16, oldMode: UInt16?) -> String {
        if let oldMode, oldMode != mode { return "old mode \(FileMarker.modeText(oldMode))\nnew mode \(FileMarker.modeText(mode))\n" }
        return new && mode != FileMarker.defaultMode ? "new file mode \(FileMarker.modeText(mode))\n" : ""
    }

    /// File changes as a unified diff; nil for kernel changes.
    public var unifiedDiff: String? {
        switch self {
        case .writeFile(let path, let old, let new, let mode, let oldMode):
            Self.modeLines(new: old == nil, mode: mode, oldMode: oldMode) + UnifiedDiff.render(path: path, old: old, new: new)
        case .removeFile(let path, let old): UnifiedDiff.render(path: path, old: old, new: nil)
        default: nil
        }
    }
}

/// A change with the interface it belongs to (for grouping) and a reason (for display only).
public struct Action: Hashable, Sendable {
    public var change: Change
    /// The interface this change is for; nil for machine-wide changes.
    public var interface: String?
    public var reason: String

    public init(_ change: Change, interface: String?, reason: String) {
        self.change = change; self.interface = interface; self.reason = reason
    }
}

/// Something the planner refused to do, with the object and the value it concerns.
public struct Problem: Hashable, Sendable, CustomStringConvertible {
    public var interface: String?
    public var message: String
    public init(interface: String?, message: String) { self.interface = interface; self.message = message }
    public var description: String { (interface.map { "\($0): " } ?? "") + message }
}

/// The state of each ENI the metadata or the kernel told about, for reporting.
public struct ENIStatus: Hashable, Sendable {
    public enum State: Hashable, Sendable {
        /// Managed in this plan (configured once the plan is applied).
        case managed(InterfaceDesign)
        /// Listed by the metadata, no kernel link with its MAC yet.
        case waiting
        /// Its link is there, but udev has not finished with it yet (it may still rename it).
        case settling(device: String)
        /// Listed, but the metadata could not describe it this time, or its link cannot be used:
        /// nothing is changed for it.
        case unknown(Undescribed)
        /// Left out by `--interface`.
        case skipped(device: String)
        /// Left alone by `exclude_interfaces` / `exclude_macs` (its link, when it has one).
        case excluded(device: String?)
    }
    public var mac: MACAddress
    public var state: State
    public init(mac: MACAddress, state: State) { self.mac = mac; self.state = state }
}

/// The result of planning: ordered actions, problems, and what became of each ENI.
public struct Plan: Hashable, Sendable {
    public var actions: [Action]
    public var problems: [Problem]
    public var enis: [ENIStatus]
    public var design: NetworkDesign

    public init(actions: [Action], problems: [Problem], enis: [ENIStatus], design: NetworkDesign) {
        self.actions = actions; self.problems = problems; self.enis = enis; self.design = design
    }

    public var isEmpty: Bool { actions.isEmpty }
}

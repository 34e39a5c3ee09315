import ENIModel

/// Which files the agent writes.
public enum RendererKind: String, CaseIterable, Sendable, Codable {
    /// Files only where something reads them: `ifcfg` where `/etc/sysconfig/network-scripts`
    /// exists (RHEL-family network-scripts, or NetworkManager's ifcfg-rh plugin), else `none`.
    /// Resolved against the system before use (`AgentConfig`'s renderer choice).
    case auto
    /// RHEL/CentOS network-scripts: `ifcfg-IF`, `route-IF`, `rule-IF`, plus the sysctl.d file.
    case ifcfg
    /// No files at all: runtime state only.
    case none

    /// The renderer of a resolved kind (`auto` unresolved renders nothing).
    public func renderer(nmControlled: Bool) -> any FileRenderer {
        switch self {
        case .ifcfg: Renderers([IfcfgRenderer(nmControlled: nmControlled), SysctlRenderer()])
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
/// `ip rule` argument lines, carrying the agent's protocol number). The primary ENI's `ifcfg` is
/// never written.
public struct IfcfgRenderer: FileRenderer {
    public static let directory = "/etc/sysconfig/network-scripts"
    public var nmControlled: Bool
    public init(nmControlled: Bool = false) { self.nmControlled = nmControlled }

    public var directories: [String] { [Self.directory] }
    public var files: [String] { [] }

    public func render(_ design: NetworkDesign) throws(ModelError) -> [String: String] {
        var out: [String: String] = [:]
        for d in design.interfaces where d.role == .secondary {
            try validateInterfaceName(d.name)
            let marker = FileMarker.line(owner: d.mac)
            var ifcfg = [marker]
            let len = String(d.eni.subnet.length)
            let fields: [(String, String)] = [
                ("DEVICE", d.name), ("HWADDR", d.mac.description), ("ONBOOT", "yes"), ("BOOTPROTO", "none"),
                ("IPADDR", d.eni.primaryIP.description), ("PREFIX", len),
            ] + d.eni.secondaryIPs.enumerated().flatMap { i, ip in
                [("IPADDR\(i + 1)", ip.description), ("PREFIX\(i + 1)", len)]
            } + [("DEFROUTE", "no"), ("NM_CONTROLLED", nmControlled ? "yes" : "no")]
            for (k, v) in fields { ifcfg.append(try ShellValue.assignment(k, v)) }
            out["\(Self.directory)/ifcfg-\(d.name)"] = ifcfg.joined(separator: "\n") + "\n"
            out["\(Self.directory)/route-\(d.name)"] = ([marker] + d.routes.map(\.description)).joined(separator: "\n") + "\n"
            out["\(Self.directory)/rule-\(d.name)"] = ([marker] + d.rules.map(\.description)).joined(separator: "\n") + "\n"
        }
        return out
    }
}

/// `/etc/sysctl.d/90-eni-agent.conf`: the rp_filter settings, so they hold after a reboot. Each
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

import ENIModel
import ENIPlanner

/// Applies a plan to an observed state the way the kernel and the file system would.
func simulate(_ plan: Plan, on s: ObservedState) -> ObservedState {
    var s = s
    /// Device and subnet of each address, to tell the kernel's secondary flag in linear time.
    func subnetKey(_ a: InterfaceAddress) -> String { "\(a.device) \(a.subnet)" }
    var subnets: Set<String>?
    for a in plan.actions {
        switch a.change {
        case .linkUp(let dev):
            if let i = s.links.firstIndex(where: { $0.name == dev }) { s.links[i].isUp = true }
        case .addAddress(var x):
            if subnets == nil { subnets = Set(s.addresses.map(subnetKey)) }
            x.isSecondary = !subnets!.insert(subnetKey(x)).inserted && x.family == .v4
            x.isTentative = false
            s.addresses.append(x)
        case .removeAddress(let x):
            subnets = nil
            s.addresses.removeAll { $0.sameAs(x) }
            // promote_secondaries on: the next address of the subnet becomes primary.
            if !x.isSecondary, let i = s.addresses.firstIndex(where: { $0.device == x.device && $0.prefixLength == x.prefixLength
                && x.subnet.contains($0.address) }) {
                s.addresses[i].isSecondary = false
            }
        case .addRoute(let r): s.routes.append(r)
        case .removeRoute(let r): s.routes.removeAll { $0 == r }
        case .addRule(let r): s.rules.append(r)
        case .removeRule(let r): if let i = s.rules.firstIndex(of: r) { s.rules.remove(at: i) }
        case .setSysctl(let k, _, let v): s.sysctls[k] = v
        case .writeFile(let p, _, let c, let mode, _): s.files[p] = ObservedFile(.regular(content: c), mode: mode)
        case .removeFile(let p, _): s.files[p] = nil
        }
    }
    return s
}

/// A renderer for the planner's tests, without ENIRender, writing the two shapes of file the
/// planner deals with: a file per secondary ENI (`/etc/eni-test/IF`: its addresses, routes and
/// rules), whose marker names the ENI, and one shared file of settings (`/etc/eni-test.conf`), each
/// line naming the ENI it belongs to (`52:54:00:00:02:0a net.ipv4.conf.eth1.rp_filter=2`, `-` for
/// none) and read back by `persistedSettings`, as the sysctl.d file is.
struct TestRenderer: FileRenderer {
    static let directory = "/etc/eni-test"
    static let settings = "/etc/eni-test.conf"
    var directories: [String] { [Self.directory] }
    var files: [String] { [Self.settings] }

    func render(_ design: NetworkDesign) throws(ModelError) -> [String: String] {
        var out: [String: String] = [:]
        for d in design.interfaces where d.role == .secondary {
            let lines = [FileMarker.line(owner: d.mac)] + d.eni.allIPs.map(\.description) + d.routes.map(\.description)
                + d.rules.map(\.description)
            out["\(Self.directory)/\(d.name)"] = lines.joined(separator: "\n") + "\n"
        }
        if !design.sysctls.isEmpty {
            let lines = design.sysctls.map { "\($0.owner?.description ?? "-") \($0.key)=\($0.value)" }
            out[Self.settings] = ([FileMarker.line(owner: nil)] + lines).joined(separator: "\n") + "\n"
        }
        return out
    }

    func persistedSettings(_ files: [String: ObservedFile]) -> [SysctlSetting] {
        guard let content = files[Self.settings]?.content, FileMarker.isManaged(content) else { return [] }
        return content.split(separator: "\n").dropFirst().compactMap { line in
            let words = line.split(separator: " ")
            let setting = words.last?.split(separator: "=")
            guard words.count == 2, let setting, setting.count == 2 else { return nil }
            return SysctlSetting(key: String(setting[0]), value: String(setting[1]), owner: try? MACAddress(words[0]))
        }
    }
}

import ENIApply
import ENIDBus
import ENIModel
import ENIPlanner
import ENIRender
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the agent tells the network manager after a pass, beyond the files it wrote: NetworkManager
/// loads and runs the agent's keyfiles; systemd-networkd reloads where it runs another file on an
/// ENI. Only on the real system; the calls are injectable (`Agent.openNetworkManager`,
/// `Agent.reloadNetworkd`, `Agent.networkdLink`).
extension Agent {
    /// The renderer writes NetworkManager keyfiles, on the real system (root `/`, PID 1's network
    /// namespace), where the NetworkManager on the system bus is the one that reads them.
    var tellsNetworkManager: Bool {
        renderer.kind == .networkmanager && config.root == "/" && Udev.sharesPID1NetworkNamespace
    }

    /// After a pass that wrote or removed keyfiles in NetworkManager's directory, tells it: it
    /// loads them again (`LoadConnections`; a removed file's profile is unloaded), and each ENI
    /// whose keyfile was written and whose link is in `links` (nil: not known, all) runs the
    /// profile at once: reapplied when it runs it already, else activated in place of what it
    /// runs (NetworkManager's automatic DHCP profile on a hot-plugged NIC). One connection and
    /// one deadline for all the calls. Returns what failed, one line each.
    ///
    /// The agent's `ifcfg-IF` files removed in that pass (a change of renderer from `ifcfg`) are
    /// loaded too: NetworkManager's ifcfg-rh plugin, where it runs, unloads their profiles.
    /// Where it does not, NetworkManager cannot load them, and that is not a problem.
    func tellNetworkManager(after applied: Applied, links: Set<String>?) -> [String] {
        let dir = NetworkManagerRenderer.directory + "/"
        let ifcfg = IfcfgRenderer.directory + "/ifcfg-"
        var formerIfcfg = Set<String>()
        var changed: [String] = []
        var written: [(path: String, interface: String, content: String)] = []
        for o in applied.outcomes where o.result == .done {
            switch o.action.change {
            case .writeFile(let path, _, let content, _, _) where path.hasPrefix(dir):
                changed.append(path)
                if let name = NetworkManagerRenderer.interface(ofPath: path) { written.append((path, o.action.interface ?? name, content)) }
            case .removeFile(let path, _) where path.hasPrefix(dir):
                changed.append(path)
            case .removeFile(let path, _) where path.hasPrefix(ifcfg):
                changed.append(path)
                formerIfcfg.insert(path)
            default:
                break
            }
        }
        guard !changed.isEmpty else { return [] }
        let later = "; it reads them when it restarts"
        let nm: any NetworkManagerAPI
        do throws(BusError) { nm = try openNetworkManager() } catch {
            return ["NetworkManager was not told of the agent's keyfiles (\(error))\(later)"]
        }
        let failures: [String]
        do throws(BusError) { failures = try nm.loadConnections(changed).filter { !formerIfcfg.contains($0) } } catch {
            return ["NetworkManager did not load \(changed.joined(separator: ", ")): LoadConnections: \(error)\(later)"]
        }
        var problems: [String] = []
        if !failures.isEmpty {
            problems.append("NetworkManager could not load \(failures.joined(separator: ", ")) (LoadConnections; its log says why)")
        }
        for w in written where links?.contains(w.interface) ?? true && !failures.contains(w.path) {
            guard let uuid = Self.keyfileUUID(w.content) else {
                problems.append("\(w.path) has no uuid in [connection]: not activated on \(w.interface)")
                continue
            }
            do throws(BusError) {
                if try nm.activate(uuid: uuid, interface: w.interface) == .unmanaged {
                    problems.append("NetworkManager does not manage \(w.interface): \(w.path) is not run on it; the agent alone holds its configuration")
                }
            } catch {
                problems.append("NetworkManager did not run \(w.path) on \(w.interface): \(error)")
                // The connection is gone or out of time: the other calls would fail alike.
                if case .transport = error { break }
            }
        }
        return problems
    }

    /// The renderer writes systemd-networkd files, on the real system (root `/`, PID 1's network
    /// namespace), where the networkd on the system bus is the one that reads them.
    var tellsNetworkd: Bool {
        renderer.kind == .networkd && config.root == "/" && Udev.sharesPID1NetworkNamespace
            && files.isRegularFile(NetworkdRenderer.runningMarker)
    }

    /// After each pass (not only those that wrote a file: networkd takes a hot-plugged NIC
    /// seconds after the agent configured it, under emulation), where networkd runs another file
    /// than the agent's on the link of an ENI the agent has a `.network` file for (an image's
    /// catch-all DHCP file, `Name=en* eth*`: DHCP on the ENI, a second default route in the main
    /// table), tells networkd to read its files again (`Reload`), once: the link then runs the
    /// agent's file (05- sorts first). Never for a link networkd does not manage: each link it
    /// (re)configures makes it drop every routing policy rule it does not know (its default
    /// `ManageForeignRoutingPolicyRules=yes`), so a reload for it would remove another program's
    /// rules; a link it runs a file on was configured, and such rules dropped, by networkd itself.
    /// Returns what it did (one line, info) and what failed (one line).
    func tellNetworkd(links: [Link]) -> (notes: [String], problems: [String]) {
        let others = networkdRunsOtherFiles(links: links)
        guard !others.isEmpty else { return ([], []) }
        let taken = others.map { "\($0.link.name) (\($0.running))" }
        others.map(\.key).forEach(networkdReloads.insert)
        do throws(BusError) { try reloadNetworkd() } catch {
            return ([], ["systemd-networkd was not told to read the agent's files for \(taken.joined(separator: ", ")) (\(error)); it reads them when it restarts"])
        }
        return (["systemd-networkd told to read the agent's files (networkctl reload): it ran another file on \(taken.joined(separator: ", "))"], [])
    }

    /// The links of `links` where networkd runs another file than the agent's, and the agent has
    /// its `.network` file (or `writing` says it writes it now), not reloaded for yet.
    func networkdRunsOtherFiles(links: [Link], writing: Set<String> = []) -> [(link: Link, running: String, key: String)] {
        links.sorted(by: { $0.index < $1.index }).compactMap { l in
            guard l.mayBeENI, Link.isSafeName(l.name) else { return nil }
            let ours = NetworkdRenderer.path(l.name)
            guard let running = networkdLink(l.index)?.networkFile, running != ours,
                  writing.contains(ours) || files.isRegularFile(ours) else { return nil }
            let key = "\(l.index) \(running)"
            return networkdReloads.contains(key) ? nil : (l, running, key)
        }
    }

    /// How long a pass waits for networkd to run the agent's files on the links it reloaded for.
    static let networkdHandoverWait: Duration = .seconds(5)

    /// Hands ENIs' links over to the agent's files where networkd runs another file on them (an
    /// image's catch-all DHCP file). `plan` not applied yet (`applied` false): its files first.
    /// Then, on those links, the secondary IPv4 addresses go for a moment; networkd is told to
    /// read the files; the pass waits (at most `networkdHandoverWait`) until networkd runs them
    /// there; and the kernel changes, planned afresh by `replan` on what networkd left, come
    /// last. Otherwise systemd 252 loops: taking the link from its DHCP file it removes the
    /// lease's address, the kernel promotes the ENI's secondary IP, and networkd sends requests
    /// for that address until its netlink socket has 65535 outstanding; then it marks every link
    /// it has a request for `failed` ("Numerical result out of range"), the primary included,
    /// and stops their DHCP and router advertisement clients. The secondary IPs may be there
    /// before the takeover whatever the agent does first (networkd takes a hot-plugged NIC, and
    /// its lease may name the address the agent added, seconds after the agent's pass): so the
    /// pass looks both before its changes and after them. nil when no link needs it.
    func handOverToNetworkd(_ plan: Plan, applied: Bool, on m: Machine, replan: () throws -> Plan) throws
        -> (plan: Plan, applied: Applied, notes: [String], problems: [String])? {
        let written = applied ? [] : Set(plan.actions.compactMap { a -> String? in
            if case .writeFile(let path, _, _, _, _) = a.change { return path }
            return nil
        })
        let others = networkdRunsOtherFiles(links: try m.kernel.links(), writing: written)
        guard !others.isEmpty else { return nil }
        let names = Set(others.map(\.link.name))
        let secondaries = Set(plan.design.interfaces.filter { names.contains($0.name) }.flatMap { d in
            (d.eni.ipv4?.secondaryIPs ?? []).map { IPAddress.v4($0) }
        })
        let removals = try m.kernel.addresses().filter { names.contains($0.device) && secondaries.contains($0.address) }.sorted().map {
            Action(.removeAddress($0), interface: $0.device,
                   reason: "networkd takes the link from another file: its secondary IPs wait (a promoted one makes systemd 252 loop)")
        }
        let first = Plan(actions: (applied ? [] : plan.actions.filter(\.change.isFile)) + removals, problems: plan.problems,
                         enis: plan.enis, design: plan.design)
        var done = m.apply(first)
        let (notes, problems) = tellNetworkd(links: try m.kernel.links())
        if problems.isEmpty {
            let deadline = ContinuousClock.now + Self.networkdHandoverWait
            while others.contains(where: { networkdLink($0.link.index)?.networkFile != NetworkdRenderer.path($0.link.name) }),
                  ContinuousClock.now < deadline {
                _ = poll(nil, 0, 50)  // networkd's state files have no event to wait on here: a look every 50 ms
            }
        }
        let again = try replan()
        done = done.followed(by: m.apply(again))
        return (Plan(actions: first.actions + again.actions, problems: again.problems, enis: again.enis, design: again.design),
                done, notes, problems)
    }

    /// The `uuid=` of a keyfile's `[connection]` section.
    static func keyfileUUID(_ keyfile: String) -> String? {
        func trim(_ s: Substring) -> Substring {
            var s = s
            while let f = s.first, f.isWhitespace { s = s.dropFirst() }
            while let l = s.last, l.isWhitespace { s = s.dropLast() }
            return s
        }
        var section: Substring = ""
        for raw in keyfile.split(separator: "\n") {
            let line = trim(raw)
            if line.hasPrefix("["), line.hasSuffix("]") { section = line.dropFirst().dropLast(); continue }
            guard section == "connection", line.hasPrefix("uuid=") else { continue }
            let uuid = trim(line.dropFirst(5))
            return uuid.isEmpty ? nil : String(uuid)
        }
        return nil
    }
}

/// What the agent remembers across passes of the reloads it asked for (a reference: the daemon's
/// agent is one value for its whole run).
final class ReloadMemory: @unchecked Sendable {
    private var keys = Set<String>()
    func contains(_ key: String) -> Bool { keys.contains(key) }
    func insert(_ key: String) { keys.insert(key) }
}

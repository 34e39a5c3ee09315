import ENIModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// udev's view of this network namespace's links, read from `/run/udev`: whether udev manages them,
/// and which it has not finished with yet. udev may still rename such a link (`eth1` → `ens6`), and
/// bringing it up first makes the rename fail, so the agent waits for it, as systemd-networkd and
/// NetworkManager do. A link is finished once udev's database has its entry (`data/n<ifindex>`).
public struct Udev: Sendable {
    public var runDirectory: String
    /// Whether to check that this process shares PID 1's network namespace (off only in tests).
    var checksNamespace = true
    public init(runDirectory: String = "/run/udev") { self.runDirectory = runDirectory }

    /// udev runs (its control socket exists) and sees these links: this process is in PID 1's
    /// network namespace, where udevd runs, never in one a test or container made.
    public var isActive: Bool {
        guard access(runDirectory + "/control", F_OK) == 0 else { return false }
        return !checksNamespace || Self.sharesPID1NetworkNamespace
    }

    /// This process is in PID 1's network namespace (or it cannot tell: without `CAP_SYS_PTRACE`
    /// PID 1's namespace link may not be readable), where the system's daemons (udevd, the network
    /// manager on the system bus) manage the links.
    public static var sharesPID1NetworkNamespace: Bool {
        let mine = namespace("/proc/self/ns/net"), pid1 = namespace("/proc/1/ns/net")
        return mine == nil || pid1 == nil || mine == pid1
    }

    /// The indexes of the links udev has finished with; nil when udev is not active. Read it before
    /// the links: a link finished after that read may have been renamed since (udev renames, then
    /// writes its database), so it counts as not finished until the next look.
    public func finished() -> Set<Int32>? {
        guard isActive else { return nil }
        let path = runDirectory + "/data"
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return [] }  // no database yet: nothing finished
        defer { close(fd) }
        let names = (try? FileStore.names(inDirectory: fd, path: path)) ?? []
        return Set(names.compactMap { $0.first == "n" ? Int32($0.dropFirst()) : nil })
    }

    /// The links that may be ENIs (with a MAC) that udev had not finished with at `finished`'s
    /// read; none when udev is not active.
    public static func unsettled(_ links: [Link], finished: Set<Int32>?) -> Set<String> {
        guard let finished else { return [] }
        return Set(links.filter { $0.mac != nil && !finished.contains($0.index) }.map(\.name))
    }

    /// `net:[4026531840]` for a namespace link; nil when it cannot be read.
    static func namespace(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 64)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// What systemd-networkd says of a link while it runs: `/run/systemd/netif/links/IFINDEX`, a file
/// of `KEY=value` lines it rewrites as the link's state changes (`link_save`,
/// src/network/networkd-state-file.c).
public struct NetworkdLinkState: Equatable, Sendable {
    /// `NETWORK_FILE=`: the `.network` file it applies to the link, if it manages it.
    public var networkFile: String?

    public init(networkFile: String?) { self.networkFile = networkFile }

    /// Parses the state file's text; keys it does not know are ignored.
    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[1].isEmpty else { continue }
            if kv[0] == "NETWORK_FILE" { networkFile = String(kv[1]) }
        }
    }

    /// The state of the link with that index as networkd wrote it, nil when there is no such file.
    public static func read(index: Int32) -> NetworkdLinkState? {
        guard let bytes = try? FileStore.readFile(atPath: "/run/systemd/netif/links/\(index)", limit: 1 << 16) else { return nil }
        return NetworkdLinkState(parsing: String(decoding: bytes, as: UTF8.self))
    }
}

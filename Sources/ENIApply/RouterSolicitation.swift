import ENIModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An ICMPv6 router solicitation (RFC 4861 §4.1) on one link: the routers on it answer with an
/// advertisement at once, from which the kernel learns them (a neighbour with the router flag,
/// whatever `accept_ra` says). The kernel sends its own only where `accept_ra` is on, the host
/// does not forward, and the link has just come up; networkd and NetworkManager set `accept_ra` 0
/// on the links they manage and send theirs only where they handle advertisements themselves. So
/// the agent sends one while an ENI's IPv6 waits for its router (AWS names no gateway).
public enum RouterSolicitation {
    /// Sends one solicitation on the link, from its link-local address to all routers
    /// (`ff02::2`), hop limit 255, carrying its MAC (the source link-layer address option) so that
    /// a router may answer without asking for it first. Needs `CAP_NET_RAW`.
    public static func send(on link: Link) throws(FileError) {
        let what = "a router solicitation on"
        let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMPV6))
        guard fd >= 0 else { throw FileError("open " + what, link.name, errno: errno) }
        defer { close(fd) }
        var index = UInt32(bitPattern: link.index), hops: Int32 = 255
        guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &index, socklen_t(MemoryLayout<UInt32>.size)) == 0,
              setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) == 0
        else { throw FileError("set up " + what, link.name, errno: errno) }
        // Type 133, code 0, checksum (the kernel fills it in), 4 reserved bytes; then the option.
        var message: [UInt8] = [133, 0, 0, 0, 0, 0, 0, 0]
        if let mac = link.mac { message += [1, 1] + mac.bytes }
        var to = sockaddr_in6()
        to.sin6_family = sa_family_t(AF_INET6)
        to.sin6_scope_id = index
        withUnsafeMutableBytes(of: &to.sin6_addr) { b in
            for (i, byte) in Self.allRouters.bytes.enumerated() { b[i] = byte }
        }
        let sent = message.withUnsafeBytes { m in
            withUnsafePointer(to: &to) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, m.baseAddress, m.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        guard sent == message.count else { throw FileError("send " + what, link.name, errno: sent < 0 ? errno : EIO) }
    }

    /// `ff02::2`: every router on the link.
    static let allRouters = try! IPv6Address("ff02::2")

    /// How long between two solicitations while a router is awaited (RFC 4861's
    /// `RTR_SOLICITATION_INTERVAL`), and how many are sent that fast (`MAX_RTR_SOLICITATIONS`).
    public static let interval: Duration = .seconds(4)
    public static let burst = 3
}

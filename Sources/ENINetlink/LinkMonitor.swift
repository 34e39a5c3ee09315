internal import CNetlink
import ENIModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the kernel said about links since the last read.
public struct LinkEvents: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `RTM_NEWLINK`: a link appeared, or one of its attributes (name, MAC, flags...) changed.
        case new
        /// `RTM_DELLINK`: a link went away (deleted, or moved to another namespace).
        case deleted
    }
    public struct Event: Sendable, Equatable {
        public var kind: Kind
        public var link: Link
        public init(kind: Kind, link: Link) { self.kind = kind; self.link = link }
    }
    /// An address, route or rule of either family added or removed (monitors made with
    /// `objects: true`), or an IPv6 router learned (while `watchRouters` is on).
    public enum Change: Sendable, Equatable {
        /// On the link with this index (the address's device name is empty).
        case address(InterfaceAddress, link: Int32)
        /// Through the link with this index, when it has one next hop (the device name is nil).
        case route(Route, link: Int32?)
        case rule(Rule)
        /// A neighbour with the router flag on the link with this index: a router advertisement.
        case router(IPv6Address, link: Int32)
    }
    public struct ObjectEvent: Sendable, Equatable {
        public var kind: Kind
        public var change: Change
        public init(kind: Kind, change: Change) { self.kind = kind; self.change = change }
    }
    public var events: [Event]
    public var objects: [ObjectEvent]
    /// The kernel dropped notifications (`ENOBUFS`: the socket's receive buffer overflowed).
    /// Events were lost: the reader must read the whole state again.
    public var overrun: Bool

    public init(events: [Event] = [], objects: [ObjectEvent] = [], overrun: Bool = false) {
        self.events = events; self.objects = objects; self.overrun = overrun
    }
}

/// A netlink socket subscribed to link notifications (`ip monitor link`), and with `objects`, to
/// address, route and rule notifications of both families too (`ip monitor link address route
/// rule`); with `watchRouters`, to neighbour notifications, of which it keeps the IPv6 routers.
///
/// The socket is non-blocking: the owner polls `fileDescriptor` in its own loop (with its other
/// descriptors and deadlines) and calls `read()` when it is readable, which returns everything
/// queued at once, so a burst of notifications is read as one batch. Idle, it costs no wakeups.
public final class LinkMonitor {
    private let sk: OpaquePointer
    /// The netlink socket, to poll for `POLLIN`.
    public let fileDescriptor: Int32
    private let collector = Collector()
    /// Subscribed to neighbour notifications (`watchRouters`).
    public private(set) var watchesRouters = false

    /// Events parsed by libnl's callback during one `nl_recvmsgs_default`.
    private final class Collector {
        var events: [LinkEvents.Event] = []
        var objects: [LinkEvents.ObjectEvent] = []
        /// The kind and type of the message being parsed.
        var kind: LinkEvents.Kind = .new
        var type: UInt16 = 0
    }

    /// `receiveBuffer`: bytes the kernel may queue for this socket before it drops notifications.
    /// `namespace`: the network namespace at this path instead of the calling thread's.
    public init(namespace: String? = nil, receiveBuffer: Int = 1 << 20, objects: Bool = false) throws(NetlinkError) {
        let context = Unmanaged.passUnretained(collector).toOpaque()
        sk = try Netlink.withNamespace(namespace) { () throws(NetlinkError) in
            try Netlink.socket { sk throws(NetlinkError) in
                // Notifications carry no sequence number of ours.
                nl_socket_disable_seq_check(sk)
                try NetlinkError.check(nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, Self.received, context),
                                       "subscribe", "link notifications")
            }
        }
        do {
            try NetlinkError.check(nl_socket_add_membership(sk, Int32(RTNLGRP_LINK.rawValue)), "subscribe", "link notifications")
            if objects {
                for (group, what) in [(RTNLGRP_IPV4_IFADDR, "address"), (RTNLGRP_IPV4_ROUTE, "route"), (RTNLGRP_IPV4_RULE, "rule"),
                                      (RTNLGRP_IPV6_IFADDR, "IPv6 address"), (RTNLGRP_IPV6_ROUTE, "IPv6 route"),
                                      (RTNLGRP_IPV6_RULE, "IPv6 rule")] {
                    try NetlinkError.check(nl_socket_add_membership(sk, Int32(group.rawValue)), "subscribe", "\(what) notifications")
                }
            }
            try NetlinkError.check(nl_socket_set_buffer_size(sk, Int32(receiveBuffer), 0), "set buffer size", "link notifications")
            // SO_RCVBUF is capped by net.core.rmem_max (208 KiB on a stock kernel): with
            // CAP_NET_ADMIN (the daemon has it), the size asked for, so that the notifications of a
            // large apply of its own do not overflow it. Without the capability the capped size
            // set above stays: an overrun then costs a full re-read, never an event.
            var size = Int32(receiveBuffer)
            _ = setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
            try NetlinkError.check(nl_socket_set_nonblocking(sk), "set non-blocking", "link notifications")
        } catch {
            nl_socket_free(sk)
            throw error
        }
        fileDescriptor = nl_socket_get_fd(sk)
    }

    deinit { nl_socket_free(sk) }

    /// Follows the neighbour table, for the IPv6 routers router advertisements make known, or stops
    /// following it. Neighbour entries change state all the time on a busy host: the daemon
    /// follows them only while an ENI waits for its router.
    public func watchRouters(_ on: Bool) throws(NetlinkError) {
        guard on != watchesRouters else { return }
        let group = Int32(RTNLGRP_NEIGH.rawValue)
        try NetlinkError.check(on ? nl_socket_add_membership(sk, group) : nl_socket_drop_membership(sk, group),
                               on ? "subscribe" : "unsubscribe", "neighbour notifications")
        watchesRouters = on
    }

    /// libnl's callback for each valid message: link messages are parsed (by libnl's own parser,
    /// into an `rtnl_link`) and collected.
    private static let received: nl_recvmsg_msg_cb_t = { msg, arg in
        guard let msg, let arg else { return Int32(NL_OK.rawValue) }
        let type = nlmsg_hdr(msg).pointee.nlmsg_type
        let new: [UInt16] = [UInt16(RTM_NEWLINK), UInt16(RTM_NEWADDR), UInt16(RTM_NEWROUTE), UInt16(RTM_NEWRULE), UInt16(RTM_NEWNEIGH)]
        let deleted: [UInt16] = [UInt16(RTM_DELLINK), UInt16(RTM_DELADDR), UInt16(RTM_DELROUTE), UInt16(RTM_DELRULE)]
        guard new.contains(type) || deleted.contains(type) else { return Int32(NL_OK.rawValue) }
        let collector = Unmanaged<Collector>.fromOpaque(arg).takeUnretainedValue()
        collector.kind = new.contains(type) ? .new : .deleted
        collector.type = type
        _ = nl_msg_parse(msg, { obj, arg in
            guard let obj, let arg else { return }
            let collector = Unmanaged<Collector>.fromOpaque(arg).takeUnretainedValue()
            let change: LinkEvents.Change?
            switch Int(collector.type) {
            case RTM_NEWLINK, RTM_DELLINK:
                if let link = Netlink.link(obj) { collector.events.append(LinkEvents.Event(kind: collector.kind, link: link)) }
                return
            case RTM_NEWADDR, RTM_DELADDR: change = Netlink.address(obj).map { .address($0.0, link: $0.1) }
            case RTM_NEWROUTE, RTM_DELROUTE: change = Netlink.route(obj).map { .route($0.0, link: $0.1) }
            case RTM_NEWNEIGH: change = Netlink.router(obj).map { .router($0.0, link: $0.1) }
            default: change = Netlink.rule(obj).map { .rule($0) }
            }
            if let change { collector.objects.append(LinkEvents.ObjectEvent(kind: collector.kind, change: change)) }
        }, arg)
        return Int32(NL_OK.rawValue)
    }

    /// Reads every queued notification without blocking (none queued: an empty batch).
    public func read() -> LinkEvents {
        var out = LinkEvents()
        while true {
            let rc = nl_recvmsgs_default(sk)
            if rc == -NLE_AGAIN { break }
            // libnl reports the socket's ENOBUFS as NLE_NOMEM: notifications were dropped.
            if rc == -NLE_NOMEM { out.overrun = true; continue }
            if rc < 0 { out.overrun = true; break }
        }
        out.events = collector.events
        out.objects = collector.objects
        collector.events = []
        collector.objects = []
        return out
    }
}

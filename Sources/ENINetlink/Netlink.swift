internal import CNetlink
internal import CLinux
import ENIModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An rtnetlink socket in the calling thread's network namespace, through libnl-3.
///
/// Reads (`links()`, `addresses()`, `routes()`, `rules()`) dump the kernel's tables; each change is
/// one request, documented with its `ip` equivalent, and counted in `writes`.
/// Not thread-safe: use one per task.
public final class Netlink {
    private let sk: OpaquePointer
    /// Name -> ifindex, from the last `links()` dump; refreshed when a name is missing.
    private var indexByName: [String: Int32] = [:]
    private var nameByIndex: [Int32: String] = [:]
    /// Change requests sent so far (successful or not).
    public private(set) var writes = 0

    /// A socket in the calling thread's network namespace, or in the one at `namespace` (e.g.
    /// `/run/netns/NAME`): a netlink socket stays in the namespace it was made in.
    public init(namespace path: String? = nil) throws(NetlinkError) {
        sk = try Self.withNamespace(path) { () throws(NetlinkError) in try Self.socket { _ in } }
    }

    /// A new connected rtnetlink socket; `setUp` runs before it connects.
    static func socket(_ setUp: (OpaquePointer) throws(NetlinkError) -> Void) throws(NetlinkError) -> OpaquePointer {
        guard let sk = nl_socket_alloc() else {
            throw NetlinkError(operation: "open", object: "netlink socket", code: .other(NLE_NOMEM), reason: "out of memory")
        }
        do {
            try setUp(sk)
            try NetlinkError.check(nl_connect(sk, NETLINK_ROUTE), "connect", "rtnetlink socket")
        } catch {
            nl_socket_free(sk)
            throw error
        }
        return sk
    }

    /// Runs `body` with the calling thread in the network namespace at `path` (nil: where it is),
    /// and returns the thread to its own namespace before this returns.
    static func withNamespace<T>(_ path: String?, _ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        guard let path else { return try body() }
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw .call("open", "namespace \(path)", errno: errno) }
        defer { close(target) }
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw .call("open", "own namespace", errno: errno) }
        defer { close(home) }
        guard eni_setns(target, CLONE_NEWNET) == 0 else { throw .call("enter", "namespace \(path)", errno: errno) }
        defer { precondition(eni_setns(home, CLONE_NEWNET) == 0, "cannot return to the thread's own network namespace") }
        return try body()
    }

    deinit { nl_socket_free(sk) }

    // MARK: - Reading

    /// Iterates a freshly allocated libnl cache, freeing it afterwards.
    private func withCache<T>(_ what: String, _ alloc: (OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> Int32,
                              _ body: (OpaquePointer) throws(NetlinkError) -> T?) throws(NetlinkError) -> [T] {
        var cache: OpaquePointer?
        // A dump the kernel interrupted (the table changed meanwhile) is read again, a few times.
        var rc = alloc(sk, &cache)
        for _ in 0..<3 where rc == -NLE_DUMP_INTR { rc = alloc(sk, &cache) }
        try NetlinkError.check(rc, "dump", what)
        guard let cache else { return [] }
        defer { nl_cache_free(cache) }
        var out: [T] = []
        var obj = nl_cache_get_first(cache)
        while let o = obj {
            if let v = try body(o) { out.append(v) }
            obj = nl_cache_get_next(o)
        }
        return out
    }

    /// `ip link show`
    public func links() throws(NetlinkError) -> [Link] {
        let links: [Link] = try withCache("links", { rtnl_link_alloc_cache($0, AF_UNSPEC, $1) }) { Self.link($0) }
        indexByName = Dictionary(links.map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
        nameByIndex = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        return links
    }

    /// A libnl `rtnl_link` as a `Link` (nil without a name).
    static func link(_ o: OpaquePointer) -> Link? {
        let idx = rtnl_link_get_ifindex(o)
        guard let cname = rtnl_link_get_name(o) else { return nil }
        var mac: MACAddress?
        if let a = rtnl_link_get_addr(o), nl_addr_get_len(a) == 6, let p = nl_addr_get_binary_addr(a) {
            let bytes = Array(UnsafeRawBufferPointer(start: p, count: 6))
            if bytes.contains(where: { $0 != 0 }) { mac = try? MACAddress(bytes: bytes) }
        }
        let master = rtnl_link_get_master(o)
        let flags = rtnl_link_get_flags(o)
        return Link(index: Int32(idx), name: String(cString: cname), mac: mac,
                    isUp: flags & UInt32(IFF_UP.rawValue) != 0,
                    hasCarrier: flags & UInt32(IFF_LOWER_UP.rawValue) != 0,
                    kind: rtnl_link_get_type(o).map { String(cString: $0) },
                    master: master == 0 ? nil : Int32(master))
    }

    /// `ip addr show`
    public func addresses() throws(NetlinkError) -> [InterfaceAddress] {
        if nameByIndex.isEmpty { _ = try links() }
        return try withCache("addresses", { rtnl_addr_alloc_cache($0, $1) }) { o in
            guard let (a, idx) = Self.address(o), let dev = nameByIndex[idx] else { return nil }
            var address = a
            address.device = dev
            return address
        }
    }

    /// A libnl `rtnl_addr` (IPv4 or IPv6) as an address on the link with the index (device name
    /// empty).
    static func address(_ o: OpaquePointer) -> (InterfaceAddress, Int32)? {
        guard let local = rtnl_addr_get_local(o), let ip = ipAddress(local) else { return nil }
        let flags = rtnl_addr_get_flags(o)
        return (InterfaceAddress(address: ip, prefixLength: Int(rtnl_addr_get_prefixlen(o)), device: "",
                                 isSecondary: ip.family == .v4 && flags & UInt32(IFA_F_SECONDARY) != 0,
                                 isTentative: ip.family == .v6 && flags & UInt32(IFA_F_TENTATIVE | IFA_F_DADFAILED) != 0),
                Int32(rtnl_addr_get_ifindex(o)))
    }

    /// `ip route show table all` and `ip -6 route show table all` (unicast routes only)
    ///
    /// One route per message of the kernel's dump, not libnl's route cache: the cache takes IPv6
    /// routes with the same table, destination and metric for next hops of one route (as kernels
    /// before 4.11 dumped a multipath route), so the image's default route through eth0 and one a
    /// router advertisement gave eth1 would read as one route through neither.
    public func routes() throws(NetlinkError) -> [Route] {
        if nameByIndex.isEmpty { _ = try links() }
        final class Collected { var routes: [(Route, Int32?)] = [] }
        var collected = Collected()
        var rc: Int32 = 0
        for _ in 0..<4 {
            collected = Collected()
            guard let cb = nl_cb_alloc(NL_CB_DEFAULT) else { throw .outOfMemory("dump", "routes", "nl_cb_alloc") }
            defer { nl_cb_put(cb) }
            let context = Unmanaged.passUnretained(collected).toOpaque()
            try NetlinkError.check(nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, { msg, arg in
                guard let msg, let arg else { return Int32(NL_OK.rawValue) }
                _ = nl_msg_parse(msg, { obj, arg in
                    guard let obj, let arg, let r = Netlink.route(obj) else { return }
                    Unmanaged<Collected>.fromOpaque(arg).takeUnretainedValue().routes.append(r)
                }, arg)
                return Int32(NL_OK.rawValue)
            }, context), "dump", "routes")
            try NetlinkError.check(nl_rtgen_request(sk, Int32(RTM_GETROUTE), AF_UNSPEC, NLM_F_DUMP), "dump", "routes")
            rc = nl_recvmsgs(sk, cb)
            // A dump the kernel interrupted (the table changed meanwhile) is read again.
            if rc != -NLE_DUMP_INTR { break }
        }
        try NetlinkError.check(rc, "dump", "routes")
        return collected.routes.map { route, idx in
            var r = route
            r.device = idx.flatMap { nameByIndex[$0] }
            return r
        }
    }

    /// A libnl `rtnl_route` (IPv4 or IPv6 unicast) as a route, with its one next hop's link index
    /// (device name nil).
    static func route(_ o: OpaquePointer) -> (Route, Int32?)? {
        let family = Int32(rtnl_route_get_family(o))
        guard family == AF_INET || family == AF_INET6, rtnl_route_get_type(o) == UInt8(RTN_UNICAST),
              let dstAddr = rtnl_route_get_dst(o) else { return nil }
        let len = Int(nl_addr_get_prefixlen(dstAddr))
        let network = nl_addr_get_len(dstAddr) == 0 ? (family == AF_INET ? .v4(IPv4Address(value: 0)) : .v6(IPv6Address(value: 0)))
            : ipAddress(dstAddr)
        guard let network, network.family == (family == AF_INET ? .v4 : .v6), len <= network.bitLength else { return nil }
        let dst = IPPrefix(containing: network, length: len)
        var index: Int32?, gateway: IPAddress?
        if rtnl_route_get_nnexthops(o) == 1, let nh = rtnl_route_nexthop_n(o, 0) {
            index = Int32(rtnl_route_nh_get_ifindex(nh))
            gateway = rtnl_route_nh_get_gateway(nh).flatMap(ipAddress)
        }
        return (Route(table: rtnl_route_get_table(o), destination: dst, gateway: gateway, device: nil,
                      scope: RouteScope(rawValue: rtnl_route_get_scope(o)) ?? .universe,
                      proto: rtnl_route_get_protocol(o), metric: rtnl_route_get_priority(o)), index)
    }

    /// `ip rule show` and `ip -6 rule show`
    public func rules() throws(NetlinkError) -> [Rule] {
        try withCache("rules", { rtnl_rule_alloc_cache($0, AF_UNSPEC, $1) }) { Self.rule($0) }
    }

    /// A libnl `rtnl_rule` (IPv4 or IPv6) as a rule.
    static func rule(_ o: OpaquePointer) -> Rule? {
        let family: IPFamily
        switch rtnl_rule_get_family(o) {
        case AF_INET: family = .v4
        case AF_INET6: family = .v6
        default: return nil
        }
        var proto: UInt8 = 0
        if rtnl_rule_get_protocol(o, &proto) < 0 { proto = 0 }
        var source: IPPrefix?
        if let s = rtnl_rule_get_src(o), let ip = ipAddress(s), ip.family == family {
            let len = Int(nl_addr_get_prefixlen(s))
            guard len <= ip.bitLength else { return nil }
            source = IPPrefix(containing: ip, length: len)
        }
        let mark = rtnl_rule_get_mark(o)
        let other = rtnl_rule_get_dst(o) != nil || rtnl_rule_get_iif(o) != nil || rtnl_rule_get_oif(o) != nil
            || rtnl_rule_get_dsfield(o) != 0 || (mark != 0 && mark != UInt32.max)
            || rtnl_rule_get_action(o) != UInt8(FR_ACT_TO_TBL) || rtnl_rule_get_goto(o) != 0
        return Rule(priority: rtnl_rule_get_prio(o), source: source, family: family, table: rtnl_rule_get_table(o),
                    proto: proto, hasOtherSelectors: other)
    }

    /// `ip -6 neigh show` (the entries with the router flag): the IPv6 routers the kernel learned on
    /// each link from their router advertisements.
    public func routers() throws(NetlinkError) -> [IPv6Router] {
        if nameByIndex.isEmpty { _ = try links() }
        return try withCache("neighbours", { rtnl_neigh_alloc_cache($0, $1) }) { o in
            guard let (address, idx) = Self.router(o), let dev = nameByIndex[idx] else { return nil }
            return IPv6Router(device: dev, address: address)
        }
    }

    /// A libnl `rtnl_neigh` with the router flag, IPv6, as its address and link index.
    static func router(_ o: OpaquePointer) -> (IPv6Address, Int32)? {
        guard rtnl_neigh_get_family(o) == AF_INET6, rtnl_neigh_get_flags(o) & UInt32(NTF_ROUTER) != 0,
              rtnl_neigh_get_state(o) & Int32(NUD_FAILED) == 0,
              let dst = rtnl_neigh_get_dst(o), let ip = ipAddress(dst)?.ipv6 else { return nil }
        return (ip, Int32(rtnl_neigh_get_ifindex(o)))
    }

    // MARK: - Changing

    private func index(of device: String, for what: String, _ object: String? = nil) throws(NetlinkError) -> Int32 {
        if indexByName[device] == nil { _ = try links() }
        guard let i = indexByName[device] else {
            throw NetlinkError(operation: what, object: object ?? "dev \(device)", code: .noDevice, reason: "no such interface")
        }
        return i
    }

    /// `ip link set dev DEV up`
    public func setUp(_ device: String) throws(NetlinkError) {
        let idx = try index(of: device, for: "set up")
        var link: OpaquePointer?
        try NetlinkError.check(rtnl_link_get_kernel(sk, idx, nil, &link), "set up", "dev \(device)")
        guard let link else { return }
        defer { rtnl_link_put(link) }
        guard let change = rtnl_link_alloc() else { throw .outOfMemory("set up", "dev \(device)", "rtnl_link_alloc") }
        defer { rtnl_link_put(change) }
        rtnl_link_set_flags(change, UInt32(IFF_UP.rawValue))
        writes += 1
        try NetlinkError.check(rtnl_link_change(sk, link, change, 0), "set up", "dev \(device)")
    }

    /// `ip addr add A/LEN dev DEV` / `ip addr del A/LEN dev DEV`
    public func add(_ a: InterfaceAddress) throws(NetlinkError) { try address(a, add: true) }
    public func remove(_ a: InterfaceAddress) throws(NetlinkError) { try address(a, add: false) }

    private func address(_ a: InterfaceAddress, add: Bool) throws(NetlinkError) {
        let op = add ? "add address" : "delete address"
        let idx = try index(of: a.device, for: op, a.description)
        guard let obj = rtnl_addr_alloc() else { throw .outOfMemory(op, a.description, "rtnl_addr_alloc") }
        defer { rtnl_addr_put(obj) }
        let local = try nlAddr(a.address, a.prefixLength, op, a.description)
        // The cloud assigns each IPv6 address once: usable at once, as `nodad` (the ENI's
        // `accept_dad` is 0 too, for the addresses others add); and with no prefix route in the
        // main table (`noprefixroute`): its subnet is on-link in the ENI's own table only.
        if a.family == .v6 { rtnl_addr_set_flags(obj, UInt32(IFA_F_NODAD | IFA_F_NOPREFIXROUTE)) }
        defer { nl_addr_put(local) }
        rtnl_addr_set_ifindex(obj, Int32(idx))
        try NetlinkError.check(rtnl_addr_set_local(obj, local), op, a.description)
        rtnl_addr_set_prefixlen(obj, Int32(a.prefixLength))
        writes += 1
        let rc = add ? rtnl_addr_add(sk, obj, NLM_F_EXCL) : rtnl_addr_delete(sk, obj, 0)
        try NetlinkError.check(rc, op, a.description)
    }

    /// `ip route add ROUTE` / `ip route del ROUTE`
    public func add(_ r: Route) throws(NetlinkError) { try route(r, add: true) }
    public func remove(_ r: Route) throws(NetlinkError) { try route(r, add: false) }

    private func route(_ r: Route, add: Bool) throws(NetlinkError) {
        let op = add ? "add route" : "delete route"
        guard let obj = rtnl_route_alloc() else { throw .outOfMemory(op, r.description, "rtnl_route_alloc") }
        defer { rtnl_route_put(obj) }
        try NetlinkError.check(rtnl_route_set_family(obj, UInt8(r.family == .v4 ? AF_INET : AF_INET6)), op, r.description)
        rtnl_route_set_table(obj, r.table)
        let dst = try nlAddr(r.destination.network, r.destination.length, op, r.description)
        defer { nl_addr_put(dst) }
        try NetlinkError.check(rtnl_route_set_dst(obj, dst), op, r.description)
        rtnl_route_set_protocol(obj, r.proto)
        rtnl_route_set_scope(obj, r.scope.rawValue)
        try NetlinkError.check(rtnl_route_set_type(obj, UInt8(RTN_UNICAST)), op, r.description)
        if r.metric != 0 { rtnl_route_set_priority(obj, r.metric) }
        if let dev = r.device {
            let idx = try index(of: dev, for: op, r.description)
            guard let nh = rtnl_route_nh_alloc() else { throw .outOfMemory(op, r.description, "rtnl_route_nh_alloc") }
            // Owned by the route once added.
            rtnl_route_nh_set_ifindex(nh, Int32(idx))
            if let gw = r.gateway {
                guard let g = try? nlAddr(gw, gw.bitLength, op, r.description) else {
                    rtnl_route_nh_free(nh)
                    throw .outOfMemory(op, r.description, "nl_addr_build")
                }
                rtnl_route_nh_set_gateway(nh, g)
                nl_addr_put(g)
            }
            rtnl_route_add_nexthop(obj, nh)
        }
        writes += 1
        let rc = add ? rtnl_route_add(sk, obj, NLM_F_EXCL) : rtnl_route_delete(sk, obj, 0)
        try NetlinkError.check(rc, op, r.description)
    }

    /// `ip rule add RULE` / `ip rule del RULE`
    public func add(_ r: Rule) throws(NetlinkError) { try rule(r, add: true) }
    public func remove(_ r: Rule) throws(NetlinkError) { try rule(r, add: false) }

    private func rule(_ r: Rule, add: Bool) throws(NetlinkError) {
        let op = add ? "add rule" : "delete rule"
        guard !r.hasOtherSelectors else {
            throw NetlinkError(operation: op, object: r.description, code: .invalid, reason: "selectors the agent does not model")
        }
        guard let obj = rtnl_rule_alloc() else { throw .outOfMemory(op, r.description, "rtnl_rule_alloc") }
        defer { rtnl_rule_put(obj) }
        rtnl_rule_set_family(obj, r.family == .v4 ? AF_INET : AF_INET6)
        rtnl_rule_set_prio(obj, r.priority)
        rtnl_rule_set_table(obj, r.table)
        rtnl_rule_set_action(obj, UInt8(FR_ACT_TO_TBL))
        try NetlinkError.check(rtnl_rule_set_protocol(obj, r.proto), op, r.description)
        if let s = r.source {
            let src = try nlAddr(s.network, s.length, op, r.description)
            defer { nl_addr_put(src) }
            try NetlinkError.check(rtnl_rule_set_src(obj, src), op, r.description)
        }
        writes += 1
        let rc = add ? rtnl_rule_add(sk, obj, NLM_F_EXCL) : rtnl_rule_delete(sk, obj, 0)
        try NetlinkError.check(rc, op, r.description)
    }

    // MARK: - Addresses

    private static func ipAddress(_ a: OpaquePointer) -> IPAddress? {
        guard let p = nl_addr_get_binary_addr(a) else { return nil }
        switch (nl_addr_get_family(a), nl_addr_get_len(a)) {
        case (AF_INET, 4): return (try? IPv4Address(bytes: Array(UnsafeRawBufferPointer(start: p, count: 4)))).map(IPAddress.v4)
        case (AF_INET6, 16): return (try? IPv6Address(bytes: Array(UnsafeRawBufferPointer(start: p, count: 16)))).map(IPAddress.v6)
        default: return nil
        }
    }

    /// A new `struct nl_addr` (caller puts it).
    private func nlAddr(_ ip: IPAddress, _ prefixLength: Int, _ op: String, _ object: String) throws(NetlinkError) -> OpaquePointer {
        let bytes = ip.bytes
        guard let a = bytes.withUnsafeBytes({ nl_addr_build(ip.family == .v4 ? AF_INET : AF_INET6, $0.baseAddress, $0.count) }) else {
            throw .outOfMemory(op, object, "nl_addr_build")
        }
        nl_addr_set_prefixlen(a, Int32(prefixLength))
        return a
    }
}

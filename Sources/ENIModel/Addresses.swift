/// A value that failed to parse or validate. The message always names the value.
public struct ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Renders a string for an error message: quoted, control characters escaped.
public func quoted(_ s: some StringProtocol) -> String { "\"" + escapingControls(s, quotes: true) + "\"" }

/// Text as a message may carry it: control characters escaped (`\n`, `\t`, `\r`, `\u{1b}`), and
/// with `quotes`, `"` and `\` too.
public func escapingControls(_ s: some StringProtocol, quotes: Bool = false) -> String {
    var out = ""
    for u in s.unicodeScalars {
        switch u {
        case "\"" where quotes: out += "\\\""
        case "\\" where quotes: out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 || u.value == 0x7f {
                out += "\\u{\(String(u.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out
}

// MARK: - MAC

/// An Ethernet MAC address. Parsing accepts either case; it prints in lower case.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(ModelError) {
        guard bytes.count == 6 else {
            throw ModelError("invalid MAC address: \(bytes.count) bytes, expected 6")
        }
        self.bytes = bytes
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`), case-insensitively.
    public init(_ text: some StringProtocol) throws(ModelError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let groups = parts.count == 6 ? parts : text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 6 else { throw ModelError("invalid MAC address \(quoted(text))") }
        var bytes: [UInt8] = []
        for g in groups {
            guard g.count == 2, g.allSatisfy(\.isHexDigit), let b = UInt8(g, radix: 16) else {
                throw ModelError("invalid MAC address \(quoted(text))")
            }
            bytes.append(b)
        }
        self.bytes = bytes
    }

    public var description: String {
        bytes.map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined(separator: ":")
    }

    public static func < (a: MACAddress, b: MACAddress) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// A NIC's own address: not all zeros, not multicast or broadcast (the group bit clear).
    public var isUnicast: Bool { bytes.contains { $0 != 0 } && bytes[0] & 1 == 0 }

    func requireUnicast(for what: String) throws(ModelError) {
        guard isUnicast else { throw ModelError("\(what): \(self) is not a unicast MAC address") }
    }
}

// MARK: - IPv4

/// An IPv4 address. Parsing accepts strict dotted-quad only (no leading zeros, no shorthand).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init(value: UInt32) { self.value = value }

    public init(_ text: some StringProtocol) throws(ModelError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { throw ModelError("invalid IPv4 address \(quoted(text))") }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(p.count > 1 && p.first == "0"), let octet = UInt8(p)
            else { throw ModelError("invalid IPv4 address \(quoted(text))") }
            v = v << 8 | UInt32(octet)
        }
        value = v
    }

    public init(bytes: [UInt8]) throws(ModelError) {
        guard bytes.count == 4 else { throw ModelError("invalid IPv4 address: \(bytes.count) bytes") }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public var description: String { bytes.map(String.init).joined(separator: ".") }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An IPv4 network: a network address with all host bits zero and a prefix length.
public struct IPv4Prefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let network: IPv4Address
    public let length: Int

    /// The network containing `address`, host bits cleared.
    public init(containing address: IPv4Address, length: Int) throws(ModelError) {
        guard (0...32).contains(length) else { throw ModelError("invalid prefix length \(length)") }
        self.network = IPv4Address(value: address.value & IPv4Prefix.mask(length))
        self.length = length
    }

    /// Parses `a.b.c.d/n` strictly (the address as `IPv4Address`, the length without leading
    /// zeros); host bits must be zero.
    public init(_ text: some StringProtocol) throws(ModelError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let len = Int(parts[1]), (0...32).contains(len),
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !(parts[1].count > 1 && parts[1].first == "0")
        else { throw ModelError("invalid IPv4 prefix \(quoted(text))") }
        let addr: IPv4Address
        do { addr = try IPv4Address(parts[0]) } catch { throw ModelError("invalid IPv4 prefix \(quoted(text))") }
        guard addr.value & ~IPv4Prefix.mask(len) == 0 else {
            throw ModelError("invalid IPv4 prefix \(quoted(text)): host bits set")
        }
        network = addr
        length = len
    }

    /// The prefix length of a dotted netmask such as `255.255.192.0`; rejects non-contiguous masks.
    public static func length(ofNetmask text: some StringProtocol) throws(ModelError) -> Int {
        let m: IPv4Address
        do { m = try IPv4Address(text) } catch { throw ModelError("invalid netmask \(quoted(text))") }
        let len = (~m.value).leadingZeroBitCount
        guard mask(len) == m.value else { throw ModelError("non-contiguous netmask \(quoted(text))") }
        return len
    }

    public static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : ~UInt32(0) << (32 - length) }

    public func contains(_ a: IPv4Address) -> Bool { a.value & IPv4Prefix.mask(length) == network.value }

    /// An address a host may have in this subnet: inside it, and on a /30 or larger neither the
    /// network nor the broadcast address.
    public func isHost(_ a: IPv4Address) -> Bool {
        guard contains(a) else { return false }
        return length > 30 || (a != network && a.value != network.value | ~IPv4Prefix.mask(length))
    }

    public var description: String { "\(network)/\(length)" }

    public static func < (a: IPv4Prefix, b: IPv4Prefix) -> Bool {
        (a.network, a.length) < (b.network, b.length)
    }

    public static let any = try! IPv4Prefix("0.0.0.0/0")
}
// MARK: - IPv6

/// An IPv6 address. Parsing accepts the text forms of RFC 4291 §2.2 (hex groups of 1 to 4 digits in
/// either case, one `::`, a dotted IPv4 address in the last 32 bits), nothing else: no zone
/// (`%eth0`), no brackets, no prefix. It prints in the canonical form of RFC 5952: lower case, no
/// leading zeros, the longest run of two or more zero groups (the first of equal runs) as `::`, and
/// an IPv4-mapped address (`::ffff:0:0/96`) with its IPv4 part dotted.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt128

    public init(value: UInt128) { self.value = value }

    public init(bytes: [UInt8]) throws(ModelError) {
        guard bytes.count == 16 else { throw ModelError("invalid IPv6 address: \(bytes.count) bytes") }
        value = bytes.reduce(0) { $0 << 8 | UInt128($1) }
    }

    public init(_ text: some StringProtocol) throws(ModelError) {
        guard let v = Self.parse(Array(text.utf8)) else { throw ModelError("invalid IPv6 address \(quoted(text))") }
        value = v
    }

    /// The 128 bits of `text`, or nil when it is not an RFC 4291 text form.
    static func parse(_ s: [UInt8]) -> UInt128? {
        guard (2...45).contains(s.count) else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        var compressed = false
        var i = 0
        if s.starts(with: Array("::".utf8)) {
            compressed = true
            i = 2
            if i == s.count { return 0 }
        } else if s[0] == UInt8(ascii: ":") {
            return nil
        }
        while i < s.count {
            // One group: hex digits up to the next ':' or the end; or a dotted IPv4 address last.
            var j = i
            while j < s.count, s[j] != UInt8(ascii: ":") { j += 1 }
            let group = s[i..<j]
            var groups: [UInt16]
            if j == s.count, group.contains(UInt8(ascii: ".")) {
                guard let text = String(validating: group, as: UTF8.self), let v4 = try? IPv4Address(text) else { return nil }
                groups = [UInt16(v4.value >> 16), UInt16(v4.value & 0xffff)]
            } else {
                guard (1...4).contains(group.count), let g = UInt16(String(decoding: group, as: UTF8.self), radix: 16),
                      group.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) })
                else { return nil }
                groups = [g]
            }
            if compressed { tail += groups } else { head += groups }
            guard head.count + tail.count <= 8 else { return nil }
            if j == s.count { break }
            // A ':' follows: another group, or '::' (once, and not after a trailing group).
            if j + 1 < s.count, s[j + 1] == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                i = j + 2
                if i == s.count { break }
            } else {
                guard j + 1 < s.count else { return nil }
                i = j + 1
            }
        }
        let count = head.count + tail.count
        guard compressed ? count <= 7 : count == 8 else { return nil }
        let groups = head + Array(repeating: 0, count: 8 - count) + tail
        return groups.reduce(0) { $0 << 16 | UInt128($1) }
    }

    public var bytes: [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: value >> (8 * (15 - $0))) } }

    /// The eight 16-bit groups, most significant first.
    public var groups: [UInt16] { (0..<8).map { UInt16(truncatingIfNeeded: value >> (16 * (7 - $0))) } }

    public var description: String {
        if value >> 32 == 0xffff {
            return "::ffff:" + IPv4Address(value: UInt32(truncatingIfNeeded: value)).description
        }
        let g = groups
        // The longest run of at least two zero groups; the first of equal runs.
        var best = (start: -1, length: 1), run = (start: -1, length: 0)
        for (k, x) in g.enumerated() {
            if x == 0 {
                run = run.start < 0 ? (k, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
        guard best.start >= 0 else { return hex(g[...]) }
        return hex(g[..<best.start]) + "::" + hex(g[(best.start + best.length)...])
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { a.value < b.value }

    /// `fe80::/10`
    public var isLinkLocal: Bool { value >> 118 == 0x3fa }
    /// `ff00::/8`
    public var isMulticast: Bool { value >> 120 == 0xff }
    /// `::ffff:0:0/96`
    public var isIPv4Mapped: Bool { value >> 32 == 0xffff }
    /// A unicast address a host may have on a cloud subnet: not `::`, `::1`, IPv4-mapped,
    /// link-local or multicast.
    public var isGlobalUnicast: Bool { value > 1 && !isIPv4Mapped && !isLinkLocal && !isMulticast }
}

/// An IPv6 network: an address with all host bits zero and a prefix length (0 to 128).
public struct IPv6Prefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let network: IPv6Address
    public let length: Int

    /// The network containing `address`, host bits cleared.
    public init(containing address: IPv6Address, length: Int) throws(ModelError) {
        guard (0...128).contains(length) else { throw ModelError("invalid IPv6 prefix length \(length)") }
        network = IPv6Address(value: address.value & IPv6Prefix.mask(length))
        self.length = length
    }

    /// Parses `ADDR/n` strictly (the address as `IPv6Address`, the length without leading zeros);
    /// host bits must be zero.
    public init(_ text: some StringProtocol) throws(ModelError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let len = Int(parts[1]),
              (0...128).contains(len), !(parts[1].count > 1 && parts[1].first == "0")
        else { throw ModelError("invalid IPv6 prefix \(quoted(text))") }
        let addr: IPv6Address
        do { addr = try IPv6Address(parts[0]) } catch { throw ModelError("invalid IPv6 prefix \(quoted(text))") }
        guard addr.value & ~IPv6Prefix.mask(len) == 0 else {
            throw ModelError("invalid IPv6 prefix \(quoted(text)): host bits set")
        }
        network = addr
        length = len
    }

    public static func mask(_ length: Int) -> UInt128 { length == 0 ? 0 : ~UInt128(0) << (128 - length) }

    public func contains(_ a: IPv6Address) -> Bool { a.value & IPv6Prefix.mask(length) == network.value }

    public var description: String { "\(network)/\(length)" }

    public static func < (a: IPv6Prefix, b: IPv6Prefix) -> Bool { (a.network, a.length) < (b.network, b.length) }

    public static let any = try! IPv6Prefix("::/0")
}

// MARK: - Either family

/// The address family of a kernel object.
public enum IPFamily: Int, Hashable, Comparable, Sendable, CaseIterable {
    case v4 = 4, v6 = 6
    public static func < (a: IPFamily, b: IPFamily) -> Bool { a.rawValue < b.rawValue }
    /// The `ip` option that selects it: `-4`, `-6`.
    public var option: String { "-\(rawValue)" }
}

/// An IPv4 or IPv6 address; IPv4 sorts first.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public var family: IPFamily { if case .v4 = self { .v4 } else { .v6 } }
    public var ipv4: IPv4Address? { if case .v4(let a) = self { a } else { nil } }
    public var ipv6: IPv6Address? { if case .v6(let a) = self { a } else { nil } }
    /// 32 or 128.
    public var bitLength: Int { family == .v4 ? 32 : 128 }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    /// The bits, right-aligned (an IPv4 address in the low 32): for ordering.
    var bits: UInt128 {
        switch self {
        case .v4(let a): UInt128(a.value)
        case .v6(let a): a.value
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool { (a.family, a.bits) < (b.family, b.bits) }
}

/// An IPv4 or IPv6 network; IPv4 sorts first.
public enum IPPrefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Prefix)
    case v6(IPv6Prefix)

    /// The prefix of one address: `/32` or `/128`.
    public init(host a: IPAddress) {
        switch a {
        case .v4(let x): self = .v4(try! IPv4Prefix(containing: x, length: 32))
        case .v6(let x): self = .v6(try! IPv6Prefix(containing: x, length: 128))
        }
    }

    /// The network of `a`'s family containing it, `length` clamped to the family's range.
    public init(containing a: IPAddress, length: Int) {
        switch a {
        case .v4(let x): self = .v4(try! IPv4Prefix(containing: x, length: min(max(length, 0), 32)))
        case .v6(let x): self = .v6(try! IPv6Prefix(containing: x, length: min(max(length, 0), 128)))
        }
    }

    /// `0.0.0.0/0` or `::/0`.
    public static func any(_ family: IPFamily) -> IPPrefix { family == .v4 ? .v4(.any) : .v6(.any) }

    public var family: IPFamily { if case .v4 = self { .v4 } else { .v6 } }
    public var ipv4: IPv4Prefix? { if case .v4(let p) = self { p } else { nil } }
    public var ipv6: IPv6Prefix? { if case .v6(let p) = self { p } else { nil } }

    public var network: IPAddress {
        switch self {
        case .v4(let p): .v4(p.network)
        case .v6(let p): .v6(p.network)
        }
    }

    public var length: Int {
        switch self {
        case .v4(let p): p.length
        case .v6(let p): p.length
        }
    }

    /// The whole family's range (`/0`).
    public var isDefault: Bool { length == 0 }
    /// One address (`/32`, `/128`).
    public var isHost: Bool { length == network.bitLength }

    public func contains(_ a: IPAddress) -> Bool {
        switch (self, a) {
        case (.v4(let p), .v4(let x)): p.contains(x)
        case (.v6(let p), .v6(let x)): p.contains(x)
        default: false
        }
    }

    public var description: String {
        switch self {
        case .v4(let p): p.description
        case .v6(let p): p.description
        }
    }

    public static func < (a: IPPrefix, b: IPPrefix) -> Bool { (a.family, a.length, a.network) < (b.family, b.length, b.network) }
}

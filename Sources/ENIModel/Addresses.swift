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

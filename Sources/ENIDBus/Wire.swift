/// A D-Bus value with its type: what a method call carries and a reply holds (the D-Bus
/// specification's "Type system"). Unix file descriptors (`h`) are not supported.
public indirect enum DBusValue: Equatable, Sendable, CustomStringConvertible {
    case byte(UInt8)
    case boolean(Bool)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case double(Double)
    case string(String)
    case objectPath(String)
    case signature(String)
    /// An array of elements of one type, named by its signature (an empty array has a type too).
    case array(element: String, [DBusValue])
    /// One entry of a dictionary: an array of these is `a{KV}`.
    case dictEntry(DBusValue, DBusValue)
    case structure([DBusValue])
    case variant(DBusValue)

    /// `as`.
    public static func strings(_ s: [String]) -> DBusValue { .array(element: "s", s.map(DBusValue.string)) }

    /// The value's type signature.
    public var signature: String {
        switch self {
        case .byte: "y"
        case .boolean: "b"
        case .int16: "n"
        case .uint16: "q"
        case .int32: "i"
        case .uint32: "u"
        case .int64: "x"
        case .uint64: "t"
        case .double: "d"
        case .string: "s"
        case .objectPath: "o"
        case .signature: "g"
        case .array(let element, _): "a" + element
        case .dictEntry(let k, let v): "{" + k.signature + v.signature + "}"
        case .structure(let fields): "(" + fields.map(\.signature).joined() + ")"
        case .variant: "v"
        }
    }

    public var description: String {
        switch self {
        case .byte(let v): "\(v)"
        case .boolean(let v): "\(v)"
        case .int16(let v): "\(v)"
        case .uint16(let v): "\(v)"
        case .int32(let v): "\(v)"
        case .uint32(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .uint64(let v): "\(v)"
        case .double(let v): "\(v)"
        case .string(let s), .objectPath(let s), .signature(let s): "\"\(s)\""
        case .array(_, let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .dictEntry(let k, let v): "\(k): \(v)"
        case .structure(let fields): "(" + fields.map(\.description).joined(separator: ", ") + ")"
        case .variant(let v): "<\(v)>"
        }
    }
}

/// Why bytes are not a well-formed D-Bus message or value.
struct WireError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A complete D-Bus type, parsed from a signature.
indirect enum DBusType: Equatable {
    case basic(UInt8)
    case array(DBusType)
    case dictEntry(DBusType, DBusType)
    case structure([DBusType])
    case variant

    /// The specification's limits: a signature of at most 255 bytes, containers nested at most
    /// 32 deep of each kind (64 in all counting variants, checked while reading).
    static let maxSignature = 255, maxNesting = 32

    static func alignment(_ code: UInt8) -> Int {
        switch code {
        case UInt8(ascii: "y"), UInt8(ascii: "g"), UInt8(ascii: "v"): 1
        case UInt8(ascii: "n"), UInt8(ascii: "q"): 2
        case UInt8(ascii: "x"), UInt8(ascii: "t"), UInt8(ascii: "d"), UInt8(ascii: "("), UInt8(ascii: "{"): 8
        default: 4
        }
    }

    var alignment: Int {
        switch self {
        case .basic(let c): Self.alignment(c)
        case .array: 4
        case .dictEntry, .structure: 8
        case .variant: 1
        }
    }

    var signature: String {
        switch self {
        case .basic(let c): String(UnicodeScalar(c))
        case .array(let e): "a" + e.signature
        case .dictEntry(let k, let v): "{" + k.signature + v.signature + "}"
        case .structure(let f): "(" + f.map(\.signature).joined() + ")"
        case .variant: "v"
        }
    }

    /// The complete types of a signature, in order.
    static func parse(_ signature: String) throws(WireError) -> [DBusType] {
        let s = Array(signature.utf8)
        guard s.count <= maxSignature else { throw WireError("a signature of \(s.count) bytes") }
        var i = 0
        var types: [DBusType] = []
        while i < s.count { types.append(try one(s, &i, arrays: 0, structs: 0)) }
        return types
    }

    /// Exactly one complete type (a variant's signature).
    static func single(_ signature: String) throws(WireError) -> DBusType {
        let t = try parse(signature)
        guard t.count == 1 else { throw WireError("variant signature '\(signature)' is not one complete type") }
        return t[0]
    }

    private static func one(_ s: [UInt8], _ i: inout Int, arrays: Int, structs: Int) throws(WireError) -> DBusType {
        guard i < s.count else { throw WireError("signature ends inside a type") }
        let c = s[i]
        i += 1
        switch c {
        case UInt8(ascii: "y"), UInt8(ascii: "b"), UInt8(ascii: "n"), UInt8(ascii: "q"), UInt8(ascii: "i"),
             UInt8(ascii: "u"), UInt8(ascii: "x"), UInt8(ascii: "t"), UInt8(ascii: "d"), UInt8(ascii: "s"),
             UInt8(ascii: "o"), UInt8(ascii: "g"):
            return .basic(c)
        case UInt8(ascii: "v"):
            return .variant
        case UInt8(ascii: "a"):
            guard arrays < maxNesting else { throw WireError("arrays nested too deep") }
            if i < s.count, s[i] == UInt8(ascii: "{") {
                i += 1
                let key = try one(s, &i, arrays: arrays + 1, structs: structs + 1)
                guard case .basic = key else { throw WireError("a dictionary key that is not a basic type") }
                let value = try one(s, &i, arrays: arrays + 1, structs: structs + 1)
                guard i < s.count, s[i] == UInt8(ascii: "}") else { throw WireError("a dictionary entry without its '}'") }
                i += 1
                return .array(.dictEntry(key, value))
            }
            return .array(try one(s, &i, arrays: arrays + 1, structs: structs))
        case UInt8(ascii: "("):
            guard structs < maxNesting else { throw WireError("structures nested too deep") }
            var fields: [DBusType] = []
            while i < s.count, s[i] != UInt8(ascii: ")") { fields.append(try one(s, &i, arrays: arrays, structs: structs + 1)) }
            guard i < s.count, !fields.isEmpty else { throw WireError("an empty or unclosed structure") }
            i += 1
            return .structure(fields)
        default:
            throw WireError("type code '\(String(UnicodeScalar(c)))' is not supported")
        }
    }
}

/// Marshals values in either byte order; offsets (and so padding) count from the message's start.
struct WireWriter {
    var bytes: [UInt8] = []
    let little: Bool

    init(littleEndian: Bool = true) { little = littleEndian }

    mutating func pad(_ a: Int) { while bytes.count % a != 0 { bytes.append(0) } }

    mutating func int<T: FixedWidthInteger>(_ v: T) {
        pad(MemoryLayout<T>.size)
        bytes += withUnsafeBytes(of: little ? v.littleEndian : v.bigEndian, Array.init)
    }

    mutating func text(_ s: String) {
        int(UInt32(s.utf8.count))
        bytes += s.utf8
        bytes.append(0)
    }

    mutating func write(_ v: DBusValue) {
        switch v {
        case .byte(let b): bytes.append(b)
        case .boolean(let b): int(UInt32(b ? 1 : 0))
        case .int16(let n): int(n)
        case .uint16(let n): int(n)
        case .int32(let n): int(n)
        case .uint32(let n): int(n)
        case .int64(let n): int(n)
        case .uint64(let n): int(n)
        case .double(let d): int(d.bitPattern)
        case .string(let s), .objectPath(let s): text(s)
        case .signature(let s):
            bytes.append(UInt8(s.utf8.count))
            bytes += s.utf8
            bytes.append(0)
        case .array(let element, let items):
            int(UInt32(0))
            let lengthAt = bytes.count - 4
            pad(DBusType.alignment(element.utf8.first ?? 0))
            let start = bytes.count
            for item in items { write(item) }
            let n = UInt32(bytes.count - start)
            bytes.replaceSubrange(lengthAt..<lengthAt + 4, with: withUnsafeBytes(of: little ? n.littleEndian : n.bigEndian, Array.init))
        case .dictEntry(let k, let v):
            pad(8)
            write(k)
            write(v)
        case .structure(let fields):
            pad(8)
            for f in fields { write(f) }
        case .variant(let inner):
            write(.signature(inner.signature))
            write(inner)
        }
    }
}

/// Reads values from bytes that came from elsewhere: every length and offset is checked against
/// the bytes there are; a value that does not fit is a `WireError`, never a trap.
struct WireReader {
    let bytes: [UInt8]
    let little: Bool
    var at: Int
    /// Where reading must stop (a message's header or body end).
    var end: Int
    private var variants = 0

    init(_ bytes: [UInt8], littleEndian: Bool, at: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        little = littleEndian
        self.at = at
        self.end = min(end ?? bytes.count, bytes.count)
    }

    mutating func align(_ a: Int) throws(WireError) {
        let next = (at + a - 1) / a * a
        guard next <= end else { throw WireError("padding past the end") }
        guard bytes[at..<next].allSatisfy({ $0 == 0 }) else { throw WireError("padding that is not zero") }
        at = next
    }

    mutating func int<T: FixedWidthInteger>(_: T.Type) throws(WireError) -> T {
        let n = MemoryLayout<T>.size
        try align(n)
        guard at + n <= end else { throw WireError("a \(n)-byte integer past the end") }
        var v = T.zero
        for k in 0..<n { v |= T(truncatingIfNeeded: bytes[at + k]) << (8 * (little ? k : n - 1 - k)) }
        at += n
        return v
    }

    mutating func text(length n: Int) throws(WireError) -> String {
        guard n >= 0, n < end - at else { throw WireError("a string of \(n) bytes past the end") }
        let raw = bytes[at..<at + n]
        guard bytes[at + n] == 0 else { throw WireError("a string without its terminating NUL") }
        guard !raw.contains(0), let s = String(validating: raw, as: UTF8.self) else { throw WireError("a string that is not valid UTF-8") }
        at += n + 1
        return s
    }

    mutating func read(_ t: DBusType) throws(WireError) -> DBusValue {
        switch t {
        case .basic(let c):
            switch c {
            case UInt8(ascii: "y"):
                guard at < end else { throw WireError("a byte past the end") }
                at += 1
                return .byte(bytes[at - 1])
            case UInt8(ascii: "b"):
                let v = try int(UInt32.self)
                guard v <= 1 else { throw WireError("a boolean of \(v)") }
                return .boolean(v == 1)
            case UInt8(ascii: "n"): return .int16(try int(Int16.self))
            case UInt8(ascii: "q"): return .uint16(try int(UInt16.self))
            case UInt8(ascii: "i"): return .int32(try int(Int32.self))
            case UInt8(ascii: "u"): return .uint32(try int(UInt32.self))
            case UInt8(ascii: "x"): return .int64(try int(Int64.self))
            case UInt8(ascii: "t"): return .uint64(try int(UInt64.self))
            case UInt8(ascii: "d"): return .double(Double(bitPattern: try int(UInt64.self)))
            case UInt8(ascii: "s"): return .string(try text(length: Int(try int(UInt32.self))))
            case UInt8(ascii: "o"):
                let p = try text(length: Int(try int(UInt32.self)))
                guard Self.isObjectPath(p) else { throw WireError("'\(p)' is not an object path") }
                return .objectPath(p)
            case UInt8(ascii: "g"): return .signature(try signature())
            default: throw WireError("type code \(c) is not supported")
            }
        case .array(let element):
            let length = Int(try int(UInt32.self))
            guard length <= 1 << 26 else { throw WireError("an array of \(length) bytes") }
            try align(element.alignment)
            let stop = at + length
            guard stop <= end else { throw WireError("an array of \(length) bytes past the end") }
            var items: [DBusValue] = []
            while at < stop { items.append(try read(element)) }
            guard at == stop else { throw WireError("an array's last element overruns its length") }
            return .array(element: element.signature, items)
        case .dictEntry(let k, let v):
            try align(8)
            return .dictEntry(try read(k), try read(v))
        case .structure(let fields):
            try align(8)
            var values: [DBusValue] = []
            for f in fields { values.append(try read(f)) }
            return .structure(values)
        case .variant:
            guard variants < 2 * DBusType.maxNesting else { throw WireError("variants nested too deep") }
            let inner = try DBusType.single(try signature())
            variants += 1
            defer { variants -= 1 }
            return .variant(try read(inner))
        }
    }

    mutating func signature() throws(WireError) -> String {
        guard at < end else { throw WireError("a signature past the end") }
        let n = Int(bytes[at])
        at += 1
        let s = try text(length: n)
        guard s.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { throw WireError("a signature with a character that is no type code") }
        return s
    }

    /// `/`, or `/` followed by non-empty elements of `[A-Za-z0-9_]` separated by single `/`.
    static func isObjectPath(_ p: String) -> Bool {
        if p == "/" { return true }
        guard p.hasPrefix("/"), !p.hasSuffix("/") else { return false }
        return p.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy { element in
            !element.isEmpty && element.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
            }
        }
    }
}

/// A D-Bus message (the specification's "Message Format"): a header (`yyyyuua(yv)`), padding to
/// 8 bytes, the body. Written in either byte order (little-endian unless told), read in either.
struct Message: Equatable {
    static let methodCall: UInt8 = 1, methodReturn: UInt8 = 2, error: UInt8 = 3, signal: UInt8 = 4
    /// The most the agent reads in one message (the specification allows 128 MiB; NetworkManager's
    /// replies to these calls are a few hundred bytes).
    static let maxLength = 1 << 20

    var type: UInt8
    var flags: UInt8 = 0
    var serial: UInt32
    var path: String?
    var interface: String?
    var member: String?
    var errorName: String?
    var replySerial: UInt32?
    var destination: String?
    var sender: String?
    var body: [DBusValue] = []

    var bodySignature: String { body.map(\.signature).joined() }

    static func call(serial: UInt32, destination: String, path: String, interface: String?, member: String,
                     _ body: [DBusValue] = []) -> Message {
        Message(type: methodCall, serial: serial, path: path, interface: interface, member: member,
                destination: destination, body: body)
    }

    /// The bytes on the wire.
    func encoded(littleEndian: Bool = true) -> [UInt8] {
        var b = WireWriter(littleEndian: littleEndian)
        let body = bodyWriter(littleEndian).bytes
        b.bytes += [littleEndian ? UInt8(ascii: "l") : UInt8(ascii: "B"), type, flags, 1]
        b.int(UInt32(body.count))
        b.int(serial)
        var fields: [DBusValue] = []
        func field(_ code: UInt8, _ v: DBusValue?) {
            if let v { fields.append(.structure([.byte(code), .variant(v)])) }
        }
        field(1, path.map(DBusValue.objectPath))
        field(2, interface.map(DBusValue.string))
        field(3, member.map(DBusValue.string))
        field(4, errorName.map(DBusValue.string))
        field(5, replySerial.map(DBusValue.uint32))
        field(6, destination.map(DBusValue.string))
        field(7, sender.map(DBusValue.string))
        field(8, body.isEmpty ? nil : .signature(bodySignature))
        b.write(.array(element: "(yv)", fields))
        b.pad(8)
        return b.bytes + body
    }

    /// The body on its own: it starts on an 8-byte boundary, so its padding is the same counted
    /// from its own start.
    private func bodyWriter(_ little: Bool) -> WireWriter {
        var w = WireWriter(littleEndian: little)
        for v in body { w.write(v) }
        return w
    }

    /// The length of the whole message whose first 16 bytes `b` holds; throws when those bytes
    /// cannot start one or it would be longer than `maxLength`.
    static func length(prefix b: [UInt8]) throws(WireError) -> Int {
        guard b.count >= 16 else { throw WireError("a header of \(b.count) bytes") }
        let little: Bool
        switch b[0] {
        case UInt8(ascii: "l"): little = true
        case UInt8(ascii: "B"): little = false
        default: throw WireError("byte order mark \(b[0])")
        }
        guard b[3] == 1 else { throw WireError("protocol version \(b[3])") }
        var r = WireReader(b, littleEndian: little, at: 4, end: 16)
        let body = Int(try r.int(UInt32.self))
        _ = try r.int(UInt32.self)
        let fields = Int(try r.int(UInt32.self))
        guard body <= maxLength, fields <= maxLength else { throw WireError("a message of more than \(maxLength) bytes") }
        let total = (16 + fields + 7) / 8 * 8 + body
        guard total <= maxLength else { throw WireError("a message of \(total) bytes") }
        return total
    }

}

extension Message {
    /// Parses one whole message (exactly `length(prefix:)` bytes).
    init(decoding b: [UInt8]) throws(WireError) {
        let total = try Self.length(prefix: b)
        guard b.count == total else { throw WireError("\(b.count) bytes for a message of \(total)") }
        let little = b[0] == UInt8(ascii: "l")
        type = b[1]
        flags = b[2]
        guard type >= 1, type <= 4 else { throw WireError("message type \(type)") }
        var r = WireReader(b, littleEndian: little, at: 4)
        let bodyLength = Int(try r.int(UInt32.self))
        serial = try r.int(UInt32.self)
        guard serial != 0 else { throw WireError("serial 0") }
        guard case .array(_, let fields) = try r.read(.array(.structure([.basic(UInt8(ascii: "y")), .variant]))) else {
            throw WireError("no header fields")
        }
        var signature = ""
        for f in fields {
            guard case .structure(let parts) = f, parts.count == 2, case .byte(let code) = parts[0],
                  case .variant(let v) = parts[1] else { throw WireError("a malformed header field") }
            switch (code, v) {
            case (1, .objectPath(let s)): path = s
            case (2, .string(let s)): interface = s
            case (3, .string(let s)): member = s
            case (4, .string(let s)): errorName = s
            case (5, .uint32(let n)): replySerial = n
            case (6, .string(let s)): destination = s
            case (7, .string(let s)): sender = s
            case (8, .signature(let s)): signature = s
            case (1...9, _): throw WireError("header field \(code) of type \(v.signature)")
            default: break  // unknown fields are ignored, as the specification says
            }
        }
        try r.align(8)
        guard r.at + bodyLength == b.count else { throw WireError("the body's length does not match the message's") }
        switch type {
        case Self.methodCall: guard path != nil, member != nil else { throw WireError("a method call without path or member") }
        case Self.methodReturn: guard replySerial != nil else { throw WireError("a reply without its serial") }
        case Self.error: guard replySerial != nil, errorName != nil else { throw WireError("an error without its serial or name") }
        default: break
        }
        var br = WireReader(b, littleEndian: little, at: r.at)
        for t in try DBusType.parse(signature) { body.append(try br.read(t)) }
        guard br.at == b.count else { throw WireError("\(b.count - br.at) bytes after the body") }
    }

    /// An error reply's message: its first argument when that is a string.
    var errorMessage: String {
        if case .string(let s)? = body.first { s } else { "" }
    }
}

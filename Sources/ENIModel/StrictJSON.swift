/// A JSON value (RFC 8259) as written: members in document order, numbers as their text.
enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text exactly as written (it matched the grammar): integers are read exactly,
    /// never rounded through a `Double`, and a message can show what was written.
    case number(String)
    case string(String)
    case array([JSON])
    /// Members in document order; no key appears twice.
    case object([Member])

    struct Member: Equatable, Sendable {
        var key: String
        var value: JSON
    }

    /// How deep arrays and objects may nest: `[[1]]` is 2.
    static let maxDepth = 32
}

/// Why a document is not JSON, where (line and column from 1; the column counts characters) and,
/// for a key that appears twice, at which JSON path.
struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    var message: String
    var line: Int
    var column: Int
    /// The path of a repeated key (`enis[0].primary_ip`); nil for a syntax error.
    var path: String?

    var description: String {
        if let path { return "\(path): \(message) (line \(line), column \(column))" }
        return "not valid JSON: line \(line), column \(column): \(message)"
    }
}

extension JSON {
    /// Parses one JSON text strictly: UTF-8 only (no byte order mark, nothing replaced), strings
    /// with valid escapes, paired surrogates and no raw control character, numbers by the grammar
    /// (`01`, `1.`, `.5`, `+1` are not numbers), `true`/`false`/`null` only, whitespace only
    /// after the value, no key twice in an object, at most `maxDepth` levels of nesting.
    static func parse(_ bytes: [UInt8], maxDepth: Int = JSON.maxDepth) throws(JSONError) -> JSON {
        do { _ = try UTF8Text.decode(bytes) } catch {
            throw JSONError(message: error.description, line: error.line, column: error.column)
        }
        var p = JSONParser(bytes: bytes, maxDepth: maxDepth)
        return try p.document()
    }

    /// `base.key`, or `key` at the top; a key that is not a plain name (letters, digits, `_`, `-`)
    /// is quoted, and a long one shortened.
    static func path(_ base: String, key: String) -> String {
        let plain = !key.isEmpty && key.utf8.count <= 40 && key.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
        }
        let k = plain ? key : short(quoting: key)
        return base.isEmpty ? k : base + "." + k
    }

    /// The value as a message shows it: a number or string as written (shortened when long), or
    /// what it is.
    var summary: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let text): Self.short(text)
        case .string(let s): Self.short(quoting: s)
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Text for a message: whole up to 40 characters, else the first 32 and the length.
    static func short(_ s: String) -> String {
        s.count <= 40 ? s : s.prefix(32) + "… (\(s.count) characters)"
    }

    /// `quoted(s)`, shortened like `short`.
    static func short(quoting s: String) -> String {
        s.count <= 40 ? quoted(s) : quoted(s.prefix(32)) + "… (\(s.count) characters)"
    }
}

/// A recursive-descent parser over bytes already checked to be UTF-8. Recursion is bounded by
/// `maxDepth`.
private struct JSONParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var i = 0
    /// The JSON path of the value being parsed, for a repeated key's message.
    var path = ""

    init(bytes: [UInt8], maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func error(_ message: String, at offset: Int? = nil) -> JSONError {
        let (line, column) = UTF8Text.position(of: offset ?? i, in: bytes)
        return JSONError(message: message, line: line, column: column)
    }

    /// What is at the current position, for a message.
    var found: String {
        guard i < bytes.count else { return "end of input" }
        var it = bytes[i...].makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let u) = decoder.decode(&it) else { return "invalid UTF-8" }
        if u.value > 0x20 && u.value < 0x7f { return quoted(String(Character(u))) }
        let hex = String(u.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    mutating func skipWhitespace() {
        while let c = peek, c == .space || c == .tab || c == .newline || c == .carriageReturn { i += 1 }
    }

    mutating func document() throws(JSONError) -> JSON {
        let v = try value(depth: 0)
        skipWhitespace()
        guard i == bytes.count else { throw error("unexpected \(found) after the JSON value") }
        return v
    }

    /// `depth`: how many arrays and objects the value is inside.
    mutating func value(depth: Int) throws(JSONError) -> JSON {
        skipWhitespace()
        guard let c = peek else { throw error("unexpected end of input, expected a value") }
        switch c {
        case .openBrace: return try object(depth: depth + 1)
        case .openBracket: return try array(depth: depth + 1)
        case .quote: return .string(try string())
        case .minus, .zero ... .nine: return .number(try number())
        default:
            for (word, v) in [("true", JSON.bool(true)), ("false", .bool(false)), ("null", .null)]
            where bytes[i...].starts(with: word.utf8) {
                i += word.utf8.count
                return v
            }
            throw error("unexpected \(found), expected a value")
        }
    }

    mutating func object(depth: Int) throws(JSONError) -> JSON {
        guard depth <= maxDepth else { throw error("arrays and objects nested deeper than \(maxDepth)") }
        i += 1
        let base = path
        defer { path = base }
        var members: [JSON.Member] = []
        // Swift compares strings by canonical equivalence: "\u00e9" and "e\u0301" are one key
        // here (as they would be in a dictionary), so they are reported as a repeated key.
        var keys = Set<String>()
        skipWhitespace()
        if peek == .closeBrace { i += 1; return .object([]) }
        while true {
            skipWhitespace()
            guard peek == .quote else { throw error("unexpected \(found), expected a key (a string)") }
            let at = i
            let key = try string()
            path = JSON.path(base, key: key)
            guard keys.insert(key).inserted else {
                var e = error("key appears twice", at: at)
                e.path = path
                throw e
            }
            skipWhitespace()
            guard peek == .colon else { throw error("unexpected \(found), expected ':'") }
            i += 1
            members.append(JSON.Member(key: key, value: try value(depth: depth)))
            skipWhitespace()
            switch peek {
            case .comma: i += 1
            case .closeBrace: i += 1; return .object(members)
            default: throw error("unexpected \(found), expected ',' or '}'")
            }
        }
    }

    mutating func array(depth: Int) throws(JSONError) -> JSON {
        guard depth <= maxDepth else { throw error("arrays and objects nested deeper than \(maxDepth)") }
        i += 1
        let base = path
        defer { path = base }
        var items: [JSON] = []
        skipWhitespace()
        if peek == .closeBracket { i += 1; return .array([]) }
        while true {
            path = base + "[\(items.count)]"
            items.append(try value(depth: depth))
            skipWhitespace()
            switch peek {
            case .comma: i += 1
            case .closeBracket: i += 1; return .array(items)
            default: throw error("unexpected \(found), expected ',' or ']'")
            }
        }
    }

    mutating func string() throws(JSONError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard let b = peek else { throw error("unterminated string", at: start) }
            switch b {
            case .quote:
                i += 1
                return String(decoding: out, as: UTF8.self)
            case .backslash:
                try escape(into: &out)
            case 0..<0x20:
                throw error("control character \(found) in string (it must be escaped)")
            default:
                out.append(b)
                i += 1
            }
        }
    }

    /// The escape at `i` (a backslash), appended as UTF-8.
    mutating func escape(into out: inout [UInt8]) throws(JSONError) {
        let start = i
        i += 1
        guard let e = peek else { throw error("unterminated string") }
        i += 1
        switch e {
        case .quote, .backslash, .slash: out.append(e)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(.newline)
        case UInt8(ascii: "r"): out.append(.carriageReturn)
        case UInt8(ascii: "t"): out.append(.tab)
        case UInt8(ascii: "u"):
            guard let u = hex4(at: i) else { throw error("invalid escape \(written(from: start)) in string", at: start) }
            i += 4
            var value = u
            if (0xDC00...0xDFFF).contains(u) {
                throw error("lone surrogate \(written(from: start)) in string", at: start)
            }
            if (0xD800...0xDBFF).contains(u) {
                // A high surrogate: a low one must follow at once.
                guard bytes[i...].starts(with: [.backslash, UInt8(ascii: "u")]), let low = hex4(at: i + 2),
                      (0xDC00...0xDFFF).contains(low) else {
                    throw error("lone surrogate \(written(from: start)) in string", at: start)
                }
                i += 6
                value = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
            }
            out.append(contentsOf: UTF8.encode(Unicode.Scalar(value)!)!)
        case 0x21..<0x7f:
            throw error("invalid escape \\\(Character(Unicode.Scalar(e))) in string", at: start)
        default:
            i -= 1
            throw error("invalid escape: a backslash before \(found) in string", at: start)
        }
    }

    /// Four hex digits at `offset`.
    func hex4(at offset: Int) -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for b in bytes[offset..<offset + 4] {
            guard let d = UInt32(String(UnicodeScalar(b)), radix: 16) else { return nil }
            v = v << 4 | d
        }
        return v
    }

    /// An escape as written: up to 6 printable ASCII characters from `offset`.
    func written(from offset: Int) -> String {
        var s = ""
        var j = offset
        while j < bytes.count, j < offset + 6, bytes[j] > 0x20, bytes[j] < 0x7f, j == offset || bytes[j] != .backslash {
            s.unicodeScalars.append(Unicode.Scalar(bytes[j]))
            j += 1
        }
        return s
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as written.
    mutating func number() throws(JSONError) -> String {
        let start = i
        // The run of characters numbers are made of: the whole of a malformed one for its message.
        while let c = peek, (.zero ... .nine).contains(c) || c == .minus || c == .plus || c == .dot
            || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { i += 1 }
        let end = i
        let text = bytes[start..<end]
        var j = start
        func digits() -> Int {
            let from = j
            while j < end, (.zero ... .nine).contains(text[j]) { j += 1 }
            return j - from
        }
        var ok = true
        if text[j] == .minus { j += 1 }
        if j < end, text[j] == .zero { j += 1 } else if digits() == 0 { ok = false }
        if ok, j < end, text[j] == .dot { j += 1; ok = digits() > 0 }
        if ok, j < end, text[j] == UInt8(ascii: "e") || text[j] == UInt8(ascii: "E") {
            j += 1
            if j < end, text[j] == .plus || text[j] == .minus { j += 1 }
            ok = digits() > 0
        }
        let s = String(decoding: text, as: UTF8.self)
        guard ok, j == end else { throw error("invalid number \(JSON.short(s))", at: start) }
        return s
    }
}

private extension UInt8 {
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let quote = UInt8(ascii: "\"")
    static let plus = UInt8(ascii: "+")
    static let comma = UInt8(ascii: ",")
    static let minus = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let slash = UInt8(ascii: "/")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let colon = UInt8(ascii: ":")
    static let openBracket = UInt8(ascii: "[")
    static let backslash = UInt8(ascii: "\\")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
}

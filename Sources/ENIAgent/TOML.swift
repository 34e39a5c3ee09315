import ENIModel

/// The subset of TOML that eni-agent's config uses: `key = value` lines, `[table]` headers,
/// strings (basic and literal), integers, booleans, and arrays of those. Anything else is an error
/// naming the file, the line and the text, never silently ignored. Arrays nest at most
/// `TOML.maxArrayDepth` deep (the config holds arrays of scalars), so no input exhausts the stack.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([TOMLValue])

    var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .boolean: "boolean"
        case .array: "array"
        }
    }
}

public struct TOMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

public enum TOML {
    /// How deep arrays may nest: `[[1]]` is 2.
    public static let maxArrayDepth = 8

    /// Parses `text`; keys under `[table]` come back dotted (`table.key`), in file order.
    public static func parse(_ text: String, file: String) throws(TOMLError) -> [(key: String, value: TOMLValue, line: Int)] {
        var out: [(String, TOMLValue, Int)] = []
        var seen = Set<String>()
        var prefix = ""
        var p = Parser(chars: Array(text.unicodeScalars), file: file)
        while true {
            p.skipBlankAndComments()
            guard let c = p.peek else { break }
            let line = p.line
            if c == "[" {
                p.advance()
                p.skipSpaces()
                let name = try p.key()
                p.skipSpaces()
                guard p.peek == "]" else { throw p.error("expected ']' after table name") }
                p.advance()
                try p.endOfLine()
                prefix = name + "."
                continue
            }
            let key = prefix + (try p.key())
            p.skipSpaces()
            guard p.peek == "=" else { throw p.error("expected '=' after key \(quotedKey(key))") }
            p.advance()
            p.skipSpaces()
            let value = try p.value()
            try p.endOfLine()
            guard seen.insert(key).inserted else { throw TOMLError(file: file, line: line, message: "key \(quotedKey(key)) is set twice") }
            out.append((key, value, line))
        }
        return out
    }

    static func quotedKey(_ k: String) -> String { "'\(k)'" }
}

private struct Parser {
    let chars: [Unicode.Scalar]
    let file: String
    var i = 0
    var line = 1

    init(chars: [Unicode.Scalar], file: String) { self.chars = chars; self.file = file }

    var peek: Unicode.Scalar? { i < chars.count ? chars[i] : nil }
    mutating func advance() {
        if chars[i] == "\n" { line += 1 }
        i += 1
    }

    func error(_ m: String) -> TOMLError { TOMLError(file: file, line: line, message: m) }

    mutating func skipSpaces() { while let c = peek, c == " " || c == "\t" { advance() } }

    mutating func skipComment() {
        if peek == "#" { while let c = peek, c != "\n" { advance() } }
    }

    mutating func skipBlankAndComments() {
        while let c = peek {
            if c == " " || c == "\t" || c == "\n" || c == "\r" { advance() }
            else if c == "#" { skipComment() }
            else { break }
        }
    }

    mutating func endOfLine() throws(TOMLError) {
        skipSpaces()
        skipComment()
        if peek == "\r" { advance() }
        guard peek == nil || peek == "\n" else { throw error("unexpected text after value: \(rest())") }
    }

    func rest() -> String {
        var s = ""
        var j = i
        while j < chars.count, chars[j] != "\n", s.unicodeScalars.count < 40 { s.unicodeScalars.append(chars[j]); j += 1 }
        return "'" + escapingControls(s) + "'"
    }

    mutating func key() throws(TOMLError) -> String {
        var k = ""
        while let c = peek, c.properties.isAlphabetic && c.isASCII || ("0"..."9").contains(c) || c == "_" || c == "-" || c == "." {
            k.unicodeScalars.append(c); advance()
        }
        guard !k.isEmpty, !k.hasPrefix("."), !k.hasSuffix("."), !k.contains("..") else {
            throw error("expected a key, found \(rest())")
        }
        return k
    }

    /// `depth`: how many arrays the value is inside.
    mutating func value(depth: Int = 0) throws(TOMLError) -> TOMLValue {
        guard let c = peek else { throw error("missing value") }
        switch c {
        case "\"": return .string(try basicString())
        case "'": return .string(try literalString())
        case "[":
            guard depth < TOML.maxArrayDepth else { throw error("arrays nested deeper than \(TOML.maxArrayDepth)") }
            return try array(depth: depth + 1)
        case "t", "f":
            var w = ""
            while let c = peek, c.properties.isAlphabetic { w.unicodeScalars.append(c); advance() }
            if w == "true" { return .boolean(true) }
            if w == "false" { return .boolean(false) }
            throw error("invalid value '\(w)'")
        default:
            var w = ""
            while let c = peek, c == "+" || c == "-" || c == "_" || ("0"..."9").contains(c) { w.unicodeScalars.append(c); advance() }
            let digits = w.filter { $0 != "_" }
            // Each underscore between two digits (`1_000`; not `_1`, `1_`, `1__0`, `+_1`).
            let u = Array(w.unicodeScalars)
            let underscoresOK = u.indices.allSatisfy { k in
                u[k] != "_" || (k > 0 && k < u.count - 1 && ("0"..."9").contains(u[k - 1]) && ("0"..."9").contains(u[k + 1]))
            }
            guard !w.isEmpty, underscoresOK, let n = Int(digits),
                  !(digits.trimmingSign.count > 1 && digits.trimmingSign.hasPrefix("0"))
            else { throw error("invalid value \(w.isEmpty ? rest() : "'\(w)'") (expected a string, integer, boolean or array)") }
            return .integer(n)
        }
    }

    mutating func basicString() throws(TOMLError) -> String {
        advance()
        var s = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            advance()
            if c == "\"" { return s }
            if c.value < 0x20 && c != "\t" || c.value == 0x7f { throw error("control character in string") }
            guard c == "\\" else { s.unicodeScalars.append(c); continue }
            guard let e = peek else { throw error("unterminated string") }
            advance()
            switch e {
            case "\"": s += "\""
            case "\\": s += "\\"
            case "n": s += "\n"
            case "t": s += "\t"
            case "r": s += "\r"
            case "u", "U":
                let n = e == "u" ? 4 : 8
                var hex = ""
                for _ in 0..<n { guard let h = peek else { break }; hex.unicodeScalars.append(h); advance() }
                // Exactly n hex digits: UInt32(_:radix:) alone also takes a sign ("+041", "-000").
                guard hex.unicodeScalars.count == n, hex.unicodeScalars.allSatisfy(\.properties.isASCIIHexDigit),
                      let v = UInt32(hex, radix: 16), let u = Unicode.Scalar(v) else { throw error("invalid escape \\\(escapingControls(String(e) + hex))") }
                s.unicodeScalars.append(u)
            default: throw error("invalid escape \\\(escapingControls(String(e)))")
            }
        }
    }

    mutating func literalString() throws(TOMLError) -> String {
        advance()
        var s = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            advance()
            if c == "'" { return s }
            if c.value < 0x20 && c != "\t" || c.value == 0x7f { throw error("control character in string") }
            s.unicodeScalars.append(c)
        }
    }

    mutating func array(depth: Int) throws(TOMLError) -> TOMLValue {
        advance()
        var items: [TOMLValue] = []
        while true {
            skipBlankAndComments()
            if peek == "]" { advance(); return .array(items) }
            items.append(try value(depth: depth))
            skipBlankAndComments()
            if peek == "," { advance(); continue }
            guard peek == "]" else { throw error("expected ',' or ']' in array, found \(rest())") }
        }
    }
}

private extension String {
    var trimmingSign: Substring { hasPrefix("+") || hasPrefix("-") ? dropFirst() : Substring(self) }
}

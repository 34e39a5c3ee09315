/// Where bytes stop being UTF-8: the offset of the first bad byte (from 0), and its line and column
/// (from 1; the column counts characters).
public struct InvalidUTF8: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var byte: UInt8
    public var line: Int
    public var column: Int

    public var description: String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "invalid UTF-8 at byte offset \(offset) (0x\(hex.count < 2 ? "0" + hex : hex))"
    }
}

/// Strict UTF-8 for the files the agent reads (the metadata file's JSON here, the config's TOML in
/// ENIAgent).
public enum UTF8Text {
    /// The bytes as a string, or where they stop being UTF-8. Stray and truncated sequences,
    /// overlong forms, encoded surrogates and values above U+10FFFF are all invalid: nothing is
    /// replaced with U+FFFD.
    public static func decode(_ bytes: [UInt8]) throws(InvalidUTF8) -> String {
        var parser = Unicode.UTF8.ForwardParser()
        var it = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let s): offset += s.count
            case .emptyInput: return String(decoding: bytes, as: UTF8.self)
            case .error:
                let (line, column) = position(of: offset, in: bytes)
                throw InvalidUTF8(offset: offset, byte: bytes[offset], line: line, column: column)
            }
        }
    }

    /// Line and column (from 1; the column counts characters) of a byte offset in UTF-8 text
    /// that is valid up to that offset.
    static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for b in bytes[..<min(offset, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 }
            else if b & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }
}

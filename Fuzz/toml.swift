// TOML.parse (Sources/ENIAgent/TOML.swift) on any UTF-8 text. Invariants: no key twice in what it
// returns; lines in range; what it returns, written back as TOML, parses to the same keys and
// values in the same order; errors name a line in range and hold no raw control character.
@testable import ENIAgent
import ENIModel

func write(_ v: TOMLValue) -> String {
    switch v {
    case .string(let s): jsonString(s)
    case .integer(let n): String(n)
    case .boolean(let b): b ? "true" : "false"
    case .array(let items): "[" + items.map(write).joined(separator: ", ") + "]"
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // AgentConfig.load(tomlBytes:) decodes first; invalid UTF-8 is the config target's.
    guard let text = try? UTF8Text.decode(bytes(data, size)) else { return 0 }
    let lines = text.unicodeScalars.reduce(1) { $0 + ($1 == "\n" ? 1 : 0) }
    let entries: [(key: String, value: TOMLValue, line: Int)]
    do { entries = try TOML.parse(text, file: "fuzz.toml") } catch {
        checkMessage(error.description)
        check((1...lines).contains(error.line), "error line \(error.line) of \(lines)")
        return 0
    }
    check(Set(entries.map(\.key)).count == entries.count, "a key returned twice")
    check(entries.allSatisfy { (1...lines).contains($0.line) }, "entry line out of range")
    let written = entries.map { "\($0.key) = \(write($0.value))" }.joined(separator: "\n")
    do {
        let again = try TOML.parse(written, file: "again.toml")
        check(again.map(\.key) == entries.map(\.key) && again.map(\.value) == entries.map(\.value),
              "round trip differs: \(quoted(written))")
    } catch {
        check(false, "written back, it does not parse: \(error) in \(quoted(written))")
    }
    return 0
}

// The strict JSON parser JSON.parse (Sources/ENIModel/StrictJSON.swift, with UTF8Text.swift) on any
// bytes. Invariants: no object holds a key twice; nesting at most JSON.maxDepth; the value written
// back as JSON parses to the same value; errors name a line and column from 1 and hold no raw
// control character.
@testable import ENIModel

func write(_ v: JSON) -> String {
    switch v {
    case .null: "null"
    case .bool(let b): b ? "true" : "false"
    case .number(let n): n
    case .string(let s): jsonString(s)
    case .array(let items): "[" + items.map(write).joined(separator: ",") + "]"
    case .object(let members): "{" + members.map { jsonString($0.key) + ":" + write($0.value) }.joined(separator: ",") + "}"
    }
}

/// Checks the keys of every object; returns the nesting depth.
func walk(_ v: JSON) -> Int {
    switch v {
    case .array(let items): return 1 + (items.map(walk).max() ?? 0)
    case .object(let members):
        check(Set(members.map(\.key)).count == members.count, "an object holds a key twice")
        return 1 + (members.map { walk($0.value) }.max() ?? 0)
    default: return 0
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value: JSON
    do { value = try JSON.parse(bytes(data, size)) } catch {
        checkMessage(error.description)
        check(error.line >= 1 && error.column >= 1, "error at line \(error.line), column \(error.column)")
        return 0
    }
    check(walk(value) <= JSON.maxDepth, "nested deeper than \(JSON.maxDepth)")
    let written = write(value)
    do {
        check(try JSON.parse(Array(written.utf8)) == value, "round trip differs: \(quoted(written))")
    } catch {
        check(false, "written back, it does not parse: \(error) in \(quoted(written))")
    }
    return 0
}

// Shared by every target (compiled into each).
import ENIModel

/// The fuzzer's input as bytes.
func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// Stops the run when an invariant does not hold: libFuzzer reports it as a crash and saves the input.
func check(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fatalError("invariant broken: " + what()) }
}

/// A message shows values through `quoted(...)`: no raw control character (C0 or DEL) in it.
func checkMessage(_ m: String) {
    check(!m.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "raw control character in the message \(quoted(m))")
}

/// `s` as a JSON (and TOML basic) string literal: `"`, `\` and control characters escaped.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 || u.value == 0x7f {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

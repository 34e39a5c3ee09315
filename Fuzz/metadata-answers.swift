// How the providers read an answer's body (Sources/ENIMetadata/Answers.swift): Answer.text (UTF-8,
// no control character but line ends), then as a leaf (Answer.leaf: one line) and as a listing
// (Answer.entries: one entry per line), and each entry as the MAC listing reads it (a trailing `/`
// dropped, then parseMAC). Invariants: a leaf or an entry holds no line end; a leaf is the text but
// its trailing line ends; the entries joined by "\n" split into the same entries; at most `max`
// entries; errors hold no raw control character.
@testable import ENIMetadata
import ENIModel

let max = 64

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text: String
    do { text = try Answer.text(bytes(data, size), url: "http://m/x") } catch {
        checkMessage(error.message)
        return 0
    }
    check(!text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\r") || $0.value == 0x7f },
          "text() let a control character through")
    let lineEnd: (Unicode.Scalar) -> Bool = { $0 == "\n" || $0 == "\r" }

    do {
        let v = try Answer.leaf(text, url: "http://m/x")
        check(!v.unicodeScalars.contains(where: lineEnd), "a leaf holds a line end: \(quoted(v))")
        check(text.unicodeScalars.starts(with: v.unicodeScalars)
              && text.unicodeScalars.dropFirst(v.unicodeScalars.count).allSatisfy(lineEnd), "leaf \(quoted(v)) is not the text's line")
    } catch { checkMessage(error.message) }

    do {
        let entries = try Answer.entries(text, url: "http://m/x", max: max)
        check(entries.count <= max, "\(entries.count) entries")
        for e in entries {
            check(!e.isEmpty && !e.unicodeScalars.contains(where: lineEnd), "entry \(quoted(e))")
            let spelled = e.hasSuffix("/") ? String(e.dropLast()) : e
            do {
                let m = try parseMAC(spelled, at: "http://m/x")
                check((try? MACAddress(m.description)) == m, "MAC \(m) does not re-parse")
            } catch { checkMessage(error.message) }
        }
        check((try? Answer.entries(entries.joined(separator: "\n"), url: "u", max: max)) == entries, "entries do not re-split")
    } catch { checkMessage(error.message) }
    return 0
}

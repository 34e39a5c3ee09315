// A D-Bus message as the agent's bus client reads it (Sources/ENIDBus/Message.swift, Wire.swift):
// the replies of the system bus and of NetworkManager and systemd-networkd. Invariants: the length
// read from the first 16 bytes is within the limit; a message that parses is written again (in its
// byte order and in the other) and parses back to the same message.
@testable import ENIDBus

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = bytes(data, size)
    if let n = try? Message.length(prefix: b) {
        check(n >= 16 && n <= Message.maxLength, "length \(n)")
    }
    guard let m = try? Message(decoding: b) else { return 0 }
    for little in [b[0] == UInt8(ascii: "l"), b[0] != UInt8(ascii: "l")] {
        let again: Message
        do { again = try Message(decoding: m.encoded(littleEndian: little)) } catch {
            check(false, "a parsed message written again (little-endian \(little)) does not parse: \(error)")
            return 0
        }
        check(again == m, "a parsed message written again (little-endian \(little)) reads otherwise")
    }
    return 0
}

@testable import ENIDBus
import XCTest

/// The wire format without a bus: messages as the specification lays them out, both byte orders
/// read, and bytes that are not a message refused with an error (never a crash).
final class WireTests: XCTestCase {
    /// A reply holding every type the agent reads.
    let reply = Message(type: Message.methodReturn, serial: 7, replySerial: 3, destination: ":1.5", sender: ":1.2",
                        body: [.boolean(true), .strings(["/etc/a", "/etc/b"]), .objectPath("/org/freedesktop/NetworkManager/Devices/3"),
                               .variant(.objectPath("/o")), .variant(.string("s")), .uint32(1), .uint64(1 << 40)])

    /// A method call: header fields aligned to 8, the body on an 8-byte boundary, arguments
    /// as the specification marshals them.
    func testAMethodCallsBytes() throws {
        let m = Message.call(serial: 2, destination: "a.b", path: "/", interface: "a.b", member: "M",
                             [.string("ab"), .uint32(1), .array(element: "{sa{sv}}", []), .uint64(2)])
        let b = m.encoded()
        XCTAssertEqual(Array(b[0..<4]), [UInt8(ascii: "l"), 1, 0, 1])
        XCTAssertEqual(Array(b[8..<12]), [2, 0, 0, 0], "serial")
        XCTAssertEqual(Array(b[16..<28]), [1, 1, UInt8(ascii: "o"), 0, 1, 0, 0, 0, UInt8(ascii: "/"), 0, 0, 0],
                       "PATH: code 1, signature o, length 1, '/', NUL, padding")
        let bodyLength = Int(b[4]) | Int(b[5]) << 8
        let body = Array(b[(b.count - bodyLength)...])
        XCTAssertEqual((b.count - bodyLength) % 8, 0, "the body starts on an 8-byte boundary")
        XCTAssertEqual(body, [2, 0, 0, 0, UInt8(ascii: "a"), UInt8(ascii: "b"), 0, 0,   // s "ab"
                              1, 0, 0, 0,                                                  // u 1
                              0, 0, 0, 0,                                                  // a{sa{sv}}: length 0 (its entries would start at 16)
                              2, 0, 0, 0, 0, 0, 0, 0])                                     // t 2
        XCTAssertEqual(try Message(decoding: b).bodySignature, "sua{sa{sv}}t")
    }

    func testBothByteOrdersRoundTrip() throws {
        for little in [true, false] {
            let b = reply.encoded(littleEndian: little)
            XCTAssertEqual(b[0], little ? UInt8(ascii: "l") : UInt8(ascii: "B"))
            XCTAssertEqual(try Message.length(prefix: Array(b[..<16])), b.count)
            XCTAssertEqual(try Message(decoding: b), reply)
        }
    }

    /// A big-endian error reply written byte by byte (not by this encoder).
    func testABigEndianErrorByHand() throws {
        var b: [UInt8] = [UInt8(ascii: "B"), 3, 1, 1, 0, 0, 0, 8, 0, 0, 0, 9]
        var fields: [UInt8] = [4, 1, UInt8(ascii: "s"), 0, 0, 0, 0, 3] + Array("x.Y".utf8) + [0]  // ERROR_NAME "x.Y"
        fields += [0, 0, 0, 0, 5, 1, UInt8(ascii: "u"), 0, 0, 0, 0, 4]                          // REPLY_SERIAL 4
        fields += [8, 1, UInt8(ascii: "g"), 0, 1, UInt8(ascii: "s"), 0]                         // SIGNATURE "s"
        b += [0, 0, 0, UInt8(fields.count)] + fields
        while b.count % 8 != 0 { b.append(0) }
        b += [0, 0, 0, 3] + Array("why".utf8) + [0]
        let m = try Message(decoding: b)
        XCTAssertEqual(m.type, Message.error)
        XCTAssertEqual(m.serial, 9)
        XCTAssertEqual(m.replySerial, 4)
        XCTAssertEqual(m.errorName, "x.Y")
        XCTAssertEqual(m.errorMessage, "why")
    }

    /// Every prefix of a message is refused, and so is every one-byte change that breaks it; a
    /// change that keeps it well formed may parse. Nothing traps.
    func testTruncatedAndCorruptedMessagesAreErrors() {
        for little in [true, false] {
            let b = reply.encoded(littleEndian: little)
            for n in 0..<b.count {
                XCTAssertThrowsError(try Message(decoding: Array(b[..<n])), "a prefix of \(n) bytes")
            }
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<20_000 {
                var c = b
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    c[Int.random(in: 0..<c.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                _ = try? Message(decoding: c)
            }
        }
    }

    func testMalformedValuesAreNamed() {
        func body(_ signature: String, _ bytes: [UInt8]) throws -> [DBusValue] {
            var r = WireReader(bytes, littleEndian: true)
            return try DBusType.parse(signature).map { t throws(WireError) in try r.read(t) }
        }
        XCTAssertThrowsError(try body("s", [5, 0, 0, 0, 97, 0])) { XCTAssertTrue("\($0)".contains("past the end"), "\($0)") }
        XCTAssertThrowsError(try body("s", [1, 0, 0, 0, 97, 98])) { XCTAssertTrue("\($0)".contains("NUL"), "\($0)") }
        XCTAssertThrowsError(try body("b", [2, 0, 0, 0])) { XCTAssertTrue("\($0)".contains("boolean"), "\($0)") }
        XCTAssertThrowsError(try body("o", [3, 0, 0, 0, 97, 98, 99, 0])) { XCTAssertTrue("\($0)".contains("object path"), "\($0)") }
        XCTAssertThrowsError(try body("as", [0xff, 0xff, 0xff, 0x0f])) { XCTAssertTrue("\($0)".contains("array"), "\($0)") }
        XCTAssertThrowsError(try body("as", [5, 0, 0, 0, 1, 0, 0, 0, 97, 0])) { XCTAssertTrue("\($0)".contains("overruns"), "\($0)") }
        XCTAssertThrowsError(try body("v", [2, UInt8(ascii: "s"), UInt8(ascii: "s"), 0])) { XCTAssertTrue("\($0)".contains("one complete type"), "\($0)") }
        XCTAssertThrowsError(try body("h", [0, 0, 0, 0])) { XCTAssertTrue("\($0)".contains("not supported"), "\($0)") }
        XCTAssertThrowsError(try DBusType.parse(String(repeating: "a", count: 33) + "s")) { XCTAssertTrue("\($0)".contains("deep"), "\($0)") }
        XCTAssertThrowsError(try DBusType.parse("a{vs}")) { XCTAssertTrue("\($0)".contains("basic"), "\($0)") }
        XCTAssertEqual(try body("a{sv}", [0, 0, 0, 0, 0, 0, 0, 0]), [.array(element: "{sv}", [])])
        // Variants nested beyond the limit: refused, not a stack overflow.
        var deep: [UInt8] = []
        for _ in 0..<100 { deep += [1, UInt8(ascii: "v"), 0] }
        XCTAssertThrowsError(try body("v", deep)) { XCTAssertTrue("\($0)".contains("too deep"), "\($0)") }
    }

    func testLengthsBeyondTheLimitAreRefusedBeforeReading() {
        let header: [UInt8] = [UInt8(ascii: "l"), 2, 0, 1, 0, 0, 0x20, 0, 1, 0, 0, 0, 8, 0, 0, 0]  // a 2 MiB body
        XCTAssertThrowsError(try Message.length(prefix: header)) { XCTAssertTrue("\($0)".contains("more than"), "\($0)") }
        XCTAssertThrowsError(try Message.length(prefix: [UInt8(ascii: "x")] + header.dropFirst())) {
            XCTAssertTrue("\($0)".contains("byte order"), "\($0)")
        }
    }

    func testObjectPaths() {
        for p in ["/", "/org/freedesktop/NetworkManager/Devices/3", "/a_b/C9"] { XCTAssertTrue(WireReader.isObjectPath(p), p) }
        for p in ["", "a", "/a/", "//a", "/a-b", "/a//b"] { XCTAssertFalse(WireReader.isObjectPath(p), p) }
    }
}

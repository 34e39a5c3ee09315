@testable import ENIApply
import Foundation
import XCTest

/// The D-Bus client against a private `dbus-daemon` (its own socket in a temp directory; nothing
/// of the machine's buses is touched): the wire format as the reference implementation reads it.
final class SystemBusTests: XCTestCase {
    var daemon: Process?
    var dir: URL!

    /// A private bus with the session configuration; skipped without dbus-daemon.
    func bus() throws -> SystemBus {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-daemon") else {
            throw XCTSkip("dbus-daemon is not installed (make test installs it)")
        }
        dir = FileManager.default.temporaryDirectory.appending(path: "eni-bus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let socket = dir.appending(path: "bus").path
        let p = Process()
        p.executableURL = URL(filePath: "/usr/bin/dbus-daemon")
        p.arguments = ["--session", "--nofork", "--nopidfile", "--address=unix:path=\(socket)"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        daemon = p
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket), Date() < deadline { usleep(10_000) }
        return SystemBus(socketPath: socket)
    }

    override func tearDown() {
        daemon?.terminate()
        daemon?.waitUntilExit()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testAMethodCallGetsItsReply() throws {
        // The bus itself answers GetId (no arguments).
        try bus().call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                       interface: "org.freedesktop.DBus", member: "GetId")
    }

    func testAnErrorReplyNamesTheErrorAndItsMessage() throws {
        let b = try bus()
        XCTAssertThrowsError(try b.call(destination: "org.freedesktop.network1", path: "/org/freedesktop/network1",
                                        interface: "org.freedesktop.network1.Manager", member: "Reload")) { e in
            guard case .remote(let name, let message) = e as? BusError else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "org.freedesktop.DBus.Error.ServiceUnknown")
            XCTAssertTrue(message.contains("org.freedesktop.network1"), message)
        }
        XCTAssertThrowsError(try b.call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                        interface: "org.freedesktop.DBus", member: "NoSuchMethod")) { e in
            guard case .remote(let name, _) = e as? BusError else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "org.freedesktop.DBus.Error.UnknownMethod")
        }
    }

    func testNoBusIsATransportErrorNamingThePath() {
        let b = SystemBus(socketPath: "/nonexistent/eni-bus")
        XCTAssertThrowsError(try b.call(destination: "x.y", path: "/", interface: "x.y", member: "Z")) { e in
            XCTAssertEqual("\(e)", "connect /nonexistent/eni-bus: No such file or directory")
        }
    }

    /// A method call as the specification lays it out: header fields aligned to 8, the body
    /// (empty) on an 8-byte boundary.
    func testAMethodCallsBytes() {
        let m = SystemBus.Message.methodCall(serial: 2, destination: "a.b", path: "/", interface: "a.b", member: "M")
        XCTAssertEqual(Array(m[0..<4]), [UInt8(ascii: "l"), 1, 0, 1])
        XCTAssertEqual(m.count % 8, 0)
        XCTAssertEqual(SystemBus.Message.u32(m, 8, true), 2, "serial")
        let fields = Int(SystemBus.Message.u32(m, 12, true))
        XCTAssertEqual(SystemBus.Message.align(16 + fields, 8), m.count, "no body")
        XCTAssertEqual(Array(m[16..<24]), [1, 1, UInt8(ascii: "o"), 0, 1, 0, 0, 0], "PATH, signature o, length 1")
    }
}

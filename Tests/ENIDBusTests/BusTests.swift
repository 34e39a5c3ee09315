@testable import ENIDBus
import Foundation
import Synchronization
import XCTest

/// A private `dbus-daemon` (session configuration, its socket in a temp directory; nothing of the
/// machine's buses is touched), started and stopped by its PID.
final class PrivateBus {
    let dir: String
    let socket: String
    let process: Process

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-daemon") else {
            throw XCTSkip("dbus-daemon is not installed (make test installs it): the bus tests did not run")
        }
        dir = FileManager.default.temporaryDirectory.appending(path: "eni-bus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        socket = dir + "/bus"
        process = Process()
        process.executableURL = URL(filePath: "/usr/bin/dbus-daemon")
        process.arguments = ["--session", "--nofork", "--nopidfile", "--print-address", "--address=unix:path=\(socket)"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Ready once it accepts a connection (polled, with a deadline).
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? BusConnection(socketPath: socket, deadline: .now + .seconds(1))) == nil {
            guard ContinuousClock.now < deadline, process.isRunning else {
                stop()
                throw XCTSkip("the private dbus-daemon did not start: the bus tests did not run")
            }
            _ = poll(nil, 0, 10)
        }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// A fake NetworkManager on the private bus, made of the client's own connection: it owns
/// `org.freedesktop.NetworkManager`, records each method call and answers as `answer` says, on a
/// thread of its own until the bus goes away.
final class FakeNetworkManager: @unchecked Sendable {
    enum Answer { case values([DBusValue]), bigEndian([DBusValue]), error(String, String) }
    struct Call: Equatable, CustomStringConvertible {
        var path: String, interface: String, member: String, arguments: [DBusValue]
        var description: String { "\(interface).\(member) on \(path) \(arguments)" }
    }

    private let lock = NSLock()
    private var received: [Call] = []
    private let done = DispatchSemaphore(value: 0)
    var calls: [Call] { lock.withLock { received } }

    init(socket: String, answer: @escaping @Sendable (Call) -> Answer) throws {
        let c = try BusConnection(socketPath: socket, deadline: .now + .seconds(60))
        let owner = try c.call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus",
                               member: "RequestName", [.string(NetworkManagerBus.service), .uint32(4)])
        XCTAssertEqual(owner, [.uint32(1)], "primary owner")
        nonisolated(unsafe) let connection = c
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            while let m = try? connection.receive() {
                guard m.type == Message.methodCall, let member = m.member, let path = m.path else { continue }
                let call = Call(path: path, interface: m.interface ?? "", member: member, arguments: m.body)
                lock.withLock { received.append(call) }
                var reply = Message(type: Message.methodReturn, serial: connection.nextSerial(), replySerial: m.serial, destination: m.sender)
                var little = true
                switch answer(call) {
                case .values(let v): reply.body = v
                case .bigEndian(let v): reply.body = v; little = false
                case .error(let name, let message):
                    reply.type = Message.error
                    reply.errorName = name
                    reply.body = [.string(message)]
                }
                guard (try? connection.send(reply, littleEndian: little)) != nil else { return }
            }
        }
    }

    /// Waits for its thread to end (the bus stopped).
    func join() { _ = done.wait(timeout: .now() + 10) }
}

/// The client against a private dbus-daemon: the reference implementation reads what it writes,
/// and a fake NetworkManager on that bus receives its arguments and sends the typed replies.
final class BusTests: XCTestCase {
    var bus: PrivateBus!
    var nm: FakeNetworkManager?

    override func setUpWithError() throws { bus = try PrivateBus() }
    override func tearDown() {
        bus?.stop()
        nm?.join()
    }

    func connect() throws -> BusConnection { try BusConnection(socketPath: bus.socket, deadline: .now + .seconds(5)) }

    func testTheBusAnswersCallsWithArguments() throws {
        let c = try connect()
        XCTAssertTrue(c.uniqueName.hasPrefix(":"), c.uniqueName)
        let dbus = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
        XCTAssertEqual(try c.call(destination: dbus.0, path: dbus.1, interface: dbus.2, member: "GetNameOwner", [.string(dbus.0)]),
                       [.string("org.freedesktop.DBus")])
        XCTAssertEqual(try c.call(destination: dbus.0, path: dbus.1, interface: dbus.2, member: "NameHasOwner", [.string(c.uniqueName)]),
                       [.boolean(true)])
        guard case .array("s", let names) = try c.call(destination: dbus.0, path: dbus.1, interface: dbus.2, member: "ListNames").first else {
            return XCTFail("ListNames: not an array of strings")
        }
        XCTAssertTrue(names.contains(.string(c.uniqueName)))
        // A property read: a variant.
        let features = try c.call(destination: dbus.0, path: dbus.1, interface: "org.freedesktop.DBus.Properties", member: "Get",
                                  [.string("org.freedesktop.DBus"), .string("Features")])
        guard case .variant(.array("s", _))? = features.first else { return XCTFail("\(features)") }
    }

    func testNoNetworkManagerOnTheBusIsServiceUnknown() throws {
        let nm = try NetworkManagerBus(socketPath: bus.socket)
        XCTAssertThrowsError(try nm.loadConnections(["/etc/NetworkManager/system-connections/eni-agent-eth1.nmconnection"])) { e in
            guard case .remote(let name, let message) = e as? BusError else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "org.freedesktop.DBus.Error.ServiceUnknown")
            XCTAssertTrue(message.hasPrefix("LoadConnections: "), message)
            XCTAssertTrue(message.contains("org.freedesktop.NetworkManager"), message)
        }
    }

    func testNoBusIsATransportErrorNamingThePath() {
        XCTAssertThrowsError(try NetworkManagerBus(socketPath: bus.dir + "/nonexistent")) { e in
            XCTAssertEqual(e as? BusError, .transport("connect \(bus.dir)/nonexistent: No such file or directory"))
        }
    }

    let device = "/org/freedesktop/NetworkManager/Devices/3"
    let ours = "/org/freedesktop/NetworkManager/Settings/7"
    let dhcp = "/org/freedesktop/NetworkManager/Settings/1"
    let running = "/org/freedesktop/NetworkManager/ActiveConnection/1"
    let activated = "/org/freedesktop/NetworkManager/ActiveConnection/2"
    let uuid = "0c2d9a4e-5b7f-4e8a-9c1d-2f3e4a5b6c7d"

    /// NetworkManager whose device `eth1` runs the profile at `runs` ("/" for none), as the
    /// methods' introspection declares their replies.
    /// `states`: the device's `State` at each read, the last one repeated (10: unmanaged, 100:
    /// activated).
    func fakeNetworkManager(runs: String?, reapply: FakeNetworkManager.Answer = .values([]), states: [UInt32] = [100]) throws -> FakeNetworkManager {
        let (device, ours, activated, uuid) = (device, ours, activated, uuid)
        let running = self.running
        let states = Mutex(states)
        let f = try FakeNetworkManager(socket: bus.socket) { call in
            switch (call.interface, call.member, call.arguments) {
            case ("org.freedesktop.DBus.Properties", "Get", [.string("org.freedesktop.NetworkManager.Device"), .string("State")]):
                .values([.variant(.uint32(states.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }))])
            case ("org.freedesktop.NetworkManager", "GetDeviceByIpIface", [.string("eth1")]): .values([.objectPath(device)])
            case ("org.freedesktop.NetworkManager", "GetDeviceByIpIface", _):
                .error("org.freedesktop.NetworkManager.UnknownDevice", "No device found for the requested iface.")
            case ("org.freedesktop.NetworkManager.Settings", "GetConnectionByUuid", [.string(uuid)]): .values([.objectPath(ours)])
            case ("org.freedesktop.DBus.Properties", "Get", [.string("org.freedesktop.NetworkManager.Device"), .string("ActiveConnection")]):
                .values([.variant(.objectPath(runs == nil ? "/" : running))])
            case ("org.freedesktop.DBus.Properties", "Get", [.string("org.freedesktop.NetworkManager.Connection.Active"), .string("Connection")]):
                .bigEndian([.variant(.objectPath(runs ?? "/"))])
            case ("org.freedesktop.NetworkManager.Device", "Reapply", _): reapply
            case ("org.freedesktop.NetworkManager", "ActivateConnection", _): .values([.objectPath(activated)])
            case ("org.freedesktop.NetworkManager.Settings", "LoadConnections", _):
                // The files whose name says "broken" could not be loaded.
                if case .array("s", let paths)? = call.arguments.first {
                    .bigEndian([.boolean(false), .array(element: "s", paths.filter { "\($0)".contains("broken") })])
                } else {
                    .error("org.freedesktop.DBus.Error.InvalidArgs", "not as")
                }
            default: .error("org.freedesktop.DBus.Error.UnknownMethod", "no \(call.member) here")
            }
        }
        nm = f
        return f
    }

    func call(_ interface: String, _ member: String, on path: String, _ arguments: [DBusValue]) -> FakeNetworkManager.Call {
        .init(path: path, interface: interface, member: member, arguments: arguments)
    }
    func get(_ object: String, _ interface: String, _ name: String) -> FakeNetworkManager.Call {
        call("org.freedesktop.DBus.Properties", "Get", on: object, [.string(interface), .string(name)])
    }
    var lookups: [FakeNetworkManager.Call] {
        [call("org.freedesktop.NetworkManager", "GetDeviceByIpIface", on: "/org/freedesktop/NetworkManager", [.string("eth1")]),
         get(device, "org.freedesktop.NetworkManager.Device", "State"),
         call("org.freedesktop.NetworkManager.Settings", "GetConnectionByUuid", on: "/org/freedesktop/NetworkManager/Settings", [.string(uuid)]),
         get(device, "org.freedesktop.NetworkManager.Device", "ActiveConnection")]
    }

    /// The reply is big-endian (dbus-daemon passes a message on in its sender's byte order).
    func testLoadConnectionsSendsThePathsAndReadsTheFailures() throws {
        let fake = try fakeNetworkManager(runs: nil)
        let paths = ["/etc/NetworkManager/system-connections/eni-agent-eth1.nmconnection",
                     "/etc/NetworkManager/system-connections/eni-agent-broken.nmconnection"]
        let nm = try NetworkManagerBus(socketPath: bus.socket)
        XCTAssertEqual(try nm.loadConnections(paths), [paths[1]], "the failures of a big-endian reply")
        XCTAssertEqual(try nm.loadConnections([]), [])
        XCTAssertEqual(fake.calls, [call("org.freedesktop.NetworkManager.Settings", "LoadConnections",
                                         on: "/org/freedesktop/NetworkManager/Settings", [.strings(paths)]),
                                    call("org.freedesktop.NetworkManager.Settings", "LoadConnections",
                                         on: "/org/freedesktop/NetworkManager/Settings", [.strings([])])])
    }

    func testADeviceRunningAnotherProfileIsActivatedWithOurs() throws {
        let fake = try fakeNetworkManager(runs: dhcp)
        XCTAssertEqual(try NetworkManagerBus(socketPath: bus.socket).activate(uuid: uuid, interface: "eth1"), .activated(activated))
        XCTAssertEqual(fake.calls, lookups + [
            get(running, "org.freedesktop.NetworkManager.Connection.Active", "Connection"),
            call("org.freedesktop.NetworkManager", "ActivateConnection", on: "/org/freedesktop/NetworkManager",
                 [.objectPath(ours), .objectPath(device), .objectPath("/")]),
        ])
    }

    func testADeviceRunningNoProfileIsActivated() throws {
        let fake = try fakeNetworkManager(runs: nil)
        XCTAssertEqual(try NetworkManagerBus(socketPath: bus.socket).activate(uuid: uuid, interface: "eth1"), .activated(activated))
        XCTAssertEqual(fake.calls.map(\.member), ["GetDeviceByIpIface", "Get", "GetConnectionByUuid", "Get", "ActivateConnection"])
    }

    /// A hot-plugged NIC is unmanaged until NetworkManager has taken it over from udev: the profile
    /// is activated once it manages the device, not before (NetworkManager would refuse it).
    func testADeviceNotManagedYetIsActivatedOnceItIs() throws {
        let fake = try fakeNetworkManager(runs: nil, states: [10, 10, 30])
        XCTAssertEqual(try NetworkManagerBus(socketPath: bus.socket).activate(uuid: uuid, interface: "eth1"), .activated(activated))
        XCTAssertEqual(fake.calls.map(\.member), ["GetDeviceByIpIface", "Get", "Get", "Get", "GetConnectionByUuid", "Get", "ActivateConnection"])
    }

    func testADeviceThatStaysUnmanagedIsLeftAlone() throws {
        let fake = try fakeNetworkManager(runs: nil, states: [10])
        let nm = try NetworkManagerBus(socketPath: bus.socket, managedWait: .milliseconds(200))
        XCTAssertEqual(try nm.activate(uuid: uuid, interface: "eth1"), .unmanaged)
        XCTAssertEqual(Set(fake.calls.dropFirst().map(\.member)), ["Get"], "only its State read, nothing activated")
        XCTAssertGreaterThan(fake.calls.count, 2, "read more than once")
    }

    func testADeviceRunningOursIsReappliedWithTheLoadedSettings() throws {
        let fake = try fakeNetworkManager(runs: ours)
        XCTAssertEqual(try NetworkManagerBus(socketPath: bus.socket).activate(uuid: uuid, interface: "eth1"), .reapplied)
        let reapply = call("org.freedesktop.NetworkManager.Device", "Reapply", on: device,
                           [.array(element: "{sa{sv}}", []), .uint64(0), .uint32(0)])
        XCTAssertEqual(fake.calls, lookups + [get(running, "org.freedesktop.NetworkManager.Connection.Active", "Connection"), reapply])
        XCTAssertEqual(reapply.arguments.map(\.signature).joined(), "a{sa{sv}}tu", "Reapply's signature in NetworkManager's introspection")
    }

    func testAChangeReapplyCannotMakeActivatesInstead() throws {
        let fake = try fakeNetworkManager(runs: ours, reapply: .error("org.freedesktop.NetworkManager.Device.IncompatibleConnection",
                                                                     "Can't reapply changes to '802-3-ethernet.mac-address' setting"))
        XCTAssertEqual(try NetworkManagerBus(socketPath: bus.socket).activate(uuid: uuid, interface: "eth1"), .activated(activated))
        XCTAssertEqual(fake.calls.map(\.member).suffix(2), ["Reapply", "ActivateConnection"])
    }

    func testAnUnknownDeviceIsNoDeviceAndOtherErrorsAreRemote() throws {
        let fake = try fakeNetworkManager(runs: nil, reapply: .error("org.freedesktop.NetworkManager.Device.NotActive", "Device is not activated"))
        let nm = try NetworkManagerBus(socketPath: bus.socket)
        XCTAssertEqual(try nm.activate(uuid: uuid, interface: "eth9"), .noDevice)
        XCTAssertEqual(fake.calls.map(\.member), ["GetDeviceByIpIface"])
        XCTAssertThrowsError(try nm.activate(uuid: "no-such-uuid", interface: "eth1")) { e in
            XCTAssertEqual(e as? BusError, .remote(name: "org.freedesktop.DBus.Error.UnknownMethod", message: "GetConnectionByUuid: no GetConnectionByUuid here"))
        }
    }

    func testAReplyOfTheWrongTypeIsATransportError() throws {
        nm = try FakeNetworkManager(socket: bus.socket) { _ in .values([.string("/not/an/object/path")]) }
        XCTAssertThrowsError(try NetworkManagerBus(socketPath: bus.socket).activate(uuid: uuid, interface: "eth1")) { e in
            XCTAssertEqual(e as? BusError, .transport("GetDeviceByIpIface replied with signature 's', not 'o'"))
        }
    }
}

/// The client against a "bus" that is not one: a Unix socket in the test that authenticates the
/// client, then sends `reply` (or nothing). A malformed message is a transport error, never a crash.
final class MalformedBusTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appending(path: "eni-badbus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Serves one connection: `OK` to its authentication, then `reply` once `BEGIN` and the
    /// `Hello` call came, then closes the connection when `close` says so (else when the client does).
    func serve(_ reply: [UInt8], close: Bool) throws -> (socket: String, done: DispatchSemaphore) {
        let path = dir + "/bus"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(fd, 1), 0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { Glibc.close(fd); done.signal() }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { return }
            defer { Glibc.close(c) }
            var got: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            func read(until marker: [UInt8]) -> Bool {
                while got.firstRange(of: marker) == nil {
                    let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                    guard n > 0 else { return false }
                    got += chunk[..<n]
                }
                return true
            }
            guard read(until: Array("\r\n".utf8)) else { return }
            _ = "OK 0123456789abcdef0123456789abcdef\r\n".utf8.withContiguousStorageIfAvailable { send(c, $0.baseAddress, $0.count, 0) }
            guard read(until: Array("Hello".utf8)) else { return }
            _ = reply.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if close { return }
            while recv(c, &chunk, chunk.count, 0) > 0 {}
        }
        return (path, done)
    }

    func expectTransportError(_ reply: [UInt8], close: Bool = true, timeout: Duration = .seconds(5), containing text: String) throws {
        let (socket, done) = try serve(reply, close: close)
        XCTAssertThrowsError(try BusConnection(socketPath: socket, deadline: .now + timeout)) { e in
            guard case .transport(let why) = e as? BusError else { return XCTFail("\(e)") }
            XCTAssertTrue(why.contains(text), why)
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
    }

    var helloReply: [UInt8] {
        Message(type: Message.methodReturn, serial: 1, replySerial: 1, body: [.string(":1.1")]).encoded()
    }

    func testAWellFormedHelloReplyIsAccepted() throws {
        let (socket, done) = try serve(helloReply, close: false)
        XCTAssertEqual(try BusConnection(socketPath: socket, deadline: .now + .seconds(5)).uniqueName, ":1.1")
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
    }

    func testATruncatedReplyThenEndOfStream() throws {
        try expectTransportError(Array(helloReply.dropLast(3)), containing: "closed the connection")
    }

    func testGarbageIsNotAMessage() throws {
        try expectTransportError(Array(repeating: UInt8(ascii: "x"), count: 32), containing: "malformed D-Bus message (byte order mark")
    }

    func testAnOversizedLengthIsRefusedWithoutReadingIt() throws {
        var b = helloReply
        b[4...7] = [0, 0, 0, 0x40]  // a 1 GiB body
        try expectTransportError(b, close: false, containing: "malformed D-Bus message (a message of more than")
    }

    func testABodyThatDoesNotMatchItsSignatureIsMalformed() throws {
        var b = helloReply
        let at = b.count - 9  // the string's length (":1.1": 4 bytes, 4 for its length, a NUL): longer than the body
        b[at] = 200
        try expectTransportError(b, containing: "malformed D-Bus message (a string of 200 bytes past the end)")
    }

    func testSilenceEndsAtTheDeadline() throws {
        try expectTransportError([], close: false, timeout: .milliseconds(200), containing: "no answer in time (receive)")
    }
}

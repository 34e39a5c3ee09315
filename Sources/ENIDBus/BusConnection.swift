import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a D-Bus call did not succeed: the bus could not be reached, spoke no D-Bus, sent a message
/// that is not well formed or a reply of another type than the method's, or ran out of time
/// (`transport`); or the service answered with an error (its name and message).
public enum BusError: Error, Equatable, CustomStringConvertible {
    case transport(String)
    case remote(name: String, message: String)

    public var description: String {
        switch self {
        case .transport(let why): why
        case .remote(let name, let message): message.isEmpty ? name : "\(name): \(message)"
        }
    }

    /// The same error, its text starting with the method that failed (an operator reads which
    /// step failed).
    public func naming(_ member: String) -> BusError {
        switch self {
        case .remote(let name, let message): .remote(name: name, message: message.isEmpty ? member : "\(member): \(message)")
        case .transport(let why): .transport("\(member): \(why)")
        }
    }

    /// The error name of a remote error.
    public var remoteName: String? {
        if case .remote(let name, _) = self { name } else { nil }
    }
}

/// One connection to a D-Bus bus, as far as the agent needs one: method calls with arguments and
/// their replies, in order, all within one deadline. No libdbus, no libsystemd: a Unix socket,
/// SASL `EXTERNAL` authentication and the wire format of the D-Bus specification (messages out
/// little-endian, either byte order in). Opening it says `Hello`, as a bus requires, once.
public final class BusConnection {
    public static let systemSocket = "/run/dbus/system_bus_socket"

    let fd: Int32
    let path: String
    /// Every call on this connection must be answered before this instant.
    public let deadline: ContinuousClock.Instant
    /// The name the bus gave this connection (`Hello`'s reply).
    public private(set) var uniqueName = ""
    private var buffer: [UInt8] = []
    private var serial: UInt32 = 0

    /// Connects to the bus at `socketPath`, authenticates and says `Hello`.
    public init(socketPath: String = systemSocket, deadline: ContinuousClock.Instant) throws(BusError) {
        path = socketPath
        self.deadline = deadline
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .transport("socket: \(Errno(rawValue: errno))") }
        try connect()
        try authenticate()
        let hello = try call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                             interface: "org.freedesktop.DBus", member: "Hello")
        guard case .string(let name)? = hello.first else { throw .transport("\(path): Hello's reply holds no name") }
        uniqueName = name
    }

    deinit { close(fd) }

    /// Calls `member` of `interface` on the object `path` of `destination` with `arguments`;
    /// returns the reply's values once it comes. Signals and other messages meanwhile are dropped.
    public func call(destination: String, path: String, interface: String?, member: String,
                     _ arguments: [DBusValue] = []) throws(BusError) -> [DBusValue] {
        let serial = nextSerial()
        try send(.call(serial: serial, destination: destination, path: path, interface: interface, member: member, arguments))
        while true {
            let m = try receive()
            guard m.replySerial == serial, m.type == Message.methodReturn || m.type == Message.error else { continue }
            if m.type == Message.error { throw .remote(name: m.errorName ?? "error", message: m.errorMessage) }
            return m.body
        }
    }

    func nextSerial() -> UInt32 {
        serial &+= 1
        if serial == 0 { serial = 1 }
        return serial
    }

    private func connect() throws(BusError) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw .transport("\(path): path too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let fd = self.fd
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc != 0 else { return }
        guard errno == EINPROGRESS || errno == EAGAIN else { throw .transport("connect \(path): \(Errno(rawValue: errno))") }
        try wait(POLLOUT, "connect")
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        guard err == 0 else { throw .transport("connect \(path): \(Errno(rawValue: err))") }
    }

    /// Waits until the socket is ready for `events`, or throws at the deadline.
    private func wait(_ events: Int32, _ what: String) throws(BusError) {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw .transport("\(path): no answer in time (\(what))") }
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let n = poll(&p, 1, ms)
            if n > 0 { return }
            if n < 0, errno != EINTR { throw .transport("poll \(path): \(Errno(rawValue: errno))") }
        }
    }

    private func send(bytes: [UInt8]) throws(BusError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0, errno == EAGAIN || errno == EINTR { try wait(POLLOUT, "send"); continue }
            throw .transport("send to \(path): \(Errno(rawValue: errno))")
        }
    }

    func send(_ m: Message, littleEndian: Bool = true) throws(BusError) { try send(bytes: m.encoded(littleEndian: littleEndian)) }

    /// Reads until the buffer holds at least `count` bytes.
    private func fill(_ count: Int) throws(BusError) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { buffer += chunk[..<n]; continue }
            if n == 0 { throw .transport("\(path): the bus closed the connection") }
            if errno == EAGAIN || errno == EINTR { try wait(POLLIN, "receive"); continue }
            throw .transport("receive from \(path): \(Errno(rawValue: errno))")
        }
    }

    private func take(_ count: Int) -> [UInt8] {
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    /// SASL `EXTERNAL` as this process's user id, then `BEGIN`.
    private func authenticate() throws(BusError) {
        let uid = Array(String(getuid()).utf8).map { String($0, radix: 16) }.joined()
        try send(bytes: [0] + Array("AUTH EXTERNAL \(uid)\r\n".utf8))
        var line: [UInt8] = []
        while Array(line.suffix(2)) != [13, 10] {
            try fill(buffer.count + 1)
            line += take(buffer.count)
            guard line.count < 512 else { throw .transport("\(path): authentication: no line end") }
        }
        guard line.starts(with: Array("OK ".utf8)) else {
            throw .transport("\(path): authentication refused (\(String(decoding: line.dropLast(2), as: UTF8.self)))")
        }
        // What came after the line (nothing, before BEGIN) stays in the buffer.
        try send(bytes: Array("BEGIN\r\n".utf8))
    }

    /// The next whole message.
    func receive() throws(BusError) -> Message {
        do {
            try fill(16)
            let total = try Message.length(prefix: Array(buffer[..<16]))
            try fill(total)
            return try Message(decoding: take(total))
        } catch let e as WireError {
            throw .transport("\(path): a malformed D-Bus message (\(e))")
        } catch let e as BusError {
            throw e
        } catch {
            throw .transport("\(path): \(error)")
        }
    }
}

import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a D-Bus call did not succeed: the bus could not be reached or spoke no D-Bus, or the
/// service answered with an error (its name and message).
public enum BusError: Error, Equatable, CustomStringConvertible {
    case transport(String)
    case remote(name: String, message: String)

    public var description: String {
        switch self {
        case .transport(let why): why
        case .remote(let name, let message): message.isEmpty ? name : "\(name): \(message)"
        }
    }
}

/// A D-Bus bus as far as the agent needs one: a method call without arguments and its reply, on
/// one connection, within a deadline. No libdbus, no libsystemd: a Unix socket, SASL `EXTERNAL`
/// authentication and the wire format of the D-Bus specification (little-endian messages out,
/// either byte order in).
public struct SystemBus {
    public static let systemSocket = "/run/dbus/system_bus_socket"
    public var socketPath: String
    public init(socketPath: String = Self.systemSocket) { self.socketPath = socketPath }

    /// Calls `member` of `interface` on the object `path` of `destination`, without arguments;
    /// returns once the reply comes. The connection says `Hello` first, as the bus requires.
    public func call(destination: String, path: String, interface: String, member: String,
                     timeout: Duration = .seconds(5)) throws(BusError) {
        let deadline = ContinuousClock.now + timeout
        var c = try Connection(socketPath, deadline: deadline)
        defer { close(c.fd) }
        try c.authenticate()
        try c.send(Message.methodCall(serial: 1, destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                      interface: "org.freedesktop.DBus", member: "Hello"))
        try c.send(Message.methodCall(serial: 2, destination: destination, path: path, interface: interface, member: member))
        while true {
            let m = try c.receive()
            guard m.replySerial == 2 else { continue }  // Hello's reply, signals (NameAcquired)
            switch m.type {
            case Message.methodReturn: return
            case Message.error: throw .remote(name: m.errorName ?? "error", message: m.errorMessage ?? "")
            default: continue
            }
        }
    }

    /// One connection's socket and deadline.
    struct Connection {
        let fd: Int32
        let deadline: ContinuousClock.Instant
        let path: String
        var buffer: [UInt8] = []

        init(_ path: String, deadline: ContinuousClock.Instant) throws(BusError) {
            self.path = path
            self.deadline = deadline
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw .transport("socket: \(Errno(rawValue: errno))") }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                close(fd)
                throw .transport("\(path): path too long for a Unix socket")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
            let fd = self.fd
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc != 0, errno != EINPROGRESS {
                let e = errno
                close(fd)
                throw .transport("connect \(path): \(Errno(rawValue: e))")
            }
            if rc != 0 {
                do { try wait(POLLOUT, "connect") } catch { close(fd); throw error }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                guard err == 0 else { close(fd); throw .transport("connect \(path): \(Errno(rawValue: err))") }
            }
        }

        /// Waits until the socket is ready for `events`, or throws at the deadline.
        func wait(_ events: Int32, _ what: String) throws(BusError) {
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

        func send(_ bytes: [UInt8]) throws(BusError) {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { sent += n; continue }
                if n < 0, errno == EAGAIN || errno == EINTR { try wait(POLLOUT, "send"); continue }
                throw .transport("send to \(path): \(Errno(rawValue: errno))")
            }
        }

        /// Reads at least `count` bytes into the buffer.
        mutating func fill(_ count: Int) throws(BusError) {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while buffer.count < count {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 { buffer += chunk[..<n]; continue }
                if n == 0 { throw .transport("\(path): the bus closed the connection") }
                if errno == EAGAIN || errno == EINTR { try wait(POLLIN, "receive"); continue }
                throw .transport("receive from \(path): \(Errno(rawValue: errno))")
            }
        }

        mutating func take(_ count: Int) -> [UInt8] {
            defer { buffer.removeFirst(count) }
            return Array(buffer[..<count])
        }

        /// SASL `EXTERNAL` as this process's user id, then `BEGIN`.
        mutating func authenticate() throws(BusError) {
            let uid = Array(String(getuid()).utf8).map { String($0, radix: 16) }.joined()
            try send([0] + Array("AUTH EXTERNAL \(uid)\r\n".utf8))
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
            try send(Array("BEGIN\r\n".utf8))
        }

        /// The next whole message.
        mutating func receive() throws(BusError) -> Message {
            try fill(16)
            let little = buffer[0] == UInt8(ascii: "l")
            guard little || buffer[0] == UInt8(ascii: "B") else { throw .transport("\(path): not a D-Bus message") }
            let body = Int(Message.u32(buffer, 4, little)), fields = Int(Message.u32(buffer, 12, little))
            let total = Message.align(16 + fields, 8) + body
            guard total <= 1 << 20 else { throw .transport("\(path): a message of \(total) bytes") }
            try fill(total)
            let bytes = take(total)
            guard let m = Message(bytes) else { throw .transport("\(path): a malformed D-Bus message") }
            return m
        }
    }

    /// A D-Bus message: what the agent sends (a method call without arguments) and reads (the
    /// type, the serial it replies to, an error's name and message).
    struct Message {
        static let methodCall: UInt8 = 1, methodReturn: UInt8 = 2, error: UInt8 = 3
        var type: UInt8
        var replySerial: UInt32?
        var errorName: String?
        var errorMessage: String?

        static func align(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }

        static func u32(_ b: [UInt8], _ at: Int, _ little: Bool) -> UInt32 {
            let v = (0..<4).map { UInt32(b[at + $0]) << (8 * UInt32($0)) }.reduce(0, |)
            return little ? v : v.byteSwapped
        }

        /// A method call without arguments, little-endian.
        static func methodCall(serial: UInt32, destination: String, path: String, interface: String, member: String) -> [UInt8] {
            var b: [UInt8] = [UInt8(ascii: "l"), methodCall, 0, 1]
            func pad(_ a: Int) { while b.count % a != 0 { b.append(0) } }
            func u32(_ v: UInt32) { pad(4); b += withUnsafeBytes(of: v.littleEndian, Array.init) }
            func string(_ s: String) { u32(UInt32(s.utf8.count)); b += s.utf8; b.append(0) }
            u32(0)        // body length
            u32(serial)
            let lengthAt = b.count
            u32(0)        // header fields' length, set below
            let start = b.count
            for (code, signature, value) in [(1, "o", path), (6, "s", destination), (2, "s", interface), (3, "s", member)] as [(UInt8, String, String)] {
                pad(8)
                b.append(code)
                b.append(1); b += signature.utf8; b.append(0)
                string(value)
            }
            let length = UInt32(b.count - start)
            b.replaceSubrange(lengthAt..<lengthAt + 4, with: withUnsafeBytes(of: length.littleEndian, Array.init))
            pad(8)        // the (empty) body starts on an 8-byte boundary
            return b
        }

        /// Parses a whole message; nil when it is not well formed.
        init?(_ b: [UInt8]) {
            guard b.count >= 16 else { return nil }
            let little = b[0] == UInt8(ascii: "l")
            type = b[1]
            let fieldsEnd = 16 + Int(Self.u32(b, 12, little))
            var i = 16
            var bodySignature = ""
            func string(_ at: inout Int) -> String? {
                at = Self.align(at, 4)
                guard at + 4 <= b.count else { return nil }
                let n = Int(Self.u32(b, at, little))
                guard at + 4 + n < b.count else { return nil }
                defer { at += 4 + n + 1 }
                return String(decoding: b[(at + 4)..<(at + 4 + n)], as: UTF8.self)
            }
            while i < fieldsEnd {
                i = Self.align(i, 8)
                guard i + 2 < b.count else { return nil }
                let code = b[i]
                let sigLength = Int(b[i + 1])
                guard i + 2 + sigLength < b.count else { return nil }
                let signature = String(decoding: b[(i + 2)..<(i + 2 + sigLength)], as: UTF8.self)
                i += 2 + sigLength + 1
                switch signature {
                case "u":
                    i = Self.align(i, 4)
                    guard i + 4 <= b.count else { return nil }
                    if code == 5 { replySerial = Self.u32(b, i, little) }
                    i += 4
                case "s", "o":
                    guard let s = string(&i) else { return nil }
                    if code == 4 { errorName = s }
                case "g":
                    guard i < b.count else { return nil }
                    let n = Int(b[i])
                    guard i + 1 + n < b.count else { return nil }
                    if code == 8 { bodySignature = String(decoding: b[(i + 1)..<(i + 1 + n)], as: UTF8.self) }
                    i += 1 + n + 1
                default:
                    return nil
                }
            }
            var body = Self.align(fieldsEnd, 8)
            if type == Self.error, bodySignature.hasPrefix("s") { errorMessage = string(&body) }
        }
    }
}

/// systemd-networkd over the system bus.
public enum Networkd {
    /// `networkctl reload`: networkd reads its `.network` files again and reconfigures the links
    /// whose file changed. Allowed to a caller with `CAP_NET_ADMIN` (the agent's one capability).
    public static func reload(_ bus: SystemBus = SystemBus()) throws(BusError) {
        try bus.call(destination: "org.freedesktop.network1", path: "/org/freedesktop/network1",
                     interface: "org.freedesktop.network1.Manager", member: "Reload")
    }
}

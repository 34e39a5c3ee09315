#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// sd_notify(3)'s protocol, without libsystemd: one datagram per message to the `AF_UNIX` socket
/// named by `$NOTIFY_SOCKET` (a leading `@` is the abstract namespace). Without the variable (not
/// started by systemd with `Type=notify`), every call does nothing.
public struct SystemdNotifier: Sendable {
    /// The socket address, as given (`/run/systemd/notify` or `@name`).
    public let socket: String?
    /// How often systemd wants `WATCHDOG=1` (`$WATCHDOG_USEC`), when the watchdog is on for us.
    public let watchdogInterval: Duration?

    public init(environment: [String: String]) {
        socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        // WATCHDOG_PID, when set, names the PID the watchdog is for.
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int.init), usec > 0,
           environment["WATCHDOG_PID"].map({ $0 == String(getpid()) }) ?? true {
            watchdogInterval = .microseconds(usec)
        } else {
            watchdogInterval = nil
        }
    }

    /// From the environment variables systemd sets.
    public static func fromEnvironment() -> SystemdNotifier {
        var env: [String: String] = [:]
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let v = getenv(key) { env[key] = String(cString: v) }
        }
        return SystemdNotifier(environment: env)
    }

    public enum Failure: Error, CustomStringConvertible {
        case socketPath(String)
        case send(String, errno: Int32)
        public var description: String {
            switch self {
            case .socketPath(let p): "NOTIFY_SOCKET \"\(p)\" is not a usable socket address"
            case .send(let p, let e): "cannot notify \(p): \(String(cString: strerror(e)))"
            }
        }
    }

    /// Sends `KEY=VALUE` lines, e.g. `["READY=1", "STATUS=3 ENIs configured"]`.
    public func notify(_ lines: [String]) throws(Failure) {
        guard let socket else { return }
        var path = Array(socket.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 } else if path.first != UInt8(ascii: "/") {
            throw .socketPath(socket)
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard path.count < capacity else { throw .socketPath(socket) }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: path) }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .send(socket, errno: errno) }
        defer { close(fd) }
        let message = Array((lines.joined(separator: "\n") + "\n").utf8)
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let sent = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                // Never block the daemon's loop: a receiver that does not read (a full queue) costs
                // this notification (EAGAIN), not the loop.
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), sa, length) }
            }
        }
        guard sent == message.count else { throw .send(socket, errno: errno) }
    }
}

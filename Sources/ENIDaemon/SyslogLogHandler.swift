import Logging
import ENIAgent
import ENIModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One line per event on standard error, prefixed with its syslog priority (`<6>` for info), as
/// sd-daemon(3) describes: journald files each line at its level and strips the prefix.
/// Metadata follows the message as sorted `key=value` pairs. One `write(2)` per line, so lines
/// from several threads never interleave.
public struct SyslogLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let fd: Int32

    public init(level: Logger.Level = .info, fd: Int32 = 2) {
        self.logLevel = level
        self.fd = fd
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The line written for an event (without the newline).
    public static func format(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) -> String {
        var line = "<\(priority(level))>" + message.replacingOccurrences("\n", with: " ")
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(v)" }
        return line
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let p = metadataProvider?.get() { all.merge(p) { a, _ in a } }
        if let m = event.metadata { all.merge(m) { _, b in b } }
        var bytes = Array((Self.format(event.level, "\(event.message)", all) + "\n").utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }
}

extension LogLevel {
    public var loggerLevel: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        }
    }
}

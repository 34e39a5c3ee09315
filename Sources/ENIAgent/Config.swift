import ENIMetadata
import ENIApply
import ENIModel
import ENIPlanner
import ENIRender

/// Where the instance description comes from.
public enum ProviderKind: String, CaseIterable, Sendable {
    /// A JSON file (`metadata_file`): offline use and tests.
    case file
    /// Probe the clouds' endpoints and use the one that answers with its cloud's shape.
    case auto
    case tencent
    case aliyun
    case aws
}

/// Every knob of the agent. Defaults, then the config file, then command-line flags.
public struct AgentConfig: Equatable, Sendable {
    public var provider: ProviderKind = .auto
    public var metadataFile: String?
    public var metadataURL: String?
    public var renderer: RendererKind = .auto
    public var nmControlled = false
    public var rpFilter: RPFilterMode = .loose
    public var tableBase: UInt32 = 10000
    public var rulePriorityBase: UInt32 = 10000
    public var routeProtocol: UInt8 = 234
    /// Serialises runs; below `root`.
    public var lockPath = "/run/eni-agent/lock"
    /// How long a run waits for another to release the lock.
    public var lockTimeoutSeconds = 30
    /// Prefix for every file read or written (not /proc/sys, which is the kernel's, per namespace).
    public var root = "/"
    public var force = false
    /// Timeouts, retries and caps of the HTTP providers.
    public var fetch = FetchDiscipline()
    /// How long a one-shot run (`reconfigure`; `diff` and `status` when asked) polls the metadata
    /// for ENIs whose links are there and that it does not list or describe yet, before it goes
    /// ahead without them. 0: one look. The daemon waits between passes instead (hot_attach_deadline).
    public var pendingTimeoutMilliseconds = 60_000
    /// The first delay between those polls; doubled per poll up to 4 s, with jitter.
    public var pendingBackoffMilliseconds = 250
    /// Links and MACs never touched, waited for or reported as pending.
    public var exclusions = Exclusions()
    /// Daemon: seconds between full passes that catch what produces no netlink event.
    public var resyncIntervalSeconds = 30
    /// Daemon: how long the metadata of a hot-attached link is polled for before it is left
    /// to the resyncs (and reported as pending).
    public var hotAttachDeadlineSeconds = 60
    /// Daemon: READY=1 at the latest this long after the start, configured or not.
    public var readyTimeoutSeconds = 30
    /// Daemon: lowest level logged.
    public var logLevel: LogLevel = .info

    public static let defaultPath = "/etc/eni-agent/eni-agent.toml"

    public init() {}

    public var plannerConfig: PlannerConfig {
        PlannerConfig(tableBase: tableBase, priorityBase: rulePriorityBase, proto: routeProtocol,
                      rpFilter: rpFilter, force: force, exclusions: exclusions)
    }

    /// The renderer in effect on the system below `files`' root, and why: `auto` resolved; a
    /// renderer whose directories cannot be written renders nothing and says why (one problem in
    /// each plan, not a failed write per pass).
    public func rendererChoice(_ files: FileStore) -> RendererChoice {
        let dir = IfcfgRenderer.directory
        var choice: RendererChoice
        switch renderer {
        case .none: return RendererChoice(kind: .none, reason: "renderer = none")
        case .ifcfg: choice = RendererChoice(kind: .ifcfg, reason: "renderer = ifcfg")
        case .networkd: choice = RendererChoice(kind: .networkd, reason: "renderer = networkd")
        case .networkmanager: choice = RendererChoice(kind: .networkmanager, reason: "renderer = networkmanager")
        case .auto:
            // NetworkManager keeps its devices' state in /run/NetworkManager/devices while it runs
            // (under systemd it writes no pid file). It comes first: where NetworkManager runs it manages the links (RHEL-family systems, Ubuntu
            // desktops; netplan's NetworkManager renderer), whatever else is installed.
            // systemd-networkd writes its state file while it runs (its directories exist whether
            // it runs or not: systemd's tmpfiles make them).
            let networkManager = NetworkManagerRenderer.runningMarker
            let networkd = NetworkdRenderer.runningMarker
            if files.isDirectory(networkManager) {
                choice = RendererChoice(kind: .networkmanager, reason: "auto: NetworkManager is running (\(networkManager) exists)")
            } else if (try? FileStore.readFile(atPath: files.hostPath(networkd), limit: 1 << 16)) != nil {
                choice = RendererChoice(kind: .networkd, reason: "auto: systemd-networkd is running (\(networkd) exists)")
            } else if files.isDirectory(dir) {
                choice = RendererChoice(kind: .ifcfg, reason: "auto: \(dir) exists (network-scripts or NetworkManager's ifcfg-rh reads it)")
            } else {
                return RendererChoice(kind: .none, reason: "auto: neither NetworkManager nor systemd-networkd is running and there is no \(dir): nothing on this system reads the files the agent can write")
            }
        }
        let r = choice.kind.renderer(nmControlled: nmControlled)
        for d in r.directories + r.files.map(FileStore.parent(of:)) {
            if let why = files.cannotWrite(d) {
                choice.problem = "renderer \(choice.kind.rawValue): \(d) cannot be written (\(why)); no file is written. "
                    + "Set renderer = \"none\" (or \"auto\"), or make it writable"
                choice.kind = .none
                break
            }
        }
        return choice
    }

    /// Applies a config file's bytes over the current values. They must be UTF-8: an invalid
    /// byte is an error naming the file, the line and the byte's offset, never replaced.
    public mutating func load(tomlBytes bytes: [UInt8], file: String) throws(ConfigError) {
        let text: String
        do { text = try UTF8Text.decode(bytes) } catch { throw ConfigError("\(file):\(error.line): \(error)") }
        try load(toml: text, file: file)
    }

    /// Applies a config file's text over the current values: each key as `ConfigKey.all` says.
    /// Unknown keys, wrong types and values out of range are errors naming the file, line, key
    /// and value.
    public mutating func load(toml text: String, file: String) throws(ConfigError) {
        let entries: [(key: String, value: TOMLValue, line: Int)]
        do { entries = try TOML.parse(text, file: file) } catch { throw ConfigError(error.description) }
        for e in entries {
            guard let key = ConfigKey.named[e.key] else { throw ConfigError("\(file):\(e.line): unknown key \(quoted(e.key))") }
            try set(key, e.value, from: .file(file, line: e.line))
        }
        try validate()
    }

    /// Checks that hold whatever the source of the values.
    public func validate() throws(ConfigError) {
        guard root.hasPrefix("/") else { throw ConfigError("root \(quoted(root)) must be an absolute path") }
        guard lockPath.hasPrefix("/") else { throw ConfigError("lock_path \(quoted(lockPath)) must be an absolute path") }
        // Below the root: a `..` would leave it.
        guard Self.isCleanAbsolutePath(lockPath) else {
            throw ConfigError("lock_path \(quoted(lockPath)) must be a clean absolute path (no \".\", \"..\" or empty components)")
        }
        if let f = metadataFile, f.isEmpty { throw ConfigError("metadata_file is empty") }
        if let u = metadataURL {
            // Plain HTTP to the endpoint: the clouds serve metadata over HTTP only.
            let rest = u.hasPrefix("http://") ? u.dropFirst(7) : ""
            guard !rest.isEmpty, !rest.hasPrefix("/"),
                  u.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw ConfigError("metadata_url \(quoted(u)) is not an http:// URL")
            }
        }
        if fetch.connectTimeoutMilliseconds > fetch.requestTimeoutMilliseconds {
            throw ConfigError("metadata_connect_timeout_ms \(fetch.connectTimeoutMilliseconds) is longer than metadata_timeout_ms \(fetch.requestTimeoutMilliseconds)")
        }
        if [253, 254, 255].contains(tableBase) {
            throw ConfigError("table_base \(tableBase) is a reserved table")
        }
    }
}

/// The renderer in effect and why (`status`, `diff --json`, `--verbose`).
public struct RendererChoice: Sendable, Equatable, CustomStringConvertible {
    /// `ifcfg` or `none`, never `auto`.
    public var kind: RendererKind
    public var reason: String
    /// Why no file can be written, when the renderer would write some: reported with each plan.
    public var problem: String?
    public var description: String { "\(kind.rawValue) (\(reason))" }
}

/// Levels of the daemon's log, each with its syslog priority.
public enum LogLevel: String, CaseIterable, Comparable, Sendable {
    case debug, info, notice, warning, error

    public var syslogPriority: Int {
        switch self {
        case .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.syslogPriority > b.syslogPriority }
}

extension AgentConfig {
    /// `/a/b`: absolute, and every component a name (not empty, `.` or `..`).
    static func isCleanAbsolutePath(_ p: String) -> Bool {
        p.hasPrefix("/") && p.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            .allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// An interface name, or a pattern of one with `*` and `?`.
    static func isPattern(_ p: String) -> Bool {
        !p.isEmpty && p.count <= 15 && p.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-*?".unicodeScalars.contains($0))
        }
    }
}

public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

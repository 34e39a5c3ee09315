import ENIModel
import ENIPlanner
import ENIRender

/// One key of the config file: its name, the values it takes, and how it sets its `AgentConfig`
/// field. `ConfigKey.all` is the one table of keys: `AgentConfig.load(toml:file:)` looks each key
/// up there, and each command-line flag that overrides a key (`--pending-timeout` for
/// `pending_timeout`) sets it through the same entry (`AgentConfig.set(_:_:from:)`), so a range
/// or a list of choices is written once and a bad value is refused alike from either.
public struct ConfigKey: Sendable {
    /// The values a key takes.
    public enum Values: Sendable, Equatable {
        case string
        case boolean
        /// An integer in the range, in the unit (nil: a number of something, a table, a priority).
        case integer(ClosedRange<Int>, unit: Unit?)
        /// One of these strings (an enum's raw values, in its order).
        case choice([String])
        /// An array of strings, each checked by the key.
        case strings
    }

    public enum Unit: String, Sendable { case seconds, milliseconds }

    /// Where a value comes from, as a message names the key and the value.
    public enum Source: Sendable, Equatable {
        /// A config file's line: `c.toml:3: table_base = 1 is out of range 256...2000000000`.
        case file(String, line: Int)
        /// The flag that overrides the key: `--pending-timeout 5000 is out of range 0...3600`.
        case flag
    }

    public let name: String
    public let values: Values
    fileprivate let apply: @Sendable (inout AgentConfig, Reading) throws(ConfigError) -> Void

    /// The flag that overrides the key, where one does: `--` and the name with `-` for `_`.
    public var flag: String { "--" + String(name.map { $0 == "_" ? "-" : $0 }) }
}

extension ConfigKey {
    public static let provider = choice("provider", \.provider)
    public static let metadataFile = string("metadata_file") { $0.metadataFile = $1 }
    public static let metadataURL = string("metadata_url") { $0.metadataURL = $1 }
    public static let metadataConnectTimeout = integer("metadata_connect_timeout_ms", 1...60_000, .milliseconds,
                                                       \.fetch.connectTimeoutMilliseconds)
    public static let metadataTimeout = integer("metadata_timeout_ms", 1...600_000, .milliseconds,
                                                \.fetch.requestTimeoutMilliseconds)
    public static let metadataAttempts = integer("metadata_attempts", 1...20, nil, \.fetch.attempts)
    public static let metadataRetryDeadline = integer("metadata_retry_deadline_ms", 1...3_600_000, .milliseconds,
                                                      \.fetch.roundTimeoutMilliseconds)
    public static let pendingTimeout = integer("pending_timeout", 0...3600, .seconds) {
        $0.pendingTimeoutMilliseconds = $1 * 1000
    }
    public static let renderer = choice("renderer", \.renderer)
    public static let nmControlled = boolean("nm_controlled") { $0.nmControlled = $1 }
    public static let rpFilter = choice("rp_filter", \.rpFilter)
    public static let tableBase = integer("table_base", 256...2_000_000_000, nil, \.tableBase)
    /// Every priority, base plus slot, stays below 32766 (the kernel's `main` rule).
    public static let rulePriorityBase = integer("rule_priority_base", 1...(32765 - Planner.maxSlot), nil, \.rulePriorityBase)
    public static let routeProtocol = integer("route_protocol", 5...254, nil, \.routeProtocol)
    public static let lockPath = string("lock_path") { $0.lockPath = $1 }
    public static let lockTimeout = integer("lock_timeout", 0...3600, .seconds, \.lockTimeoutSeconds)
    public static let excludeInterfaces = strings(
        "exclude_interfaces", isNot: "an interface name or pattern (1-15 of A-Z a-z 0-9 _ . - * ?)",
        { AgentConfig.isPattern($0) ? $0 : nil }) { $0.exclusions.interfaces = $1 }
    public static let excludeMACs = strings("exclude_macs", isNot: "a MAC address", { try? MACAddress($0) }) {
        $0.exclusions.macs = Set($1)
    }
    public static let resyncInterval = integer("resync_interval", 1...86400, .seconds, \.resyncIntervalSeconds)
    public static let hotAttachDeadline = integer("hot_attach_deadline", 0...3600, .seconds, \.hotAttachDeadlineSeconds)
    public static let readyTimeout = integer("ready_timeout", 0...600, .seconds, \.readyTimeoutSeconds)
    public static let logLevel = choice("log_level", \.logLevel)

    /// Every key, in the order of README's table (a test compares the two).
    public static let all: [ConfigKey] = [
        provider, metadataFile, metadataURL, metadataConnectTimeout, metadataTimeout, metadataAttempts,
        metadataRetryDeadline, pendingTimeout, renderer, nmControlled, rpFilter, tableBase, rulePriorityBase,
        routeProtocol, lockPath, lockTimeout, excludeInterfaces, excludeMACs, resyncInterval, hotAttachDeadline,
        readyTimeout, logLevel,
    ]

    public static let named: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}

extension AgentConfig {
    /// Sets `key` from `value`. A value of the wrong type, out of the key's range or not among its
    /// choices is an error naming its source (the file and line, and the key; or the flag) and the
    /// value. Checks across keys are `validate()`'s.
    public mutating func set(_ key: ConfigKey, _ value: TOMLValue, from source: ConfigKey.Source) throws(ConfigError) {
        try key.apply(&self, Reading(key: key, value: value, source: source))
    }
}

// MARK: - The kinds of key

extension ConfigKey {
    private static func string(_ name: String, _ set: @escaping @Sendable (inout AgentConfig, String) -> Void) -> ConfigKey {
        ConfigKey(name: name, values: .string) { (c, r) throws(ConfigError) in set(&c, try r.string()) }
    }

    private static func boolean(_ name: String, _ set: @escaping @Sendable (inout AgentConfig, Bool) -> Void) -> ConfigKey {
        ConfigKey(name: name, values: .boolean) { (c, r) throws(ConfigError) in
            guard case .boolean(let b) = r.value else { throw r.error(" must be true or false, not \(r.value.typeName)") }
            set(&c, b)
        }
    }

    private static func integer(_ name: String, _ range: ClosedRange<Int>, _ unit: Unit?,
                                _ set: @escaping @Sendable (inout AgentConfig, Int) -> Void) -> ConfigKey {
        ConfigKey(name: name, values: .integer(range, unit: unit)) { (c, r) throws(ConfigError) in
            guard case .integer(let n) = r.value else { throw r.error(" must be an integer, not \(r.value.typeName)") }
            guard range.contains(n) else {
                throw r.error("\(r.separator)\(n) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
            set(&c, n)
        }
    }

    /// A field of a narrower integer type: the range must fit in it.
    private static func integer<T: FixedWidthInteger & Sendable>(_ name: String, _ range: ClosedRange<Int>, _ unit: Unit?,
                                                      _ field: WritableKeyPath<AgentConfig, T> & Sendable) -> ConfigKey {
        precondition(T(exactly: range.lowerBound) != nil && T(exactly: range.upperBound) != nil, "\(name): \(range) does not fit \(T.self)")
        return integer(name, range, unit) { $0[keyPath: field] = T($1) }
    }

    private static func choice<T: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ field: WritableKeyPath<AgentConfig, T> & Sendable
    ) -> ConfigKey where T.RawValue == String {
        let names = T.allCases.map(\.rawValue)
        return ConfigKey(name: name, values: .choice(names)) { (c, r) throws(ConfigError) in
            let s = try r.string()
            guard let v = T(rawValue: s) else {
                throw r.error("\(r.separator)\(quoted(s)) is not one of \(names.joined(separator: ", "))")
            }
            c[keyPath: field] = v
        }
    }

    /// An array of strings, each of which `parse` takes; `isNot` says what one it refuses is not.
    private static func strings<T>(_ name: String, isNot: String, _ parse: @escaping @Sendable (String) -> T?,
                                   _ set: @escaping @Sendable (inout AgentConfig, [T]) -> Void) -> ConfigKey {
        ConfigKey(name: name, values: .strings) { (c, r) throws(ConfigError) in
            guard case .array(let items) = r.value else {
                throw r.error(" must be an array of strings, not \(r.value.typeName)")
            }
            var out: [T] = []
            for item in items {
                guard case .string(let s) = item else { throw r.error(" must be an array of strings; it holds \(item.typeName)") }
                guard let v = parse(s) else { throw r.error(": \(quoted(s)) is not \(isNot)") }
                out.append(v)
            }
            set(&c, out)
        }
    }
}

/// A value read for a key, and how messages name the two: `c.toml:3: table_base` and
/// `c.toml:3: table_base = 1` for a file's line, `--table-base` and `--table-base 1` for a flag.
private struct Reading {
    let value: TOMLValue
    /// The key where it is set.
    let subject: String
    /// Between the subject and a value.
    let separator: String

    init(key: ConfigKey, value: TOMLValue, source: ConfigKey.Source) {
        self.value = value
        switch source {
        case .file(let file, let line): (subject, separator) = ("\(file):\(line): \(key.name)", " = ")
        case .flag: (subject, separator) = (key.flag, " ")
        }
    }

    /// `rest` after the subject.
    func error(_ rest: String) -> ConfigError { ConfigError(subject + rest) }

    func string() throws(ConfigError) -> String {
        guard case .string(let s) = value else { throw error(" must be a string, not \(value.typeName)") }
        return s
    }
}

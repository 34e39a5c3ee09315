import ArgumentParser
import ENIAgent
import ENIApply
import ENIPlanner
import ENIRender

/// Options shared by every subcommand. Each overrides the config file's key of the same name.
struct SharedOptions: ParsableArguments {
    @Option(help: ArgumentHelp("TOML config file (/dev/null: none, the defaults).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Prefix for every file read or written (not /proc/sys).", valueName: "dir"))
    var root: String?

    @Option(help: ArgumentHelp("Instance description as JSON, instead of the cloud's metadata (see README).", valueName: "path"))
    var metadataFile: String?

    @Option(help: ArgumentHelp("Metadata provider: \(ProviderKind.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var provider: String?

    @Option(help: ArgumentHelp("Base URL of the metadata service (HTTP providers).", valueName: "url"))
    var metadataURL: String?

    @Option(help: ArgumentHelp("Seconds to wait for ENIs the metadata does not list or describe yet (diff: 0 unless given; reconfigure: pending_timeout, default 60).", valueName: "seconds"))
    var pendingTimeout: Int?

    @Option(help: ArgumentHelp("Files to write: \(RendererKind.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var renderer: String?

    @Option(help: ArgumentHelp("rp_filter mode: \(RPFilterMode.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "mode"))
    var rpFilter: String?

    @Flag(help: "Overwrite files at the agent's paths that lack its marker line.")
    var force = false

    @Flag(name: .shortAndLong, help: "Say more: the plan's reasons, each ENI's state.")
    var verbose = false

    /// Defaults, then the config file, then these flags.
    func resolve() throws -> AgentConfig {
        var c = AgentConfig()
        let path = config ?? AgentConfig.defaultPath
        // The default path may be absent (defaults apply); a path given with --config may not.
        // `--config /dev/null` (no config file: the defaults) is the one non-regular file allowed.
        if path != "/dev/null", config != nil || access(path, F_OK) == 0 {
            let bytes = try FileStore.readFile(atPath: path, limit: 1 << 20)
            try c.load(tomlBytes: bytes, file: path)
        }
        if let root { c.root = root }
        try c.override(.metadataFile, metadataFile)
        if metadataFile != nil { c.provider = .file }
        try c.override(.provider, provider)
        try c.override(.metadataURL, metadataURL)
        try c.override(.renderer, renderer)
        try c.override(.rpFilter, rpFilter)
        if force { c.force = true }
        try c.override(.pendingTimeout, pendingTimeout)
        try c.validate()
        return c
    }
}

extension AgentConfig {
    /// Sets `key` from the flag that overrides it, when the flag is given: the key's range or
    /// choices (`ConfigKey`), and a bad value is a usage error naming the flag and the value
    /// (`--pending-timeout 5000 is out of range 0...3600`).
    mutating func override(_ key: ConfigKey, _ value: String?) throws {
        try override(key, value.map(TOMLValue.string))
    }

    mutating func override(_ key: ConfigKey, _ value: Int?) throws {
        try override(key, value.map(TOMLValue.integer))
    }

    private mutating func override(_ key: ConfigKey, _ value: TOMLValue?) throws {
        guard let value else { return }
        do { try set(key, value, from: .flag) } catch { throw ValidationError(error.message) }
    }
}

/// Writes to standard error.
func warn(_ s: String) {
    var e = StandardError()
    print(s, to: &e)
}

struct StandardError: TextOutputStream {
    mutating func write(_ s: String) {
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

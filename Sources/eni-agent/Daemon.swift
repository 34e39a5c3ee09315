import ArgumentParser
import ENIAgent
import ENIDaemon
import Logging

/// `eni-agent daemon`: the systemd service. See `ENIDaemon.Daemon`.
struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run as a service: configure ENIs as they are attached, detached and changed.",
        discussion: """
            One full pass at start (then READY=1 to systemd), a pass whenever a link is attached, \
            renamed or detached, on SIGHUP, and every resync interval. SIGTERM and SIGINT let the \
            pass in flight finish, then stop. Logs to stderr with syslog priority prefixes.
            """
    )

    @OptionGroup var options: SharedOptions

    @Option(help: ArgumentHelp("Seconds between full passes (resync_interval, default 30).", valueName: "seconds"))
    var resyncInterval: Int?

    @Option(help: ArgumentHelp("Seconds a hot-attached ENI's metadata is polled for (hot_attach_deadline, default 60).", valueName: "seconds"))
    var hotAttachDeadline: Int?

    @Option(help: ArgumentHelp("Lowest level logged: \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")) (log_level, default info).", valueName: "level"))
    var logLevel: String?

    /// The config with this command's flags; metadata is never waited for inside a pass.
    func resolve() throws -> AgentConfig {
        var config = try options.resolve()
        try config.override(.resyncInterval, resyncInterval)
        try config.override(.hotAttachDeadline, hotAttachDeadline)
        try config.override(.logLevel, logLevel)
        if options.verbose { config.logLevel = .debug }
        // The daemon waits for metadata between passes (hot_attach_deadline), never inside one.
        config.pendingTimeoutMilliseconds = 0
        return config
    }

    func run() throws {
        let config = try resolve()
        let level = config.logLevel.loggerLevel
        let logger = Logger(label: "eni-agent") { _ in SyslogLogHandler(level: level) }
        let daemon = ENIDaemon.Daemon(agent: Agent(config: config), settings: DaemonSettings(config), logger: logger,
                                     notifier: .fromEnvironment())
        do {
            try daemon.run()
        } catch {
            logger.critical("eni-agent stopped: \(error)")
            throw ExitCode(1)
        }
    }
}

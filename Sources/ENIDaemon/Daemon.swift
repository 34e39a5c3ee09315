internal import CLinux
import ENIAgent
import ENIApply
import ENIModel
import ENINetlink
import ENIPlanner
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How the daemon paces its passes.
public struct DaemonSettings: Sendable {
    /// A full pass this long after the last one, for what produces no netlink event (a secondary
    /// IP assigned or moved, the primary IP changed).
    public var resyncInterval: Duration = .seconds(30)
    /// A hot-attached link's metadata is polled (250 ms, doubling to 4 s) for this long; after it,
    /// the link is reported pending once and left to the resyncs.
    public var hotAttachDeadline: Duration = .seconds(60)
    /// Link events are collected until none came for this long (at most `maxSettle`), so that
    /// several ENIs attached at once are configured by one pass.
    public var settle: Duration = .milliseconds(5)
    public var maxSettle: Duration = .milliseconds(100)
    /// READY=1 is sent once the first pass succeeded and every ENI present at start is configured
    /// (or known not to be an ENI), or when this much time has passed since the start, whichever
    /// is first: `network-online.target` means the ENIs present at boot are configured, and boot
    /// is never held longer.
    public var readyTimeout: Duration = .seconds(30)
    /// A new link is configured once udev has finished with it (named it), or this long after it
    /// appeared, whatever udev says.
    public var udevGrace: Duration = .seconds(10)

    public init() {}

    public init(_ config: AgentConfig) {
        resyncInterval = .seconds(config.resyncIntervalSeconds)
        hotAttachDeadline = .seconds(config.hotAttachDeadlineSeconds)
        readyTimeout = .seconds(config.readyTimeoutSeconds)
    }
}

/// `eni-agent daemon`: one full pass at start, then a pass whenever a link that may be an ENI
/// appears, is renamed, comes back up or goes away, when another program removes what the agent
/// owns, on SIGHUP, while a hot-attached ENI's metadata is awaited or a detached one is still
/// listed, and every `resyncInterval`. Every pass is the same level-triggered reconcile as
/// `reconfigure`: events only decide when. A pass where nothing changed logs nothing and writes
/// nothing.
///
/// One thread, one loop: the daemon sleeps in one `poll(2)` over the netlink socket and a
/// signalfd, until the next deadline (resync, metadata poll, retry, watchdog, settle window). A
/// pass runs on the same thread, its metadata requests in `curl_multi_poll`; what arrives
/// meanwhile waits in the sockets' queues. SIGTERM and SIGINT are read after the pass in flight:
/// the daemon never exits between two changes of an interface.
public final class Daemon {
    let agent: Agent
    let settings: DaemonSettings
    let logger: Logger
    let notifier: SystemdNotifier

    /// `agent`'s config should have `pendingTimeoutMilliseconds = 0`: the daemon waits for
    /// metadata between passes, not inside one, so that signals and other links are not held up.
    public init(agent: Agent, settings: DaemonSettings, logger: Logger, notifier: SystemdNotifier) {
        self.agent = agent; self.settings = settings; self.logger = logger; self.notifier = notifier
    }

    /// Runs until SIGTERM or SIGINT, then returns (after the pass in flight).
    public func run() throws {
        // The signals are read from a descriptor, so they are blocked first (one thread: for the
        // whole process); then the subscription, before the first dump, so that nothing between
        // the two is missed.
        let signals = try SignalDescriptor([SIGTERM, SIGINT, SIGHUP])
        let monitor = try LinkMonitor(objects: true)
        var loop = Loop(daemon: self, links: try agent.links())
        loop.run(PollInputs(monitor: monitor, signals: signals))
    }

    /// Tells systemd, logging (once per message) when it cannot.
    func notify(_ lines: [String], _ state: inout Loop.Reported) {
        do { try notifier.notify(lines) } catch {
            state.once(.warning, "\(error)", in: \.notifyFailures, logger)
        }
    }
}

// MARK: - Inputs

/// What woke the loop.
struct Input {
    /// Notification batches, each with the time it was read.
    var batches: [(events: LinkEvents, at: ContinuousClock.Instant)] = []
    var reload = false
    var stop = false

    var isEmpty: Bool { batches.isEmpty && !reload && !stop }

    mutating func merge(_ other: Input) {
        batches += other.batches
        reload = reload || other.reload
        stop = stop || other.stop
    }
}

/// Where the loop's input comes from: the kernel and the signals (`PollInputs`), or a script in
/// the unit tests.
protocol LoopInputs {
    /// What arrived, waiting first until something does or `deadline` passes (empty then).
    func wait(until deadline: ContinuousClock.Instant) -> Input
    /// What else arrives within a settle window (`deadline` is at most `maxSettle` away).
    func more(until deadline: ContinuousClock.Instant) -> Input
    /// Follows the IPv6 routers the kernel learns (`LinkMonitor.watchRouters`), or stops.
    func watchRouters(_ on: Bool) throws
}

extension LoopInputs {
    func more(until deadline: ContinuousClock.Instant) -> Input { wait(until: deadline) }
    func watchRouters(_ on: Bool) throws {}
}

/// The loop's descriptors: the netlink monitor and the signals, in one poll.
struct PollInputs: LoopInputs {
    let monitor: LinkMonitor
    let signals: SignalDescriptor

    func watchRouters(_ on: Bool) throws { try monitor.watchRouters(on) }

    /// What arrived, waiting first until something does or `deadline` passes (empty then).
    func wait(until deadline: ContinuousClock.Instant) -> Input {
        var fds = [pollfd(fd: monitor.fileDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: signals.fileDescriptor, events: Int16(POLLIN), revents: 0)]
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            // Rounded up: waking a little late costs nothing, waking early costs a second poll.
            let ms = left <= .zero ? 0 : Int32(clamping: (left + .nanoseconds(999_999)).milliseconds)
            let n = poll(&fds, 2, ms)
            if n < 0 {
                if errno == EINTR { continue }
                // Never a silent end of the events: what may have been missed is read again, as
                // after an overrun (a short pause first, so that a lasting failure cannot spin).
                _ = poll(nil, 0, 100)
                return Input(batches: [(LinkEvents(overrun: true), .now)])
            }
            var input = Input()
            if fds[0].revents != 0 {
                let batch = monitor.read()
                if batch != LinkEvents() { input.batches.append((batch, .now)) }
            }
            if fds[1].revents != 0 {
                for s in signals.read() {
                    if s == SIGHUP { input.reload = true } else { input.stop = true }
                }
            }
            if !input.isEmpty || n == 0 || ContinuousClock.now >= deadline { return input }
        }
    }
}

/// Signals read from a descriptor (signalfd(2)) instead of handlers: blocked for the process, and
/// polled with the loop's other descriptors.
final class SignalDescriptor {
    let fileDescriptor: Int32

    init(_ signals: [Int32]) throws(DaemonError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        let rc = sigprocmask(SIG_BLOCK, &set, nil)
        guard rc == 0 else { throw .call("sigprocmask", errno: errno) }
        let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else { throw .call("signalfd", errno: errno) }
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// The signals queued, without blocking.
    func read() -> [Int32] {
        var out: [Int32] = []
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while Glibc.read(fileDescriptor, &info, size) == size { out.append(Int32(bitPattern: info.ssi_signo)) }
        return out
    }
}

public enum DaemonError: Error, CustomStringConvertible {
    case call(String, errno: Int32)
    public var description: String {
        switch self {
        case .call(let what, let e): "\(what): \(String(cString: strerror(e)))"
        }
    }
}

// MARK: - The loop

struct Loop {
    let daemon: Daemon
    var logger: Logger { daemon.logger }
    var settings: DaemonSettings { daemon.settings }

    /// Links by index, as the last dump and the events since have them.
    var known: [Int32: Link]
    /// What is waited for, per ENI: metadata after an attach, a detach, a pending ENI.
    var watches: ENIWatches
    var nextResync = ContinuousClock.now
    /// After a failed pass: when to try again, and how many failed in a row.
    var retryAt: ContinuousClock.Instant?
    var failures = 0
    var nextPing: ContinuousClock.Instant?
    var reported = Reported()
    var lastStatus = ""
    /// Links the last pass brought up itself: their coming up is no reason for another pass.
    var raisedByPass = Set<String>()
    /// What the last pass removed itself: its removal notifications are no reason for another pass.
    var removedByPass = Set<String>()
    /// ENIs whose IPv6 waits for a router (their router advertisements): a router learned on
    /// one of their links is a reason for a pass.
    var awaitingRouter = Set<String>()
    /// Router solicitations sent on each of those links: how many, and when the next is due (every
    /// 4 s for the first three, then once per resync interval).
    var solicitations: [String: (sent: Int, next: ContinuousClock.Instant)] = [:]
    /// The instance the last successful pass read from the metadata: what is restored at once
    /// when another program removes what the agent owns.
    var lastInstance: Instance?
    /// Until READY=1 is sent: when it is sent whatever the state (the start deadline).
    var readyAt: ContinuousClock.Instant?
    /// A pass has succeeded since the start.
    var succeeded = false
    /// What the last pass found, for STATUS=.
    var passStatus = ""

    /// Messages already logged, so that each is logged once while it lasts, however many
    /// passes see it.
    struct Reported {
        /// What the last pass found wrong (problems, failed changes, ENIs left alone); one that is
        /// gone after a pass is logged as resolved.
        var conditions: Set<String> = []
        /// Passes that failed as a whole, since the last that succeeded.
        var passFailures: Set<String> = []
        /// Notifications systemd could not be sent.
        var notifyFailures: Set<String> = []
        /// The neighbour table could not be followed.
        var routerWatch: Set<String> = []
        /// Router solicitations that could not be sent.
        var solicitFailures: Set<String> = []

        mutating func once(_ level: Logger.Level, _ message: String, in set: WritableKeyPath<Reported, Set<String>>, _ logger: Logger) {
            if self[keyPath: set].insert(Self.key(message)).inserted { logger.log(level: level, "\(message)") }
        }

        /// What tells conditions apart: the message without the milliseconds that vary from one
        /// try to the next (curl's "Failed to connect ... after 0 ms").
        static func key(_ message: String) -> String { message.replacing(/\d+ ms\b/, with: "N ms") }
    }

    init(daemon: Daemon, links: [Link]) {
        self.daemon = daemon
        known = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        watches = ENIWatches(deadline: daemon.settings.hotAttachDeadline)
        // Cold attach: links present at start whose metadata lags are awaited like hot-attached ones.
        let now = ContinuousClock.now
        for l in links where isCandidate(l) { watches.appeared(l.mac!, name: l.name, at: now) }
        if let w = daemon.notifier.watchdogInterval { nextPing = now + w / 2 }
        readyAt = now + daemon.settings.readyTimeout
    }

    /// READY=1 once the first pass succeeded and no ENI present at start is awaited, or at the
    /// start deadline; until then STATUS= says what it waits for.
    mutating func readyIfDone() {
        guard let deadline = readyAt else { return }
        let done = succeeded && watches.attaching.isEmpty
        guard done || ContinuousClock.now >= deadline else {
            let waiting = succeeded
                ? "metadata for \(watches.attaching.map(\.name).sorted().joined(separator: ", "))"
                : "a first pass that succeeds (\(passStatus))"
            status("starting: waiting for \(waiting)")
            return
        }
        if !done {
            logger.warning("ready at the start deadline (\(settings.readyTimeout.components.seconds) s) though not every ENI present at start is configured: \(passStatus)")
        }
        readyAt = nil
        lastStatus = passStatus
        daemon.notify(["READY=1", "STATUS=\(passStatus)"], &reported)
    }

    func isCandidate(_ l: Link) -> Bool { Agent.isCandidate(l, exclusions: daemon.agent.config.exclusions) }

    mutating func run(_ inputs: some LoopInputs) {
        let c = daemon.agent.config
        let about = daemon.agent.about
        logger.notice("eni-agent \(eniAgentVersion) started: provider \(about.provider); renderer \(about.renderer); resync every \(c.resyncIntervalSeconds) s, hot-attach deadline \(c.hotAttachDeadlineSeconds) s")
        pass(["start"])
        while true {
            if readyAt != nil { readyIfDone() }
            var input = inputs.wait(until: wakeAt)
            // Let a burst of link events settle, so that it makes one pass.
            let settleStart = ContinuousClock.now
            while !input.batches.isEmpty, !input.stop {
                let more = inputs.more(until: min(ContinuousClock.now + settings.settle, settleStart + settings.maxSettle))
                if more.isEmpty { break }
                input.merge(more)
            }
            if input.stop { break }
            var why: [String] = []
            var restore: [String] = []
            for (batch, at) in input.batches {
                why += handle(batch, at: at)
                restore += handleObjects(batch.objects)
            }
            if input.reload { why.append("SIGHUP") }
            let now = ContinuousClock.now
            // Ping when due, or earlier when awake anyway (a resync, an event) and a quarter of the
            // watchdog interval has passed since the last ping: with the resync interval shorter
            // than the ping interval, pings ride on resyncs and cost no wakeup of their own.
            if let w = daemon.notifier.watchdogInterval, let p = nextPing, now >= p - w / 4 {
                daemon.notify(["WATCHDOG=1"], &reported)
                nextPing = now + w / 2
            }
            if let r = retryAt, now >= r { why.append("retry after failure") }
            if now >= nextResync { why.append("resync") }
            let due = watches.due(at: now)
            if !due.attaching.isEmpty { why.append("metadata for \(due.attaching.joined(separator: ", ")) awaited") }
            if !due.detaching.isEmpty { why.append("metadata dropping detached \(due.detaching.joined(separator: ", ")) awaited") }
            if why.isEmpty, !restore.isEmpty, let instance = lastInstance {
                // Another program removed what the agent owns: the last described state goes back
                // at once, with no metadata round trip; the metadata is read right afterwards.
                pass(restore, instance: instance)
                nextResync = min(nextResync, .now + .seconds(1))
            } else if !why.isEmpty || !restore.isEmpty {
                pass(why + restore)
            }
            followRouters(inputs)
        }
        logger.notice("eni-agent stopping")
        daemon.notify(["STOPPING=1"], &reported)
    }

    /// Neighbour notifications are followed while an ENI's IPv6 waits for its router, and router
    /// solicitations sent on its link when due.
    mutating func followRouters(_ inputs: some LoopInputs, at now: ContinuousClock.Instant = .now) {
        do {
            try inputs.watchRouters(!awaitingRouter.isEmpty)
            reported.routerWatch = []
        } catch {
            // The resync still finds the router: the ENI's IPv6 waits longer, nothing else.
            reported.once(.warning, "cannot follow IPv6 routers: \(error); the resync finds them", in: \.routerWatch, logger)
        }
        solicitations = solicitations.filter { awaitingRouter.contains($0.key) }
        let due = awaitingRouter.filter { (solicitations[$0]?.next ?? now) <= now }
        guard !due.isEmpty else { return }
        let failed = daemon.agent.solicitRouters(due, links: Array(known.values))
        for name in due {
            let sent = (solicitations[name]?.sent ?? 0) + 1
            solicitations[name] = (sent, now + (sent < RouterSolicitation.burst ? RouterSolicitation.interval : settings.resyncInterval))
        }
        if failed.isEmpty { reported.solicitFailures = [] }
        for f in failed { reported.once(.warning, f, in: \.solicitFailures, logger) }
    }

    var wakeAt: ContinuousClock.Instant {
        var t = nextResync
        if let r = readyAt { t = min(t, r) }
        if let p = watches.nextPoll { t = min(t, p) }
        if let r = retryAt { t = min(t, r) }
        if let p = nextPing { t = min(t, p) }
        if let s = solicitations.values.map(\.next).min() { t = min(t, s) }
        return t
    }

    /// Updates `known` and says which events call for a pass: a candidate link added, renamed,
    /// given another MAC or master, or removed, and one that comes back up (taken down, the kernel
    /// dropped its routes). Other flag changes do not, nor the pass's own `link up`.
    mutating func handle(_ batch: LinkEvents, at now: ContinuousClock.Instant = .now) -> [String] {
        var why: [String] = []
        if batch.overrun {
            // Notifications were dropped: read everything again; every candidate may be new.
            logger.warning("netlink notifications were dropped (receive buffer overrun); reading all links again")
            if let links = try? daemon.agent.links() {
                let before = known
                known = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
                for l in links where isCandidate(l) && before[l.index] != l && watches[l.mac!]?.phase != .attaching {
                    watches.appeared(l.mac!, name: l.name, at: now)
                }
            }
            why.append("netlink overrun")
        }
        for e in batch.events {
            let l = e.link
            switch e.kind {
            case .new:
                let old = known[l.index]
                known[l.index] = l
                guard isCandidate(l) || (old.map(isCandidate) ?? false) else { continue }
                if let old, old.name == l.name, old.mac == l.mac, old.master == l.master, old.kind == l.kind {
                    if !old.isRunning, l.isRunning, isCandidate(l), raisedByPass.remove(l.name) == nil {
                        why.append("\(l.name) came up")
                    }
                    continue
                }
                if old == nil || old?.mac != l.mac, isCandidate(l) {
                    logger.info("link \(l.name) (\(l.mac!)) appeared")
                    watches.appeared(l.mac!, name: l.name, at: now)
                    why.append("\(l.name) attached")
                } else {
                    if let mac = l.mac { watches.renamed(mac, to: l.name) }
                    why.append("\(old?.name ?? l.name) changed")
                }
            case .deleted:
                guard let old = known.removeValue(forKey: l.index), isCandidate(old) else { continue }
                logger.info("link \(old.name) (\(old.mac!)) went away")
                watches.departed(old.mac!, name: old.name, at: now)
                why.append("\(old.name) detached")
            }
        }
        return why
    }

    /// Says which address, route and rule notifications call for a restore: an address removed
    /// from a link that may be an ENI, a route or rule of the agent's (its protocol number, or in
    /// its tables the network manager's copies' protocol) removed, unless the last pass removed it
    /// itself; and a route of another program added in the agent's tables (a conflict to report).
    /// Its own additions and the network manager's copies of its routes never do.
    mutating func handleObjects(_ objects: [LinkEvents.ObjectEvent]) -> [String] {
        let c = daemon.agent.config
        let ours = c.routeProtocol
        // The network manager's copies of the rules the agent's files declare (networkd: static).
        let managerRules = daemon.agent.ruleProtocol ?? ours
        // The network manager's copies of the routes they declare (NetworkManager: static).
        let managerRoutes = daemon.agent.routeProtocol ?? ours
        let tables = (c.tableBase + 1)...(c.tableBase + UInt32(Planner.maxSlot))
        var why: [String] = []
        for o in objects {
            switch (o.kind, o.change) {
            case (.deleted, .rule(let r)) where r.proto == ours || (r.proto == managerRules && tables.contains(r.table)):
                if removedByPass.remove(Self.key(o.change)) == nil { why.append("rule \(r) removed") }
            case (.deleted, .route(let r, _)) where r.proto == ours || (r.proto == managerRoutes && tables.contains(r.table)):
                if removedByPass.remove(Self.key(o.change)) == nil { why.append("route in table \(r.table) removed") }
            case (.deleted, .address(let a, let index)):
                guard let l = known[index], isCandidate(l) else { continue }
                if removedByPass.remove(Self.key(o.change)) == nil { why.append("\(a.address)/\(a.prefixLength) removed from \(l.name)") }
            case (.new, .route(let r, _)) where r.proto != ours && r.proto != managerRoutes && tables.contains(r.table):
                why.append("a route of another program in table \(r.table)")
            case (.new, .route(let r, let index?)) where r.table == Planner.mainTable && r.destination.isDefault && r.proto != ours:
                // A second default route in the main table through an ENI (a DHCP client the image
                // runs on it): a pass, in which the network manager may be told of the agent's file.
                guard let l = known[index], isCandidate(l), l.mac != lastInstance?.primaryMAC else { continue }
                why.append("a default route in the main table through \(l.name)")
            case (.new, .router(let a, let index)):
                guard let l = known[index], awaitingRouter.contains(l.name) else { continue }
                why.append("IPv6 router \(a) announced on \(l.name)")
            default:
                continue
            }
        }
        return why
    }

    /// What identifies an address, route or rule in the kernel's notifications.
    static func key(_ c: LinkEvents.Change) -> String {
        switch c {
        case .address(let a, _): "address \(a.address)/\(a.prefixLength)"
        case .route(let r, _): "route \(r.table) \(r.destination) \(r.metric)"
        case .rule(let r): "rule \(r.family.option) \(r.priority) \(r.table) \(r.source.map { "\($0)" } ?? "all")"
        case .router(let a, let index): "router \(a) \(index)"
        }
    }

    /// One reconcile, then what it means for the awaited ENIs, the log and systemd.
    /// One reconcile; with `instance`, of that description instead of the metadata's (a restore).
    mutating func pass(_ why: [String], instance: Instance? = nil) {
        let agent = daemon.agent
        let exclusions = agent.config.exclusions
        logger.debug("pass: \(why.joined(separator: "; "))")
        let started = ContinuousClock.now
        let result: PassResult
        do {
            let now = ContinuousClock.now
            let pastGrace = watches.attaching(longerThan: settings.udevGrace, at: now)
            result = try agent.reconfigure(waitingFor: { Agent.candidateMACs($0, exclusions: exclusions) },
                                                 assumeSettled: pastGrace, instance: instance)
        } catch {
            failures += 1
            let delay = min(settings.resyncInterval, .milliseconds(1000 << min(failures - 1, 10)))
            let retry = ContinuousClock.now + delay
            retryAt = retry
            // The retry is the next pass: nothing else due (the resync, what is awaited) repeats a
            // failing pass at once.
            nextResync = max(nextResync, retry)
            watches.postpone(until: retry)
            reported.once(.error, "pass failed: \(error); retrying", in: \.passFailures, logger)
            passStatus = "pass failed: \(error)"
            status(passStatus)
            return
        }
        let now = ContinuousClock.now
        logger.debug("pass done in \(Self.milliseconds(now - started)) ms: \(result.outcomes.count) changes")
        if failures > 0 {
            logger.notice("pass succeeded after \(failures) failed")
            reported.passFailures = []
        }
        failures = 0
        succeeded = true
        retryAt = nil
        nextResync = now + settings.resyncInterval
        logChanges(result)
        raisedByPass = Set(result.outcomes.compactMap { o in
            if case .linkUp(let dev) = o.action.change, o.result == .done { return dev }
            return nil
        })
        removedByPass = Set(result.outcomes.compactMap { o in
            guard o.result == .done else { return nil }
            switch o.action.change {
            case .removeRule(let r): return Self.key(.rule(r))
            case .removeRoute(let r): return Self.key(.route(r, link: nil))
            case .removeAddress(let a): return Self.key(.address(a, link: 0))
            default: return nil
            }
        })
        if instance == nil { lastInstance = result.instance }
        awaitingRouter = Agent.awaitingRouter(result.plan)

        var current = Set<String>()
        func condition(_ level: Logger.Level, _ message: String) {
            current.insert(Reported.key(message))
            reported.once(level, message, in: \.conditions, logger)
        }
        for p in result.plan.problems { condition(.warning, "\(p)") }
        // What NetworkManager was not told follows the files that pass wrote: an event of that pass,
        // not a condition that a later pass (which writes nothing) could call resolved.
        for n in result.managerNotes { logger.info("\(n)") }
        for p in result.managerProblems { logger.warning("\(p)") }
        for o in result.failed { condition(.error, "\(o.action.interface ?? "machine-wide"): \(o.action.change.command) failed: \(o.reason)") }
        let names = Dictionary(known.values.filter(isCandidate).map { ($0.mac!, $0.name) }, uniquingKeysWith: { a, _ in a })
        let (reports, quiet) = watches.passed(result.plan.enis, names: names, at: now) { ENIWatches.pollDelay($0) }
        for r in reports {
            switch r {
            case .configured(let name, let mac, let after):
                logger.info("\(name): ENI \(mac) configured \(after.milliseconds) ms after it appeared")
            }
        }
        for s in result.plan.enis where !quiet.contains(s.mac) {
            guard case .unknown(let reason) = s.state else { continue }
            condition(.warning, (names[s.mac].map { "\($0): " } ?? "") + "ENI \(s.mac) left as it is: \(reason)")
        }
        for gone in reported.conditions.subtracting(current).sorted() { logger.info("resolved: \(gone)") }
        reported.conditions = current
        // States after the pass: what a fresh plan still wants (failures) counts as unconfigured.
        var after = result.plan
        after.actions = result.remaining
        passStatus = Self.summary(after)
        status(passStatus)
    }

    mutating func status(_ s: String) {
        guard s != lastStatus else { return }
        lastStatus = s
        daemon.notify(["STATUS=\(s)"], &reported)
    }

    /// One line per interface the pass changed; each change at debug level.
    func logChanges(_ r: PassResult) {
        guard !r.outcomes.isEmpty else { return }
        for (iface, outcomes) in Plan.groups(r.outcomes, \.action.interface) {
            for o in outcomes { logger.debug("\(o.action.change.command)\(o.result == .done ? "" : " (\(o.reason))")") }
            let done = outcomes.filter { $0.result == .done }.map(\.action.change)
            guard !done.isEmpty else { continue }
            logger.info("\(r.plan.heading(iface)): \(Change.tally(done))")
        }
    }

    /// A duration as milliseconds with two decimals: `3.07`.
    static func milliseconds(_ d: Duration) -> String {
        let hundredths = Int((d / .microseconds(10)).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    /// `3 configured, 1 pending` for systemd's STATUS=.
    static func summary(_ plan: Plan) -> String {
        var counts: [ENICondition: Int] = [:]
        for s in plan.enis { counts[plan.condition(of: s).condition, default: 0] += 1 }
        let order: [ENICondition] = [.configured, .unconfigured, .pending, .error, .excluded]
        let parts = order.compactMap { k in counts[k].map { "\($0) \(k.rawValue)" } }
        return parts.isEmpty ? "no ENIs" : "ENIs: " + parts.joined(separator: ", ")
    }
}


import ENIMetadata
import ENIModel
import ENIPlanner

/// What the daemon waits for, per ENI (by MAC): one state machine for the metadata lag after an
/// attach, the hot-attach deadline, a detach the metadata has not caught up with, and an ENI that
/// stays pending. Pure: links and pass results in, what is due and what to report out; the
/// daemon's loop does the passes and the logging, and a one-shot run (`Agent.describe`) polls the
/// metadata with it while what it waits for is pending.
///
/// ```
///            link appears / present at start            plan: managed
///   (none) ─────────────────────────────────▶ attaching ─────────────────▶ (none), "configured"
///                                               │  plan: pending, settling, within the deadline:
///                                               │  polled again (250 ms doubling to 4 s); so is
///                                               │  one managed whose IPv6 leaves are pending
///                                               ▼  past the deadline, invalid, skipped
///                                             pending ──── plan: described or gone ───▶ (none)
///            link goes while listed          (resyncs only; reported once past the deadline)
///   (any) ──────────────────────────▶ detaching ── plan: no longer listed, or deadline ──▶ (none)
///                                     polled like attaching
/// ```
public struct ENIWatches {
    public struct Watch: Equatable {
        public enum Phase: Equatable {
            /// Its link appeared (or was there at start): the metadata is polled until it
            /// describes the ENI, until the deadline.
            case attaching
            /// Present and not described (pending) past the polls: left to the resyncs; reported
            /// once the deadline has passed since `since`.
            case pending
            /// Its link went away while the metadata still lists it: polled until the metadata
            /// drops it (its rules, files and sysctl.d line wait for that), until the deadline.
            case detaching
        }
        public var name: String
        public var phase: Phase
        public var since: ContinuousClock.Instant
        public var polls = 0
        /// When it is polled next (attaching, detaching); nil: at the resyncs only (pending).
        public var next: ContinuousClock.Instant?
        /// Its "configured" was reported (its IPv4), while it is still polled for its IPv6.
        public var reported = false
    }

    /// What a pass meant for one watched ENI, for the log.
    public enum Report: Equatable {
        /// Configured this long after its link appeared.
        case configured(name: String, mac: MACAddress, after: Duration)
    }

    public let deadline: Duration
    public private(set) var watches: [MACAddress: Watch] = [:]

    public init(deadline: Duration) { self.deadline = deadline }

    public subscript(mac: MACAddress) -> Watch? { watches[mac] }

    /// The delay before poll `step` (1, 2, …): `base` ms doubled per poll up to 4 s, with jitter.
    public static func pollDelay(_ step: Int, base: Int = 250) -> Duration { backoff(base, step: step - 1, cap: 4000) }

    /// A link that may be an ENI appeared (or was there at start, or came back after an overrun).
    public mutating func appeared(_ mac: MACAddress, name: String, at now: ContinuousClock.Instant) {
        watches[mac] = Watch(name: name, phase: .attaching, since: now, next: now)
    }

    /// Its link was renamed (udev): messages use the new name.
    public mutating func renamed(_ mac: MACAddress, to name: String) { watches[mac]?.name = name }

    /// Its link went away: polled until the metadata drops it.
    public mutating func departed(_ mac: MACAddress, name: String, at now: ContinuousClock.Instant) {
        watches[mac] = Watch(name: name, phase: .detaching, since: now, next: now)
    }

    /// Whether one is watched while attaching (READY=1 waits for those present at start).
    public var attaching: [Watch] { watches.values.filter { $0.phase == .attaching } }

    /// Names of the attaching and detaching ENIs whose poll is due, sorted, per phase.
    public func due(at now: ContinuousClock.Instant) -> (attaching: [String], detaching: [String]) {
        func names(_ p: Watch.Phase) -> [String] {
            watches.values.filter { $0.phase == p && ($0.next.map { $0 <= now } ?? false) }.map(\.name).sorted()
        }
        return (names(.attaching), names(.detaching))
    }

    /// The earliest poll.
    public var nextPoll: ContinuousClock.Instant? { watches.values.compactMap(\.next).min() }

    /// Links attaching for longer than `grace`: configured whatever udev says of them.
    public func attaching(longerThan grace: Duration, at now: ContinuousClock.Instant) -> Set<String> {
        Set(attaching.filter { now - $0.since >= grace }.map(\.name))
    }

    /// A pass failed: no poll before its retry.
    public mutating func postpone(until retry: ContinuousClock.Instant) {
        for (mac, w) in watches { if let n = w.next { watches[mac]!.next = max(n, retry) } }
    }

    /// A pass succeeded with `enis` (each ENI's state in its plan): each watch moves on. Returns
    /// what to log, and whether each unknown ENI is to be reported now (pending within the
    /// deadline is not).
    public mutating func passed(_ enis: [ENIStatus], names: [MACAddress: String], at now: ContinuousClock.Instant,
                         backoff: (Int) -> Duration) -> (reports: [Report], quiet: Set<MACAddress>) {
        var reports: [Report] = []
        var quiet = Set<MACAddress>()
        let states = Dictionary(enis.map { ($0.mac, $0.state) }, uniquingKeysWith: { a, _ in a })
        for (mac, var w) in watches {
            let state = states[mac]
            let within = now - w.since < deadline
            var pending = false
            if case .unknown(let why)? = state { pending = why.isPending }
            switch (w.phase, state) {
            case (.attaching, .managed(let d)?):
                // Its IPv6 leaves may lag the others (pending): polled again soon, until the
                // deadline, as the ENI is; its IPv4 is configured meanwhile and said so (an
                // IPv6-only ENI once its IPv6 is).
                let ipv6Pending = d.eni.ipv6Unknown?.isPending == true
                if !w.reported, !(ipv6Pending && d.eni.ipv4 == nil) {
                    reports.append(.configured(name: d.name, mac: mac, after: now - w.since))
                    w.reported = true
                }
                if ipv6Pending, within {
                    w.polls += 1
                    w.next = now + backoff(w.polls)
                    watches[mac] = w
                } else {
                    watches[mac] = nil
                }
            case (.attaching, .unknown?) where within && pending, (.attaching, .settling?) where within:
                // Not described yet, or udev not finished with it: polled again soon, nothing
                // said until the deadline (udev's grace is shorter).
                w.polls += 1
                w.next = now + backoff(w.polls)
                watches[mac] = w
                quiet.insert(mac)
            case (.attaching, .unknown?) where pending, (.pending, .unknown?) where pending:
                // Still pending: left to the resyncs, reported once past the deadline.
                w.phase = .pending
                w.next = nil
                watches[mac] = w
                if within { quiet.insert(mac) }
            case (.detaching, .waiting?) where within, (.detaching, .unknown?) where within && pending:
                // Still listed, or caught while the metadata drops it (listed, its leaves already
                // 404): polled again soon, until it is gone from the listing.
                if pending { quiet.insert(mac) }
                w.polls += 1
                w.next = now + backoff(w.polls)
                watches[mac] = w
            default:
                // Described, invalid, gone, excluded, no longer in the plan: nothing to wait for.
                watches[mac] = nil
            }
        }
        // Present ENIs that turned pending without an event (the metadata dropped one before its
        // link went, or lags an attach past a resync): quiet until the deadline.
        for s in enis where watches[s.mac] == nil {
            if case .unknown(let why) = s.state, why.isPending {
                watches[s.mac] = Watch(name: names[s.mac] ?? "\(s.mac)", phase: .pending, since: now, next: nil)
                quiet.insert(s.mac)
            }
        }
        return (reports, quiet)
    }
}

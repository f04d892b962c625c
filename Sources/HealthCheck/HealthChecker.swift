import GSLB
import Logging

/// Probes every wanted target with a TCP connect and publishes verdict changes.
///
/// `setTargets` replaces the wanted set: new targets are probed from their `initialDelay` plus a
/// random stagger of up to one interval (`HealthCheckerConfiguration.jitter`), removed ones stop
/// (a probe of theirs in flight is discarded when it ends). A set cannot hold a target twice, so
/// NameServices wanting the same address, port and timing share one probe.
///
/// Probes run on prober threads of the checker's own (`HealthCheckerConfiguration.threads`, one by
/// default), apart from the DNS event loops: raw non-blocking sockets on epoll, no task per probe
/// (see `ProbeLoop`); each thread hands its outcomes over in batches. The checker — one actor —
/// owns every `TargetHealth`, so hysteresis is decided in one place (as gdnsd's monitor). Nothing is
/// probed until `run()` runs; the threads live from its start to its end.
///
/// `transitions` yields one `HealthTransition` per verdict change (including unknown → up). One
/// consumer; unbounded buffer; finished when `run()` returns.
public actor HealthChecker {
    /// A lifecycle with an explicit state (as Hummingbird's `Server`): the loop runs once.
    private enum State { case idle, running, finished }

    private struct Entry {
        var token: UInt64
        var prober: Int
        var health: TargetHealth
    }

    private let logger: Logger
    private let configuration: HealthCheckerConfiguration
    private let openSocket: @Sendable (Int32) -> Int32
    /// While `run()` runs: one per `configuration.threads`.
    private var probers: [ProbeThread] = []
    private var nextProber = 0
    private var entries: [ProbeTarget: Entry] = [:]
    private var nextToken: UInt64 = 0
    private var random: SplitMix64
    private var counters = HealthMetrics()
    /// Since the last summary log line.
    private var window = HealthMetrics()
    private var windowStart: Int64 = 0
    private var state = State.idle

    public nonisolated let transitions: AsyncStream<HealthTransition>
    private let transitionsContinuation: AsyncStream<HealthTransition>.Continuation
    private let reports: AsyncStream<[ProbeReport]>
    private let reportsContinuation: AsyncStream<[ProbeReport]>.Continuation

    public init(logger: Logger, configuration: HealthCheckerConfiguration = HealthCheckerConfiguration()) {
        self.init(logger: logger, configuration: configuration, openSocket: ProbeLoop.openSocket)
    }

    /// For tests: `openSocket` stands in for `socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)`.
    init(logger: Logger, configuration: HealthCheckerConfiguration, openSocket: @escaping @Sendable (Int32) -> Int32) {
        self.logger = logger
        self.configuration = configuration
        self.openSocket = openSocket
        random = SplitMix64(seed: configuration.seed ?? UInt64.random(in: .min ... .max))
        (transitions, transitionsContinuation) = AsyncStream.makeStream(of: HealthTransition.self,
                                                                          bufferingPolicy: .unbounded)
        let (reports, reportsContinuation) = AsyncStream.makeStream(of: [ProbeReport].self, bufferingPolicy: .unbounded)
        self.reports = reports
        self.reportsContinuation = reportsContinuation
    }

    deinit {
        // run() stops its threads when it returns, so there are none by now; stop() is idempotent.
        for prober in probers { prober.stop() }
        transitionsContinuation.finish()
        reportsContinuation.finish()
    }

    /// Probes exactly `targets` from now on (once `run()` runs): new ones start, missing ones stop.
    /// O(all targets): a caller that knows what changed uses `updateTargets(adding:removing:)`.
    public func setTargets(_ targets: Set<ProbeTarget>) {
        guard state != .finished else { return }
        var commands = Array(repeating: ProbeCommands(), count: configuration.threads)
        for (target, entry) in entries where !targets.contains(target) {
            entries[target] = nil
            commands[entry.prober].stops.append(entry.token)
        }
        for target in targets where entries[target] == nil { add(target, to: &commands) }
        if state == .running { send(commands) }
    }

    /// Starts `added` (those not probed yet) and stops `removed`: O(changed targets), whatever the
    /// number probed. A target in both is stopped, then started afresh.
    public func updateTargets(adding added: [ProbeTarget], removing removed: [ProbeTarget]) {
        guard state != .finished else { return }
        var commands = Array(repeating: ProbeCommands(), count: configuration.threads)
        for target in removed {
            guard let entry = entries.removeValue(forKey: target) else { continue }
            commands[entry.prober].stops.append(entry.token)
        }
        for target in added where entries[target] == nil { add(target, to: &commands) }
        if state == .running { send(commands) }
    }

    private func add(_ target: ProbeTarget, to commands: inout [ProbeCommands]) {
        nextToken += 1
        let prober = nextProber
        nextProber = (nextProber + 1) % configuration.threads
        entries[target] = Entry(token: nextToken, prober: prober, health: TargetHealth(timing: target.timing))
        if state == .running { commands[prober].starts.append(start(target, token: nextToken)) }
    }

    /// The current state of `target`; nil if it is not wanted.
    public func health(of target: ProbeTarget) -> TargetHealth? { entries[target]?.health }

    /// Every wanted target's state.
    public func allHealth() -> [ProbeTarget: TargetHealth] { entries.mapValues(\.health) }

    public func metrics() -> HealthMetrics {
        var m = counters
        for entry in entries.values {
            switch entry.health.verdict {
            case .up: m.targetsUp += 1
            case .down: m.targetsDown += 1
            case .unknown: m.targetsUnknown += 1
            }
        }
        return m
    }

    /// Starts the probes and applies their outcomes until the calling task is cancelled; then stops
    /// every probe and finishes `transitions`. A second call returns at once.
    public func run() async {
        guard state == .idle else {
            logger.error("HealthChecker.run() called while \(state)")
            return
        }
        state = .running
        for i in 0..<configuration.threads {
            do {
                probers.append(try ProbeThread(index: i, sink: reportsContinuation, batchDelay: configuration.batchDelay,
                                               logger: logger, openSocket: openSocket,
                                               budget: configuration.probeBudget(ofThread: i)))
            } catch {
                // Without its threads the checker probes nothing: every target stays unknown (healthy).
                logger.critical("health checker cannot start its prober threads: nothing is probed",
                                metadata: ["error": "\(error)"])
                for prober in probers { prober.stop() }
                probers = []
                break
            }
        }
        var commands = Array(repeating: ProbeCommands(), count: configuration.threads)
        for (target, entry) in entries {
            commands[entry.prober].starts.append(start(target, token: entry.token))
        }
        send(commands)
        windowStart = monotonicNanoseconds()
        for await batch in reports {
            apply(batch)
            summarizeIfDue()
        }
        state = .finished
        for prober in probers { prober.stop() }
        probers = []
        transitionsContinuation.finish()
    }

    /// For tests: returns once `run()` has started (probing begins then).
    func waitUntilRunning() async {
        while state == .idle { try? await Task.sleep(for: .milliseconds(1)) }
    }

    private func start(_ target: ProbeTarget, token: UInt64) -> ProbeCommands.Start {
        let spread = Double(target.timing.interval.nanoseconds) * configuration.jitter
        let stagger: Duration = spread >= 1 ? .nanoseconds(Int64.random(in: 0 ..< Int64(spread), using: &random)) : .zero
        return ProbeCommands.Start(target: target, token: token, firstDelay: target.timing.initialDelay + stagger)
    }

    private func send(_ commands: [ProbeCommands]) {
        for (prober, command) in zip(probers, commands) where !command.isEmpty { prober.send(.apply(command)) }
    }

    private func apply(_ batch: [ProbeReport]) {
        for report in batch {
            guard var entry = entries[report.target], entry.token == report.token else { continue }  // removed meanwhile
            counters.record(report)
            if configuration.summaryInterval != nil { window.record(report) }
            guard let outcome = report.outcome else { continue }
            let previous = entry.health.verdict
            let changed = entry.health.record(outcome, at: report.time)
            entries[report.target] = entry
            guard changed else { continue }
            let health = entry.health
            if health.verdict == .down {
                logger.warning("target down", metadata: [
                    "target": "\(report.target)", "error": "\(health.lastError?.message ?? "")",
                    "failures": "\(health.consecutiveFailures)",
                ])
            } else {
                logger.info("target \(health.verdict)", metadata: ["target": "\(report.target)", "was": "\(previous)"])
            }
            transitionsContinuation.yield(HealthTransition(target: report.target, previous: previous, health: health))
        }
    }
}

extension HealthChecker {
    /// One `health probes` log line per `summaryInterval`, over that period: probes by outcome,
    /// skips, schedule drift (mean, the bucket bound under which 99 % fell, max) and latency.
    private func summarizeIfDue() {
        guard let interval = configuration.summaryInterval else { return }
        let now = monotonicNanoseconds()
        let period = Duration.nanoseconds(now - windowStart)
        guard period >= interval else { return }
        let m = window
        window = HealthMetrics()
        windowStart = now
        let all = metrics()
        logger.info("health probes", metadata: [
            "targets": "\(entries.count)", "up": "\(all.targetsUp)", "down": "\(all.targetsDown)",
            "unknown": "\(all.targetsUnknown)", "seconds": "\(Self.decimal(period, scale: 1))",
            "probes": "\(m.probes.total)", "success": "\(m.probes.success)", "refused": "\(m.probes.refused)",
            "timeout": "\(m.probes.timeout)", "unreachable": "\(m.probes.unreachable)", "other": "\(m.probes.other)",
            "skipped": "\(m.probes.skippedOverlap)",
            "delayed": "\(m.probes.delayed)", "not_started_local": "\(m.probes.localResourceFailures)",
            "drift_mean_ms": "\(Self.decimal(m.scheduleDrift.mean, scale: 1000))",
            "drift_p99_le_ms": "\(m.scheduleDrift.quantileBound(0.99).map { Self.decimal($0, scale: 1000) } ?? "inf")",
            "drift_max_ms": "\(Self.decimal(m.scheduleDrift.max, scale: 1000))",
            "latency_mean_ms": "\(Self.decimal(m.latency.mean, scale: 1000))",
            "latency_max_ms": "\(Self.decimal(m.latency.max, scale: 1000))",
        ])
    }

    /// `d` in seconds × `scale` with three decimals: `0.213`.
    static func decimal(_ d: Duration, scale: Int64) -> String {
        let n = d.nanoseconds
        let a = (n.magnitude * UInt64(scale) + 500_000) / 1_000_000  // thousandths, rounded half up
        let sign = n < 0 && a > 0 ? "-" : ""
        let fraction = String(a % 1000)
        return "\(sign)\(a / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}

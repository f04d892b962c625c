import GSLB
import Logging
import NIOCore

/// Probes every wanted target with a TCP connect and publishes verdict changes.
///
/// `setTargets` replaces the wanted set: new targets are probed from their `initialDelay` plus a
/// random stagger of up to one interval (`HealthCheckerConfiguration.jitter`), removed ones stop
/// (a probe of theirs in flight is discarded when it ends). A set cannot hold a target twice, so
/// NameServices wanting the same address, port and timing share one probe.
///
/// Probes run on the event loops of `group` with no task per probe (see `LoopProber`); each loop
/// hands its outcomes over in batches. The checker — one actor — owns every `TargetHealth`, so
/// hysteresis is decided in one place (STYLE item 12). Nothing is probed until `run()` runs.
///
/// `transitions` yields one `HealthTransition` per verdict change (including unknown → up). One
/// consumer; unbounded buffer; finished when `run()` returns.
public actor HealthChecker {
    /// STYLE item 8: the loop runs once.
    private enum State { case idle, running, finished }

    private struct Entry {
        var token: UInt64
        var prober: Int
        var health: TargetHealth
    }

    private struct Prober {
        var loop: any EventLoop
        var box: NIOLoopBoundBox<LoopProber>
    }

    private let logger: Logger
    private let configuration: HealthCheckerConfiguration
    private let probers: [Prober]
    private var nextProber = 0
    private var entries: [ProbeTarget: Entry] = [:]
    private var nextToken: UInt64 = 0
    private var random: SplitMix64
    private var counters = HealthMetrics()
    private var state = State.idle

    public nonisolated let transitions: AsyncStream<HealthTransition>
    private let transitionsContinuation: AsyncStream<HealthTransition>.Continuation
    private let reports: AsyncStream<[ProbeReport]>
    private let reportsContinuation: AsyncStream<[ProbeReport]>.Continuation

    public init(group: any EventLoopGroup, logger: Logger,
                configuration: HealthCheckerConfiguration = HealthCheckerConfiguration()) {
        self.logger = logger
        self.configuration = configuration
        random = SplitMix64(seed: configuration.seed ?? UInt64.random(in: .min ... .max))
        (transitions, transitionsContinuation) = AsyncStream.makeStream(of: HealthTransition.self,
                                                                          bufferingPolicy: .unbounded)
        let (reports, reportsContinuation) = AsyncStream.makeStream(of: [ProbeReport].self, bufferingPolicy: .unbounded)
        self.reports = reports
        self.reportsContinuation = reportsContinuation
        var probers: [Prober] = []
        for loop in group.makeIterator() {
            let prober = LoopProber(loop: loop, sink: reportsContinuation, batchDelay: configuration.batchDelay)
            probers.append(Prober(loop: loop, box: .makeBoxSendingValue(prober, as: LoopProber.self, eventLoop: loop)))
        }
        self.probers = probers
    }

    deinit {
        // After run() the probers are stopped already, and the loops may be shut down by now
        // (scheduling on them would be an error).
        if state != .finished {
            for prober in probers {
                let box = prober.box
                prober.loop.execute { box.value.stopAll() }
            }
        }
        transitionsContinuation.finish()
        reportsContinuation.finish()
    }

    /// Probes exactly `targets` from now on (once `run()` runs): new ones start, missing ones stop.
    public func setTargets(_ targets: Set<ProbeTarget>) {
        guard state != .finished else { return }
        var commands = Array(repeating: ProbeCommands(), count: probers.count)
        for (target, entry) in entries where !targets.contains(target) {
            entries[target] = nil
            commands[entry.prober].stops.append((target, entry.token))
        }
        for target in targets where entries[target] == nil {
            nextToken += 1
            let prober = nextProber
            nextProber = (nextProber + 1) % probers.count
            entries[target] = Entry(token: nextToken, prober: prober, health: TargetHealth(timing: target.timing))
            if state == .running, let start = start(target, token: nextToken) {
                commands[prober].starts.append(start)
            }
        }
        if state == .running { send(commands) }
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
        var commands = Array(repeating: ProbeCommands(), count: probers.count)
        for (target, entry) in entries {
            if let start = start(target, token: entry.token) { commands[entry.prober].starts.append(start) }
        }
        send(commands)
        for await batch in reports {
            apply(batch)
        }
        state = .finished
        for prober in probers {
            let box = prober.box
            prober.loop.execute { box.value.stopAll() }
        }
        transitionsContinuation.finish()
    }

    /// For tests: returns once `run()` has started (probing begins then).
    func waitUntilRunning() async {
        while state == .idle { try? await Task.sleep(for: .milliseconds(1)) }
    }

    private func start(_ target: ProbeTarget, token: UInt64) -> ProbeCommands.Start? {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: target.address.description, port: Int(target.port))
        } catch {
            logger.error("cannot probe target", metadata: ["target": "\(target)", "error": "\(error)"])
            return nil
        }
        let spread = Double(target.timing.interval.nanoseconds) * configuration.jitter
        let stagger: Duration = spread >= 1 ? .nanoseconds(Int64.random(in: 0 ..< Int64(spread), using: &random)) : .zero
        return ProbeCommands.Start(target: target, token: token, address: address,
                                   firstDelay: target.timing.initialDelay + stagger)
    }

    private func send(_ commands: [ProbeCommands]) {
        for (i, command) in commands.enumerated() where !command.starts.isEmpty || !command.stops.isEmpty {
            let box = probers[i].box
            probers[i].loop.execute { box.value.apply(command) }
        }
    }

    private func apply(_ batch: [ProbeReport]) {
        for report in batch {
            guard var entry = entries[report.target], entry.token == report.token else { continue }  // removed meanwhile
            counters.scheduleDrift.record(report.drift)
            guard let outcome = report.outcome else {
                counters.probes.skippedOverlap += 1
                continue
            }
            counters.probes.count(outcome)
            if case .success(let latency) = outcome { counters.latency.record(latency) }
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

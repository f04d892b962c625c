import GSLB

/// The hysteresis core of one target: fed probe outcomes, it decides the verdict. No I/O, no
/// clock of its own (the caller passes the time), so it is table-tested.
///
/// Rules:
/// - A new target is `.unknown`, which counts as healthy (`isHealthy`), so a restart does not
///   blank the zone while the first probes run.
/// - A success resets the failure run; a failure resets the success run.
/// - `successThreshold` successes in a row → `.up` (from `.unknown` or `.down`).
/// - `failureThreshold` failures in a row → `.down` (from `.unknown` or `.up`).
/// - Anything short of a threshold keeps the verdict: an alternating target never goes down with
///   `failureThreshold` ≥ 2, and never comes back with `successThreshold` ≥ 2.
///
/// Drains are not part of it: an operator's drain is the reconciler's (`TargetDrain` in GSLB).
public struct TargetHealth: Sendable, Hashable {
    public let timing: ProbeTiming
    public private(set) var verdict: Verdict = .unknown
    /// Healthy unless down: `.unknown` counts as healthy.
    public var isHealthy: Bool { verdict != .down }
    public private(set) var consecutiveSuccesses = 0
    public private(set) var consecutiveFailures = 0
    /// When the verdict last changed (wall clock, as the status shows it); nil while `.unknown`.
    public private(set) var lastTransition: WallTime?
    /// When the last probe ended; nil before the first.
    public private(set) var lastProbe: WallTime?
    /// How long the last successful connect took; kept across later failures.
    public private(set) var lastLatency: Duration?
    /// Why the last probe failed; nil when it succeeded (or none ran yet).
    public private(set) var lastError: ProbeError?

    public init(timing: ProbeTiming) {
        self.timing = timing
    }

    /// Records one probe outcome that ended at `time`: the connect latency or the error. Returns
    /// true when the verdict changed (`lastTransition` is then `time`).
    @discardableResult
    public mutating func record(_ outcome: Result<Duration, ProbeError>, at time: WallTime) -> Bool {
        lastProbe = time
        let old = verdict
        switch outcome {
        case .success(let latency):
            consecutiveSuccesses += 1
            consecutiveFailures = 0
            lastLatency = latency
            lastError = nil
            if verdict != .up && consecutiveSuccesses >= timing.successThreshold { verdict = .up }
        case .failure(let error):
            consecutiveFailures += 1
            consecutiveSuccesses = 0
            lastError = error
            if verdict != .down && consecutiveFailures >= timing.failureThreshold { verdict = .down }
        }
        guard verdict != old else { return false }
        lastTransition = time
        return true
    }
}

/// How one target is probed: when, how long a connect may take, and how many outcomes in a row
/// change its verdict. The same fields as GSLB's `HealthCheckSpec` (in `Duration`s), without
/// importing GSLB: the caller converts.
public struct ProbeTiming: Sendable, Hashable, CustomStringConvertible {
    /// From the start of one probe to the start of the next.
    public var interval: Duration
    /// How long a connect may take before it counts as failed (`timed out after 3s`).
    public var timeout: Duration
    /// Wait before the first probe (a random stagger of up to one interval comes on top).
    public var initialDelay: Duration
    /// Consecutive failures that mark a target down. At least 1.
    public var failureThreshold: Int
    /// Consecutive successes that mark a target up. At least 1.
    public var successThreshold: Int

    /// Thresholds below 1 are taken as 1; an interval below 1 ms as 1 ms.
    public init(interval: Duration = .seconds(4), timeout: Duration = .seconds(3), initialDelay: Duration = .zero,
                failureThreshold: Int = 3, successThreshold: Int = 1) {
        self.interval = max(interval, .milliseconds(1))
        self.timeout = max(timeout, .milliseconds(1))
        self.initialDelay = max(initialDelay, .zero)
        self.failureThreshold = max(1, failureThreshold)
        self.successThreshold = max(1, successThreshold)
    }

    public var description: String {
        "every \(interval.words), timeout \(timeout.words), down after \(failureThreshold), up after \(successThreshold)"
    }
}

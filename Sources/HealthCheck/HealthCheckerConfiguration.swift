/// How a `HealthChecker` spreads and batches its probes.
public struct HealthCheckerConfiguration: Sendable, Hashable {
    /// The first probe of a target comes after its `initialDelay` plus a random stagger of up to
    /// `jitter × interval` (0…1), so that targets added together are not probed together; later
    /// probes keep that phase. 0 probes all at once.
    public var jitter: Double = 1
    /// Seed of the stagger; nil: a random seed.
    public var seed: UInt64?
    /// How long an event loop gathers outcomes before handing them to the checker in one batch.
    /// Adds at most this much to detection; bounds the hops to the actor at 1/`batchDelay` per loop.
    public var batchDelay: Duration = .milliseconds(10)

    public init(jitter: Double = 1, seed: UInt64? = nil, batchDelay: Duration = .milliseconds(10)) {
        self.jitter = min(max(jitter, 0), 1)
        self.seed = seed
        self.batchDelay = max(batchDelay, .zero)
    }
}

/// How a `HealthChecker` spreads, runs and batches its probes.
public struct HealthCheckerConfiguration: Sendable, Hashable {
    /// The first probe of a target comes after its `initialDelay` plus a random stagger of up to
    /// `jitter × interval` (0…1), so that targets added together are not probed together; later
    /// probes keep that phase. 0 probes all at once.
    public var jitter: Double = 1
    /// Seed of the stagger; nil: a random seed.
    public var seed: UInt64?
    /// How long a prober thread gathers outcomes before handing them to the checker in one batch.
    /// Adds at most this much to detection; bounds the hops to the actor at 1/`batchDelay` per thread.
    public var batchDelay: Duration = .milliseconds(10)
    /// Prober threads (each its own epoll loop), apart from the DNS event loops; targets are spread
    /// over them round-robin. At least 1. One thread probes 10,000 targets a second on loopback.
    public var threads: Int = 1
    /// How often `run()` logs a summary (probes, outcomes, schedule drift and latency over the
    /// period) while there are targets; nil: never.
    public var summaryInterval: Duration? = .seconds(60)

    public init(jitter: Double = 1, seed: UInt64? = nil, batchDelay: Duration = .milliseconds(10), threads: Int = 1,
                summaryInterval: Duration? = .seconds(60)) {
        self.jitter = min(max(jitter, 0), 1)
        self.seed = seed
        self.batchDelay = max(batchDelay, .zero)
        self.threads = max(threads, 1)
        self.summaryInterval = summaryInterval.flatMap { $0 > .zero ? $0 : nil }
    }
}

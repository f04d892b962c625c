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
    /// Probe sockets open at once, over all prober threads (each gets an equal share, at least 1):
    /// the prober's file-descriptor budget (`healthCheck.maxConcurrentProbes`, clamped by
    /// `FileDescriptorBudget`). A probe time that finds its thread's share in use waits for a
    /// socket to close (it starts late and its drift says so, `HealthMetrics.probes.delayed`); it
    /// never fails for it.
    public var maxConcurrentProbes: Int = 1024

    public init(jitter: Double = 1, seed: UInt64? = nil, batchDelay: Duration = .milliseconds(10), threads: Int = 1,
                summaryInterval: Duration? = .seconds(60), maxConcurrentProbes: Int = 1024) {
        self.jitter = min(max(jitter, 0), 1)
        self.seed = seed
        self.batchDelay = max(batchDelay, .zero)
        self.threads = max(threads, 1)
        self.summaryInterval = summaryInterval.flatMap { $0 > .zero ? $0 : nil }
        self.maxConcurrentProbes = max(maxConcurrentProbes, 1)
    }

    /// Thread `index`'s share of `maxConcurrentProbes` (the remainder goes to the first threads;
    /// at least 1 each).
    func probeBudget(ofThread index: Int) -> Int {
        let share = maxConcurrentProbes / threads, rest = maxConcurrentProbes % threads
        return max(1, share + (index < rest ? 1 : 0))
    }
}

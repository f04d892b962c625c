/// Counters of one `HealthChecker` since it started, for the metrics endpoint.
public struct HealthMetrics: Sendable, Hashable {
    /// Probes by result.
    public struct ProbeCounts: Sendable, Hashable {
        public var success = 0
        public var refused = 0
        public var timeout = 0
        public var unreachable = 0
        public var other = 0
        /// Probe times that came while the previous probe of the target was still in flight
        /// (timeout ≥ interval, or a stalled loop): no probe was started.
        public var skippedOverlap = 0
        /// Probes that could not start because this server lacked a resource (`socket()` or
        /// `connect()` failing with EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL, EAGAIN): not a
        /// verdict about the target, which keeps its verdict; not in `total`.
        public var localResourceFailures = 0
        /// Probes that waited for a socket under the prober's budget (`maxConcurrentProbes`) and
        /// started late; their outcome counts as any other.
        public var delayed = 0

        public init() {}

        public var total: Int { success + refused + timeout + unreachable + other }

        mutating func count(_ outcome: Result<Duration, ProbeError>) {
            switch outcome {
            case .success: success += 1
            case .failure(let e) where e.code == .refused: refused += 1
            case .failure(let e) where e.code == .timeout: timeout += 1
            case .failure(let e) where e.code == .unreachable: unreachable += 1
            case .failure: other += 1
            }
        }
    }

    public var probes = ProbeCounts()
    /// Connect latency of successful probes.
    public var latency = Histogram()
    /// How late each probe time fired on its prober thread (actual − scheduled start).
    public var scheduleDrift = Histogram()
    /// The most probe sockets one prober thread has had open at once (each thread stays within
    /// its share of `maxConcurrentProbes`).
    public var probeSocketsHighWater = 0
    /// Targets wanted now, by verdict.
    public var targetsUp = 0
    public var targetsDown = 0
    public var targetsUnknown = 0

    public init() {}

    /// Counts one report: its drift, its outcome (or skip) and a success's latency.
    mutating func record(_ report: ProbeReport) {
        scheduleDrift.record(report.drift)
        if report.delayed { probes.delayed += 1 }
        probeSocketsHighWater = max(probeSocketsHighWater, Int(report.socketsHighWater))
        guard let outcome = report.outcome else {
            if report.localErrno != 0 {
                probes.localResourceFailures += 1
            } else {
                probes.skippedOverlap += 1
            }
            return
        }
        probes.count(outcome)
        if case .success(let latency) = outcome { self.latency.record(latency) }
    }
}

/// A fixed-bucket histogram of durations, Prometheus-style bounds (`le`), counts per bucket
/// (not cumulative); the last count is above the last bound (`+Inf`).
public struct Histogram: Sendable, Hashable {
    /// 0.5 ms … 10 s.
    public static let defaultBounds: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    public let bounds: [Duration]
    /// `bounds.count + 1` counts: `counts[i]` values ≤ `bounds[i]` and > `bounds[i-1]`.
    public private(set) var counts: [Int]
    public private(set) var count = 0
    public private(set) var sum: Duration = .zero
    public private(set) var max: Duration = .zero

    public init(bounds: [Duration] = Histogram.defaultBounds) {
        self.bounds = bounds.sorted()
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// `sum / count`; zero when empty.
    public var mean: Duration { count == 0 ? .zero : sum / count }

    /// The smallest bound at or under which at least `fraction` of the values fell; nil if that
    /// is only the `+Inf` bucket (or there are no values).
    public func quantileBound(_ fraction: Double) -> Duration? {
        guard count > 0 else { return nil }
        var seen = 0
        for (i, bound) in bounds.enumerated() {
            seen += counts[i]
            if Double(seen) >= fraction * Double(count) { return bound }
        }
        return nil
    }

    public mutating func record(_ value: Duration) {
        var i = 0
        while i < bounds.count && value > bounds[i] { i += 1 }
        counts[i] += 1
        count += 1
        sum += value
        if value > max { max = value }
    }
}

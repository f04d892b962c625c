import DNSServer
import HealthCheck
import Prometheus
import Reconciler

/// Where the exporter reads the server's state at scrape time: closures, so a test can feed it
/// fixed values without sockets (`MetricsSources.server(…)` wires the real parts).
public struct MetricsSources: Sendable {
    /// Every event loop's responder counters, summed (`DNSServerService.stats()`).
    public var dnsStats: @Sendable () async -> ResponderStats
    public var tcpConnections: @Sendable () -> Int
    public var health: @Sendable () async -> HealthMetrics
    public var queueDepth: @Sendable () async -> Int
    public var planGeneration: @Sendable () -> UInt64
    /// Global names in the served plan.
    public var planNames: @Sendable () -> Int

    public init(dnsStats: @escaping @Sendable () async -> ResponderStats, tcpConnections: @escaping @Sendable () -> Int,
                health: @escaping @Sendable () async -> HealthMetrics, queueDepth: @escaping @Sendable () async -> Int,
                planGeneration: @escaping @Sendable () -> UInt64, planNames: @escaping @Sendable () -> Int) {
        self.dnsStats = dnsStats
        self.tcpConnections = tcpConnections
        self.health = health
        self.queueDepth = queueDepth
        self.planGeneration = planGeneration
        self.planNames = planNames
    }

    public static func server(dns: DNSServerService, checker: HealthChecker, reconciler: Reconciler,
                              holder: ServingStateHolder) -> MetricsSources {
        MetricsSources(dnsStats: { await dns.stats() }, tcpConnections: { dns.currentTCPConnections },
                       health: { await checker.metrics() }, queueDepth: { await reconciler.queueDepth },
                       planGeneration: { holder.generation }, planNames: { holder.load().globals.count })
    }
}

/// The Prometheus text served at `/metrics`.
///
/// The hot counters are not metrics objects: each event loop's responder and the health checker
/// keep plain integers, and a scrape reads their totals and moves the registry's counters up to
/// them (adding the difference since the last scrape, so the families stay of type `counter`).
/// Totals only ever grow; a total read lower than one seen before (a loop that could not be
/// asked) is ignored until it catches up. Control-plane events — plan compiles, store calls —
/// are recorded into the registry's histograms when they happen (they are rare). Histograms
/// whose buckets were counted elsewhere (reply sizes, probe latency) are written by
/// `PrometheusText` after the registry's families. Every name is listed in
/// docs/operations.md, "Metrics".
public actor MetricsExporter {
    public nonisolated let registry: PrometheusCollectorRegistry
    private let sources: MetricsSources
    private nonisolated let compileDuration: DurationHistogram

    /// The highest totals seen, which the registry's counters equal after each scrape.
    private var dns = ResponderStats()
    private var health = HealthMetrics()
    private var queryCounters: [Int: Counter] = [:]

    static var queries: MetricNameDescriptor {
        .globaldns("dns_queries", unit: "total",
                   help: "DNS queries by protocol, query type and rcode (rcode=\"dropped\": no reply was sent).")
    }
    static var answers: MetricNameDescriptor {
        .globaldns("dns_answers", unit: "total",
                   help: "DNS queries answered from zone data (policy=\"static\") or by a global name's policy, NODATA and NXDOMAIN included.")
    }
    static var truncated: MetricNameDescriptor {
        .globaldns("dns_truncated", unit: "total", help: "DNS replies sent with TC=1 because the answer did not fit.")
    }
    static var explainRefused: MetricNameDescriptor {
        .globaldns("dns_explain_refused", unit: "total",
                   help: "Explain queries (CH TXT for a global name) refused to clients outside explain.allow.")
    }
    static var tcpConnections: MetricNameDescriptor {
        .globaldns("dns_tcp_connections", unit: "", help: "Open DNS TCP connections.")
    }
    static var planGeneration: MetricNameDescriptor {
        .globaldns("plan_generation", unit: "",
                   help: "Generation of the serving snapshot (zones and global names) being answered from.")
    }
    static var planNames: MetricNameDescriptor {
        .globaldns("plan_names", unit: "", help: "Global names (NameServices placed in a zone) in the served plan.")
    }
    static var compile: MetricNameDescriptor {
        .globaldns("plan_compile_duration", unit: "seconds",
                   help: "Time from the start of a reconcile to the swap of the plan it compiled.")
    }
    static var queueDepth: MetricNameDescriptor {
        .globaldns("reconcile_queue_depth", unit: "", help: "NameServices whose change waits for the next compile.")
    }
    static var probeResults: MetricNameDescriptor {
        .globaldns("probes", unit: "total", help: "Health-check probes (TCP connects) by result.")
    }
    static var probeOverlaps: MetricNameDescriptor {
        .globaldns("probe_overlaps_skipped", unit: "total",
                   help: "Probe times skipped because the previous probe of the target was still running.")
    }
    static var probeLocalFailures: MetricNameDescriptor {
        .globaldns("probes_not_started", unit: "total",
                   help: "Health-check probes not started for this server's own lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM, no local port): no verdict, the target keeps its own.")
    }
    static var probesDelayed: MetricNameDescriptor {
        .globaldns("probes_delayed", unit: "total",
                   help: "Health-check probes that waited for a socket under healthCheck.maxConcurrentProbes and started late.")
    }
    static var targets: MetricNameDescriptor {
        .globaldns("targets", unit: "",
                   help: "Probed target addresses by verdict (unknown: no verdict yet, counted healthy).")
    }
    static var buildInfo: MetricNameDescriptor {
        .globaldns("build_info", unit: "", help: "Always 1; the labels say which build is running.")
    }

    static let compileBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public init(registry: PrometheusCollectorRegistry, sources: MetricsSources) {
        self.registry = registry
        self.sources = sources
        compileDuration = registry.makeDurationHistogram(descriptor: Self.compile, buckets: Self.compileBuckets)
        registry.makeGauge(descriptor: Self.buildInfo,
                           labels: [("version", BuildInfo.version), ("swift", BuildInfo.swiftVersion)]).set(to: 1)
        // Series that exist from the start, so rate() has a zero to begin from.
        for p in ResponderStats.policies { _ = registry.makeCounter(descriptor: Self.answers, labels: [("policy", p)]) }
        for t in ResponderStats.transports { _ = registry.makeCounter(descriptor: Self.truncated, labels: [("protocol", t)]) }
        for r in Self.probeResultLabels { _ = registry.makeCounter(descriptor: Self.probeResults, labels: [("result", r)]) }
        _ = registry.makeCounter(descriptor: Self.probeOverlaps)
        _ = registry.makeCounter(descriptor: Self.probeLocalFailures)
        _ = registry.makeCounter(descriptor: Self.probesDelayed)
        _ = registry.makeCounter(descriptor: Self.explainRefused)
    }

    /// For `Reconciler.observePublications`: times one compile.
    public nonisolated func recordPublication(_ p: PlanPublication) {
        compileDuration.record(p.compileDuration)
    }

    /// Reads every source and returns the whole exposition text.
    public func scrape() async -> String {
        let dnsNow = await sources.dnsStats()
        let healthNow = await sources.health()
        let queue = await sources.queueDepth()
        // No await from here on: this scrape's totals are applied as a whole.
        advanceDNS(to: dnsNow)
        advanceHealth(to: healthNow)
        registry.makeGauge(descriptor: Self.queueDepth).set(Int64(queue))
        registry.makeGauge(descriptor: Self.planGeneration).set(Int64(truncatingIfNeeded: sources.planGeneration()))
        registry.makeGauge(descriptor: Self.planNames).set(Int64(sources.planNames()))
        registry.makeGauge(descriptor: Self.tcpConnections).set(Int64(sources.tcpConnections()))
        for (state, n) in [("up", health.targetsUp), ("down", health.targetsDown), ("unknown", health.targetsUnknown)] {
            registry.makeGauge(descriptor: Self.targets, labels: [("state", state)]).set(Int64(n))
        }

        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        var text = String(decoding: bytes, as: UTF8.self)
        appendHistograms(to: &text)
        return text
    }

    static let probeResultLabels = ["success", "refused", "timeout", "unreachable", "other"]

    private static func values(_ p: HealthMetrics.ProbeCounts) -> [Int] {
        [p.success, p.refused, p.timeout, p.unreachable, p.other]
    }

    /// Moves `counter` from the total `old` up to `new`; returns the total now counted.
    private func advance(_ counter: Counter, from old: UInt64, to new: UInt64) -> UInt64 {
        guard new > old else { return old }
        counter.increment(by: Int64(truncatingIfNeeded: new - old))
        return new
    }

    private func advanceDNS(to now: ResponderStats) {
        let perTransport = ResponderStats.qtypes.count * ResponderStats.rcodes.count
        for i in now.queries.indices where now.queries[i] > dns.queries[i] {
            let counter = queryCounters[i] ?? {
                let labels = [("protocol", ResponderStats.transports[i / perTransport]),
                              ("qtype", ResponderStats.qtypes[i % perTransport / ResponderStats.rcodes.count]),
                              ("rcode", ResponderStats.rcodes[i % ResponderStats.rcodes.count])]
                let c = registry.makeCounter(descriptor: Self.queries, labels: labels)
                queryCounters[i] = c
                return c
            }()
            dns.queries[i] = advance(counter, from: dns.queries[i], to: now.queries[i])
        }
        for (i, p) in ResponderStats.policies.enumerated() {
            dns.answers[i] = advance(registry.makeCounter(descriptor: Self.answers, labels: [("policy", p)]),
                                     from: dns.answers[i], to: now.answers[i])
        }
        for (i, t) in ResponderStats.transports.enumerated() {
            dns.truncated[i] = advance(registry.makeCounter(descriptor: Self.truncated, labels: [("protocol", t)]),
                                       from: dns.truncated[i], to: now.truncated[i])
        }
        dns.explainRefused = advance(registry.makeCounter(descriptor: Self.explainRefused),
                                     from: dns.explainRefused, to: now.explainRefused)
        // The histogram is written from these totals: keep each at the highest seen, and the sum
        // with the buckets it belongs to.
        for t in ResponderStats.transports.indices {
            let counts = Array(now.responseSizes(transport: t)), seen = Array(dns.responseSizes(transport: t))
            guard zip(counts, seen).allSatisfy({ $0 >= $1 }) else { continue }
            dns.responseSizeCounts.replaceSubrange(t * counts.count ..< (t + 1) * counts.count, with: counts)
            dns.responseBytes[t] = now.responseBytes[t]
        }
    }

    /// The health checker is one actor whose counters only grow, so its totals are taken as they
    /// are (the counters still only move up).
    private func advanceHealth(to now: HealthMetrics) {
        let old = Self.values(health.probes), new = Self.values(now.probes)
        for (i, r) in Self.probeResultLabels.enumerated() {
            _ = advance(registry.makeCounter(descriptor: Self.probeResults, labels: [("result", r)]),
                        from: UInt64(old[i]), to: UInt64(new[i]))
        }
        _ = advance(registry.makeCounter(descriptor: Self.probeOverlaps), from: UInt64(health.probes.skippedOverlap),
                    to: UInt64(now.probes.skippedOverlap))
        _ = advance(registry.makeCounter(descriptor: Self.probeLocalFailures),
                    from: UInt64(health.probes.localResourceFailures), to: UInt64(now.probes.localResourceFailures))
        _ = advance(registry.makeCounter(descriptor: Self.probesDelayed), from: UInt64(health.probes.delayed),
                    to: UInt64(now.probes.delayed))
        health = now
    }

    private func appendHistograms(to text: inout String) {
        PrometheusText.histogram(
            name: "globaldns_dns_response_size_bytes", help: "Size of DNS replies sent, by protocol.",
            bounds: ResponderStats.responseSizeBounds.map(String.init),
            series: ResponderStats.transports.enumerated().map { t, name in
                .init(labels: [("protocol", name)], counts: Array(dns.responseSizes(transport: t)),
                      sum: String(dns.responseBytes[t]))
            },
            into: &text)
        for (name, help, h) in [
            ("globaldns_probe_duration_seconds", "Connect time of successful health-check probes.", health.latency),
            ("globaldns_probe_schedule_drift_seconds", "How late each probe started against its schedule.", health.scheduleDrift),
        ] {
            PrometheusText.histogram(
                name: name, help: help, bounds: h.bounds.map(PrometheusText.seconds),
                series: [.init(labels: [], counts: h.counts.map { UInt64($0) }, sum: PrometheusText.seconds(h.sum))],
                into: &text)
        }
    }
}

extension MetricNameDescriptor {
    /// `globaldns_<name>[_<unit>]` with its help text.
    static func globaldns(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "globaldns", metricName: name, unitName: unit, helpText: help)
    }
}

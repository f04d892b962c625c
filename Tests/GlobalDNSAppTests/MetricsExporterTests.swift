import DNSServer
import Foundation
import GSLB
import HealthCheck
import NameServiceStore
import NameServiceStoreTesting
import Prometheus
import Reconciler
import Testing
@testable import GlobalDNSApp

/// The exporter against fixed sources (no sockets): what a scrape shows, how counters follow the
/// responders' totals, and that every exported family is documented.
@Suite struct MetricsExporterTests {
    /// What the fake sources return; tests change it between scrapes.
    final class World: @unchecked Sendable {
        private let lock = NSLock()
        private var _dns = ResponderStats()
        private var _health = HealthMetrics()
        var dns: ResponderStats {
            get { lock.withLock { _dns } }
            set { lock.withLock { _dns = newValue } }
        }
        var health: HealthMetrics {
            get { lock.withLock { _health } }
            set { lock.withLock { _health = newValue } }
        }

        var sources: MetricsSources {
            MetricsSources(dnsStats: { self.dns }, tcpConnections: { 3 }, health: { self.health }, queueDepth: { 2 },
                           planGeneration: { 41 }, planNames: { 7 })
        }
    }

    /// A scrape as `series → value` (the series as written: name and label set) and `family → type`.
    struct Scrape {
        var samples: [String: Double] = [:]
        var types: [String: String] = [:]
        var text: String

        init(_ text: String) {
            self.text = text
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# TYPE ") {
                    let parts = line.split(separator: " ")
                    types[String(parts[2])] = String(parts[3])
                } else if !line.hasPrefix("#"), let space = line.lastIndex(of: " ") {
                    samples[String(line[..<space])] = Double(line[line.index(after: space)...])
                }
            }
        }

        subscript(_ series: String) -> Double? { samples[series] }
    }

    static func index(_ t: String, _ q: String, _ r: String) -> Int {
        let ti = ResponderStats.transports.firstIndex(of: t)!, qi = ResponderStats.qtypes.firstIndex(of: q)!
        let ri = ResponderStats.rcodes.firstIndex(of: r)!
        return (ti * ResponderStats.qtypes.count + qi) * ResponderStats.rcodes.count + ri
    }

    static func query(_ t: String, _ q: String, _ r: String) -> String {
        "globaldns_dns_queries_total{protocol=\"\(t)\",qtype=\"\(q)\",rcode=\"\(r)\"}"
    }

    @Test func countersFollowTheRespondersTotalsAndNeverGoBack() async throws {
        let world = World()
        let exporter = MetricsExporter(registry: PrometheusCollectorRegistry(), sources: world.sources)
        var s = ResponderStats()
        s.queries[Self.index("udp", "A", "NOERROR")] = 5
        s.queries[Self.index("tcp", "AAAA", "NXDOMAIN")] = 2
        s.queries[Self.index("udp", "other", "dropped")] = 1
        s.answers = [6, 1, 0, 0]
        s.truncated = [1, 0]
        world.dns = s
        var m = Scrape(await exporter.scrape())
        #expect(m.types["globaldns_dns_queries_total"] == "counter")
        #expect(m[Self.query("udp", "A", "NOERROR")] == 5)
        #expect(m[Self.query("tcp", "AAAA", "NXDOMAIN")] == 2)
        #expect(m[Self.query("udp", "other", "dropped")] == 1)
        #expect(m[Self.query("udp", "MX", "NOERROR")] == nil, "series appear once they count something")
        #expect(m["globaldns_dns_answers_total{policy=\"static\"}"] == 6)
        #expect(m["globaldns_dns_answers_total{policy=\"Locality\"}"] == 0)
        #expect(m["globaldns_dns_truncated_total{protocol=\"udp\"}"] == 1)

        // A loop that could not be asked makes a total look lower: nothing goes back, and nothing
        // is counted twice when it answers again.
        s.queries[Self.index("udp", "A", "NOERROR")] = 3
        world.dns = s
        m = Scrape(await exporter.scrape())
        #expect(m[Self.query("udp", "A", "NOERROR")] == 5)
        s.queries[Self.index("udp", "A", "NOERROR")] = 9
        world.dns = s
        m = Scrape(await exporter.scrape())
        #expect(m[Self.query("udp", "A", "NOERROR")] == 9)
    }

    @Test func replySizesAreACumulativeHistogram() async throws {
        let world = World()
        let exporter = MetricsExporter(registry: PrometheusCollectorRegistry(), sources: world.sources)
        var s = ResponderStats()
        let n = ResponderStats.responseSizeBounds.count + 1
        s.responseSizeCounts[ResponderStats.sizeBucket(60)] = 2                // udp ≤ 64
        s.responseSizeCounts[ResponderStats.sizeBucket(700)] = 1               // udp ≤ 1024
        s.responseSizeCounts[n + ResponderStats.sizeBucket(3000)] = 4          // tcp ≤ 4096
        s.responseBytes = [60 + 60 + 700, 4 * 3000]
        world.dns = s
        let m = Scrape(await exporter.scrape())
        let name = "globaldns_dns_response_size_bytes"
        #expect(m.types[name] == "histogram")
        #expect(m["\(name)_bucket{protocol=\"udp\",le=\"64\"}"] == 2)
        #expect(m["\(name)_bucket{protocol=\"udp\",le=\"512\"}"] == 2)
        #expect(m["\(name)_bucket{protocol=\"udp\",le=\"1024\"}"] == 3)
        #expect(m["\(name)_bucket{protocol=\"udp\",le=\"+Inf\"}"] == 3)
        #expect(m["\(name)_count{protocol=\"udp\"}"] == 3)
        #expect(m["\(name)_sum{protocol=\"udp\"}"] == 820)
        #expect(m["\(name)_bucket{protocol=\"tcp\",le=\"2048\"}"] == 0)
        #expect(m["\(name)_bucket{protocol=\"tcp\",le=\"4096\"}"] == 4)
        #expect(m["\(name)_count{protocol=\"tcp\"}"] == 4)
    }

    @Test func controlPlaneHealthAndBuildInfo() async throws {
        let world = World()
        var h = HealthMetrics()
        h.probes.success = 10
        h.probes.refused = 2
        h.probes.skippedOverlap = 1
        h.latency.record(.microseconds(300))
        h.latency.record(.milliseconds(3))
        h.scheduleDrift.record(.milliseconds(1))
        h.targetsUp = 4
        h.targetsDown = 1
        world.health = h
        let exporter = MetricsExporter(registry: PrometheusCollectorRegistry(), sources: world.sources)
        exporter.recordPublication(PlanPublication(generation: 41, names: 7, changed: 1, compileDuration: .milliseconds(2)))
        var m = Scrape(await exporter.scrape())
        #expect(m["globaldns_build_info{version=\"\(BuildInfo.version)\",swift=\"\(BuildInfo.swiftVersion)\"}"] == 1)
        #expect(m["globaldns_plan_generation"] == 41)
        #expect(m["globaldns_plan_names"] == 7)
        #expect(m["globaldns_reconcile_queue_depth"] == 2)
        #expect(m["globaldns_dns_tcp_connections"] == 3)
        #expect(m.types["globaldns_plan_compile_duration_seconds"] == "histogram")
        #expect(m["globaldns_plan_compile_duration_seconds_count"] == 1)
        #expect(m["globaldns_plan_compile_duration_seconds_bucket{le=\"0.0025\"}"] == 1)
        #expect(m["globaldns_probes_total{result=\"success\"}"] == 10)
        #expect(m["globaldns_probes_total{result=\"refused\"}"] == 2)
        #expect(m["globaldns_probes_total{result=\"timeout\"}"] == 0)
        #expect(m["globaldns_probe_overlaps_skipped_total"] == 1)
        #expect(m["globaldns_targets{state=\"up\"}"] == 4)
        #expect(m["globaldns_targets{state=\"down\"}"] == 1)
        #expect(m["globaldns_targets{state=\"unknown\"}"] == 0)
        #expect(m["globaldns_probe_duration_seconds_bucket{le=\"0.0005\"}"] == 1)
        #expect(m["globaldns_probe_duration_seconds_bucket{le=\"0.005\"}"] == 2)
        #expect(m["globaldns_probe_duration_seconds_count"] == 2)
        #expect(abs((m["globaldns_probe_duration_seconds_sum"] ?? 0) - 0.0033) < 1e-9)
        #expect(m["globaldns_probe_schedule_drift_seconds_count"] == 1)

        h.probes.success = 15
        world.health = h
        m = Scrape(await exporter.scrape())
        #expect(m["globaldns_probes_total{result=\"success\"}"] == 15)
    }

    @Test func theStoreIsTimedPerOperationAndErrorsAreCounted() async throws {
        let registry = PrometheusCollectorRegistry()
        let store = TimedNameServiceStore(InMemoryNameServiceStore(), registry: registry)
        let ns = NameService(metadata: ObjectMeta(name: "a"),
                             spec: NameServiceSpec(fqdn: "a.example.com", targets: [Target(name: "t", addresses: ["192.0.2.1"])]))
        _ = try await store.put(ns, ifVersion: nil)
        _ = try await store.get("a")
        _ = try await store.get("b")
        await #expect(throws: StoreError.self) { _ = try await store.put(ns, ifVersion: "999") }
        let m = Scrape(String(decoding: registry.emitToBuffer(), as: UTF8.self))
        let name = "globaldns_store_operation_duration_seconds"
        #expect(m.types[name] == "histogram")
        #expect(m["\(name)_count{operation=\"put\"}"] == 2)
        #expect(m["\(name)_count{operation=\"get\"}"] == 2)
        #expect(m["\(name)_count{operation=\"list\"}"] == 0)
        #expect(m["globaldns_store_errors_total{operation=\"put\",code=\"conflict\"}"] == 1)

        // Paged lists and status batches are forwarded (the wrapped store's own) and timed too.
        #expect(try await store.listPage(ListOptions(limit: 1)).items.map(\.metadata.name) == ["a"])
        let results = await store.updateStatuses([StatusUpdate(name: "missing", status: NameServiceStatus(observedGeneration: 1), ifGeneration: nil)])
        #expect(results.count == 1)
        let after = Scrape(String(decoding: registry.emitToBuffer(), as: UTF8.self))
        #expect(after["\(name)_count{operation=\"list_page\"}"] == 1)
        #expect(after["\(name)_count{operation=\"update_statuses\"}"] == 1)
        #expect(after["globaldns_store_errors_total{operation=\"update_statuses\",code=\"notFound\"}"] == 1)
    }

    @Test func labelValuesAndHelpAreEscapedAsTheTextFormatSays() {
        #expect(PrometheusText.labelSet([("a", "x\"y\\z\nw"), ("b", "")]) == "{a=\"x\\\"y\\\\z\\nw\",b=\"\"}")
        #expect(PrometheusText.labelSet([]) == "")
        #expect(PrometheusText.escapeHelp("a \"b\" \\ c\nd") == "a \"b\" \\\\ c\\nd")
        #expect(logfmtValue("say \"hi\"\n") == "\"say \\\"hi\\\"\\n\"")
        #expect(PrometheusText.seconds(.microseconds(500)) == "0.0005" && PrometheusText.seconds(.seconds(10)) == "10.0")
    }

    /// Prometheus conventions, and the "Metrics" table of docs/operations.md lists every family a
    /// scrape shows (and nothing that does not exist).
    @Test func everyFamilyFollowsTheConventionsAndIsDocumented() async throws {
        let world = World()
        var s = ResponderStats()
        s.queries[0] = 1
        world.dns = s
        let registry = PrometheusCollectorRegistry()
        let store = TimedNameServiceStore(InMemoryNameServiceStore(), registry: registry)
        await #expect(throws: StoreError.self) { _ = try await store.delete("missing", ifVersion: "1") }
        let m = Scrape(await MetricsExporter(registry: registry, sources: world.sources).scrape())
        for (family, type) in m.types {
            #expect(family.hasPrefix("globaldns_"), "\(family)")
            #expect((type == "counter") == family.hasSuffix("_total"), "\(family) is a \(type)")
            #expect(m.text.contains("# HELP \(family) "), "\(family) has no HELP")
        }
        let readme = try String(contentsOfFile: repositoryRoot() + "/docs/operations.md", encoding: .utf8)
        let after = try #require(readme.components(separatedBy: "\n### Metrics\n").dropFirst().first)
        let section = after.components(separatedBy: "\n#").first ?? after
        let documented = Set(section.split(separator: "\n").filter { $0.hasPrefix("| `globaldns_") }.map {
            String($0.dropFirst(3).prefix { $0 != "`" })
        })
        #expect(documented == Set(m.types.keys), "docs/operations.md lists \(documented.subtracting(m.types.keys).sorted()) that no scrape shows; misses \(Set(m.types.keys).subtracting(documented).sorted())")
        for line in section.split(separator: "\n") where line.hasPrefix("| `globaldns_") {
            let family = String(line.dropFirst(3).prefix { $0 != "`" })
            if let type = m.types[family] { #expect(line.contains("| \(type) |"), "docs/operations.md gives \(family) another type than \(type)") }
        }
    }
}

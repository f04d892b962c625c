/// Prometheus text exposition (format 0.0.4) for the one shape the registry cannot hold: a
/// histogram whose buckets were counted elsewhere — by each event loop's responder (reply sizes)
/// or by the health checker (probe latency, schedule drift). swift-prometheus' `Histogram` only
/// records single observations, and replaying millions of them per scrape is what the per-loop
/// counters exist to avoid, so these families are written here, after the registry's.
enum PrometheusText {
    /// One labelled series of a histogram: the count of each bucket on its own (not cumulative),
    /// `bounds.count + 1` of them (the last one above every bound), and the sum of the values.
    struct HistogramSeries {
        var labels: [(String, String)]
        var counts: [UInt64]
        var sum: String
    }

    /// `# HELP`, `# TYPE … histogram`, then per series the cumulative `_bucket` lines (`le` from
    /// `bounds`, then `+Inf`), `_sum` and `_count`.
    static func histogram(name: String, help: String, bounds: [String], series: [HistogramSeries],
                          into out: inout String) {
        out += "# HELP \(name) \(escapeHelp(help))\n"
        out += "# TYPE \(name) histogram\n"
        for s in series {
            precondition(s.counts.count == bounds.count + 1, "\(name): \(s.counts.count) counts for \(bounds.count) bounds")
            var cumulative: UInt64 = 0
            for (i, le) in (bounds + ["+Inf"]).enumerated() {
                cumulative &+= s.counts[i]
                out += "\(name)_bucket\(labelSet(s.labels + [("le", le)])) \(cumulative)\n"
            }
            out += "\(name)_sum\(labelSet(s.labels)) \(s.sum)\n"
            out += "\(name)_count\(labelSet(s.labels)) \(cumulative)\n"
        }
    }

    /// `{a="x",b="y"}`, or nothing without labels.
    static func labelSet(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// Seconds as Prometheus writes them (`0.0005`, `2.5`, `10.0`).
    static func seconds(_ d: Duration) -> String {
        let (s, atto) = d.components
        return "\(Double(s) + Double(atto) / 1e18)"
    }

    static func escapeLabelValue(_ v: String) -> String { backslashEscaped(v) }

    static func escapeHelp(_ v: String) -> String { backslashEscaped(v, quotes: false) }
}

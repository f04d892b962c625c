import Foundation
import GSLB
import Yams

/// The text `get` and `describe` print. Pure functions of the objects, so tests render fixtures.
public enum NameServiceRendering {
    /// `get`'s table: NAME, FQDN, POLICY, TARGETS (healthy/total), READY.
    public static func table(_ objects: [NameService]) -> String {
        TextTable(header: ["NAME", "FQDN", "POLICY", "TARGETS", "READY"], rows: objects.map { ns in
            [ns.metadata.name, ns.spec.fqdn, ns.spec.policy.rawValue, targetsColumn(ns), readyColumn(ns)]
        }).render()
    }

    /// `healthy/total` over `status.targets` (one entry per target address); `-/N` with N the
    /// number of spec targets when the server has written no target status yet.
    public static func targetsColumn(_ ns: NameService) -> String {
        guard let targets = ns.status?.targets, !targets.isEmpty else { return "-/\(ns.spec.targets.count)" }
        // A drained target is out of the answers whatever its probes say, as describe shows it.
        return "\(targets.filter { $0.healthy && $0.drain == nil }.count)/\(targets.count)"
    }

    /// The Ready condition's status, `Unknown` when there is none.
    public static func readyColumn(_ ns: NameService) -> String {
        ns.status?.condition(.ready)?.status.rawValue ?? "Unknown"
    }

    /// `describe`'s page: metadata, spec summary, conditions table, per-target health table.
    public static func describe(_ ns: NameService) -> String {
        var out: [String] = []
        func field(_ label: String, _ value: String, indent: String = "") {
            out.append(indent + (label + ":").padding(toLength: max(label.count + 2, 20 - indent.count), withPad: " ", startingAt: 0) + value)
        }
        let labels = ns.metadata.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        field("Name", ns.metadata.name)
        field("Labels", labels.first ?? "<none>")
        for more in labels.dropFirst() { out.append(String(repeating: " ", count: 20) + more) }
        field("API Version", ns.apiVersion)
        field("Generation", "\(ns.metadata.generation)")
        field("Resource Version", ns.metadata.resourceVersion ?? "<none>")

        let spec = ns.spec
        out.append("Spec:")
        field("FQDN", spec.fqdn, indent: "  ")
        field("TTL", "\(spec.ttl)s", indent: "  ")
        field("Policy", spec.policy.rawValue, indent: "  ")
        if let k = spec.maxAnswers { field("Max Answers", "\(k)", indent: "  ") }
        field("All Down", spec.allDown.rawValue, indent: "  ")
        if let hc = spec.healthCheck {
            func or(_ v: Int?) -> String { v.map { "\($0)" } ?? "default" }
            func or(_ v: Double?, _ unit: String) -> String { v.map { "\($0.secondsText)\(unit)" } ?? "default" }
            field("Health Check", "tcp/\(hc.port) every \(or(hc.intervalSeconds, "s")), timeout \(or(hc.timeoutSeconds, "s")), down after \(or(hc.failureThreshold)) failures, up after \(or(hc.successThreshold)) successes"
                + (hc.initialDelaySeconds.map { ", first after \($0.secondsText)s" } ?? ""), indent: "  ")
        } else {
            field("Health Check", "<none> (every target counts as healthy)", indent: "  ")
        }
        for rule in spec.failover { field("Failover", "\(rule.from) -> \(rule.to)", indent: "  ") }
        // Issue 15: `Distribute: us-west/* -> us-east/* 1%, us-west/* 99%` (buckets by pattern).
        for rule in spec.distribute {
            let to = rule.to.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)%" }.joined(separator: ", ")
            field("Distribute", "\(rule.from) -> \(to)", indent: "  ")
        }
        if let f = spec.overprovisioningFactor { field("Overprovisioning", "\(f.secondsText)", indent: "  ") }
        if let fb = spec.fallback {
            let parts = fb.addresses + (fb.fqdn.map { ["fqdn " + $0] } ?? [])
            field("Fallback", parts.isEmpty ? "<none>" : parts.joined(separator: ", "), indent: "  ")
        }
        if spec.targets.isEmpty {
            field("Targets", "<none>", indent: "  ")
        } else {
            out.append("  Targets:")
            for t in spec.targets {
                out.append("    \(t.name):")
                field("Addresses", t.addresses.isEmpty ? "<none>" : t.addresses.joined(separator: ", "), indent: "      ")
                if let fqdn = t.fqdn { field("FQDN", fqdn, indent: "      ") }
                if let locality = t.locality { field("Locality", locality, indent: "      ") }
                field("Ratio", "\(t.ratio)", indent: "      ")
            }
        }

        guard let status = ns.status else {
            out.append("Status:             <none> (not reconciled yet)")
            return out.joined(separator: "\n")
        }
        out.append("Status:")
        let stale = status.observedGeneration != ns.metadata.generation
        field("Observed Generation", "\(status.observedGeneration)" + (stale ? " (spec generation \(ns.metadata.generation) not reconciled yet)" : ""), indent: "  ")
        if status.conditions.isEmpty {
            out.append("  Conditions:       <none>")
        } else {
            out.append("  Conditions:")
            out.append(TextTable(header: ["TYPE", "STATUS", "REASON", "MESSAGE", "LAST-TRANSITION"], rows: status.conditions.map { c in
                [c.type.rawValue, c.status.rawValue, c.reason.rawValue.isEmpty ? "-" : c.reason.rawValue,
                 c.message.isEmpty ? "-" : c.message, c.lastTransitionTime.isEmpty ? "-" : c.lastTransitionTime]
            }, indent: "    ").render())
        }
        if status.targets.isEmpty {
            out.append("  Target Health:    <none>")
        } else {
            out.append("  Target Health:")
            out.append(TextTable(header: ["TARGET", "ADDRESS", "HEALTHY", "LAST-TRANSITION", "LAST-PROBE", "LATENCY", "LAST-ERROR"],
                                 rows: status.targets.map { t in
                [t.name, t.address.isEmpty ? "-" : t.address, t.drain != nil ? "Drained" : (t.healthy ? "True" : "False"),
                 t.lastTransitionTime ?? "-", t.lastProbeTime ?? "-", t.lastProbeLatencyMilliseconds.map { "\($0)ms" } ?? "-",
                 t.lastError ?? "-"]
            }, indent: "    ").render())
        }
        if !ns.drains.isEmpty {
            out.append("Drains:")
            out.append(TextTable(header: ["TARGET", "REASON", "BY", "SINCE", "UNTIL"], rows: ns.drains.map { d in
                [d.target, d.reason, d.by, d.since.rfc3339, d.until?.rfc3339 ?? "until undrained"]
            }, indent: "  ").render())
        }
        return out.joined(separator: "\n")
    }

    /// Indented JSON with sorted keys (which keeps apiVersion, kind, metadata, spec, status in order).
    public static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A watch event as `watch -o yaml` prints it: one YAML document per event, its type and the
    /// object (`kubectl get -w -o yaml` prints the objects; the type says which were deleted).
    public static func watchYAML(_ event: WatchEvent) throws -> String {
        struct Document: Encodable {
            var type: String
            var object: NameService?
        }
        return "---\n" + (try yaml(Document(type: event.type, object: event.object)))
    }

    /// YAML in the field order of the types (apiVersion, kind, metadata, spec, status).
    public static func yaml<T: Encodable>(_ value: T) throws -> String {
        var text = try YAMLEncoder().encode(value)
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

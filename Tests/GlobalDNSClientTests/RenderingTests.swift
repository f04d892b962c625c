import GlobalDNSClient
import GSLB
import Testing

@Suite struct RenderingTests {
    @Test func tableShowsHealthyOverTotalAndReady() {
        let text = NameServiceRendering.table([Fixtures.checkout, Fixtures.fresh])
        #expect(text == """
            NAME       FQDN                     POLICY       TARGETS   READY
            checkout   checkout.g.example.com   Locality     2/3       False
            api        api.g.example.com        RoundRobin   -/2       Unknown
            """)
    }

    /// A drained target is not counted healthy in TARGETS, whatever its probes say, as describe
    /// shows it Drained (issue 14).
    @Test func tableCountsADrainedTargetAsNotHealthy() {
        var ns = Fixtures.checkout
        for i in ns.status!.targets.indices where ns.status!.targets[i].drain != nil { ns.status!.targets[i].healthy = true }
        #expect(NameServiceRendering.targetsColumn(ns) == "2/3")
        for i in ns.status!.targets.indices { ns.status!.targets[i].drain = nil }
        #expect(NameServiceRendering.targetsColumn(ns) == "3/3")
    }

    @Test func describeShowsMetadataSpecConditionsAndTargetHealth() {
        let text = NameServiceRendering.describe(Fixtures.checkout)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains("Name:               checkout"))
        #expect(lines.contains("Labels:             env=prod"))
        #expect(lines.contains("                    team=payments"))
        #expect(lines.contains("Generation:         3"))
        #expect(lines.contains("Resource Version:   1042"))
        #expect(lines.contains("  FQDN:             checkout.g.example.com"))
        #expect(lines.contains("  Policy:           Locality"))
        #expect(lines.contains("    lvs-us-west-1a:"))
        #expect(lines.contains("      Addresses:    10.10.1.7, 2001:db8::7"))
        #expect(lines.contains("      FQDN:         checkout.gw.us-west-1a.example.net"))
        #expect(lines.contains("      Locality:     us-west/us-west-1a"))
        #expect(lines.contains("      Ratio:        99"))
        // Conditions and target health are parts of the status, as kubectl describe nests them (issue 14)
        #expect(text.contains("""
            Status:
              Observed Generation: 3
              Conditions:
                TYPE         STATUS   REASON        MESSAGE                                                    LAST-TRANSITION
                Accepted     True     Valid         -                                                          2026-01-31T12:00:00Z
                Programmed   True     Served        answering from plan 57                                     2026-01-31T12:00:01Z
                Healthy      False    TargetsDown   1 of 3 targets down: lvs-us-east-1b (connection refused)   2026-01-31T12:05:00Z
                Ready        False    Degraded      -                                                          2026-01-31T12:05:00Z
              Target Health:
                TARGET           ADDRESS       HEALTHY   LAST-TRANSITION        LAST-PROBE             LATENCY   LAST-ERROR
                lvs-us-west-1a   10.10.1.7     True      2026-01-31T12:00:02Z   2026-01-31T12:06:00Z   0.412ms   -
                lvs-us-west-1a   2001:db8::7   True      2026-01-31T12:00:02Z   -                      -         -
                lvs-us-east-1b   10.20.1.7     Drained   2026-01-31T12:05:00Z   -                      -         connection refused
            Drains:
              TARGET           REASON      BY       SINCE                  UNTIL
              lvs-us-east-1b   rack move   oncall   2026-01-31T12:04:00Z   2026-01-31T18:00:00Z
            """))
        #expect(lines.contains("  Health Check:     tcp/443 every 2s, timeout default, down after default failures, up after default successes"))
    }

    /// Issue 15: the distribute rules (buckets by pattern), the factor and the fallback.
    @Test func describeShowsDistributeRulesAndTheFallback() throws {
        var ns = Fixtures.fresh
        ns.spec.policy = .locality
        ns.spec.distribute = [DistributeRule(from: "us-west/*", to: ["us-west/*": 99, "us-east/*": 1])]
        ns.spec.overprovisioningFactor = 1.4
        ns.spec.allDown = .fallback
        ns.spec.fallback = FallbackSpec(addresses: ["192.0.2.99"], fqdn: "sorry.example.net")
        let lines = NameServiceRendering.describe(ns).split(separator: "\n").map(String.init)
        #expect(lines.contains("  Distribute:       us-west/* -> us-east/* 1%, us-west/* 99%"))
        #expect(lines.contains("  Overprovisioning: 1.4"))
        #expect(lines.contains("  All Down:         Fallback"))
        #expect(lines.contains("  Fallback:         192.0.2.99, fqdn sorry.example.net"))
        let yaml = try NameServiceRendering.yaml(ns)
        #expect(yaml.contains("distribute:") && yaml.contains("us-west/*") && yaml.contains("fallback:"))
    }

    @Test func describeWithoutStatusSaysNotReconciled() {
        let text = NameServiceRendering.describe(Fixtures.fresh)
        #expect(text.contains("Labels:             <none>"))
        #expect(text.contains("Health Check:     <none> (every target counts as healthy)"))
        #expect(text.hasSuffix("Status:             <none> (not reconciled yet)"))
    }

    @Test func describeFlagsAStaleObservedGeneration() {
        var ns = Fixtures.checkout
        ns.metadata.generation = 4
        #expect(NameServiceRendering.describe(ns).contains("Observed Generation: 3 (spec generation 4 not reconciled yet)"))
    }

    @Test func yamlAndJSONKeepResourceFieldOrder() throws {
        let yaml = try NameServiceRendering.yaml(Fixtures.fresh)
        #expect(yaml.hasPrefix("apiVersion: globaldns.io/v1alpha1\nkind: NameService\nmetadata:\n"))
        let json = try NameServiceRendering.json(NameServiceList(items: [Fixtures.fresh], resourceVersion: "9"))
        #expect(json.contains("\"kind\" : \"NameServiceList\""))
        #expect(json.contains("\"resourceVersion\" : \"9\""))
    }

    @Test func watchEventSummaryAndErrorEvent() throws {
        let added = try WatchEvent(line: #"{"type":"ADDED","object":{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"checkout"},"spec":{"fqdn":"checkout.g.example.com"},"status":{"conditions":[{"type":"Ready","status":"True","reason":"Ready"}]}}}"#)
        #expect(added.summary == "ADDED checkout fqdn=checkout.g.example.com ready=True")
        let error = try WatchEvent(line: #"{"type":"ERROR","object":{"kind":"Status","status":"Failure","code":410,"reason":"Expired","message":"resourceVersion 5 is too old"}}"#)
        #expect(error.object == nil)
        #expect(error.error?.code == 410)
        #expect(error.summary == "ERROR Error from server (Expired): resourceVersion 5 is too old")
        #expect(throws: ClientError.self) { try WatchEvent(line: "not json") }
    }

    /// `watch -o yaml` (advertised, refused before issue 14): a YAML document per event.
    @Test func watchEventsAsYAMLDocuments() throws {
        let added = try WatchEvent(line: #"{"type":"ADDED","object":{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"checkout"},"spec":{"fqdn":"checkout.g.example.com","targets":[]}}}"#)
        let text = try NameServiceRendering.watchYAML(added)
        #expect(text.hasPrefix("---\ntype: ADDED\nobject:\n  apiVersion: globaldns.io/v1alpha1\n  kind: NameService\n  metadata:\n"), "\(text)")
        #expect(text.contains("    name: checkout") && text.contains("    fqdn: checkout.g.example.com"))
    }

    @Test func textTableDoesNotPadTheLastColumnAndFlattensNewlines() {
        let table = TextTable(header: ["A", "LONGER"], rows: [["xyz", "two\nlines"]], indent: "  ")
        #expect(table.render() == "  A     LONGER\n  xyz   two lines")
    }
}

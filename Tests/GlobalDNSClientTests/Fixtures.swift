import GSLB

/// NameServices as the server returns them, for rendering tests.
enum Fixtures {
    /// Reconciled: three target addresses, one down, so Healthy and Ready are False.
    static let checkout = NameService(
        metadata: ObjectMeta(name: "checkout", labels: ["team": "payments", "env": "prod"], generation: 3, resourceVersion: "1042"),
        spec: NameServiceSpec(
            fqdn: "checkout.g.example.com", ttl: 30, policy: .locality,
            healthCheck: HealthCheckSpec(port: 443, intervalSeconds: 2),
            targets: [
                Target(name: "lvs-us-west-1a", addresses: ["10.10.1.7", "2001:db8::7"],
                       fqdn: "checkout.gw.us-west-1a.example.net", locality: "us-west/us-west-1a", ratio: 99),
                Target(name: "lvs-us-east-1b", addresses: ["10.20.1.7"], locality: "us-east/us-east-1b"),
            ]),
        status: NameServiceStatus(
            observedGeneration: 3,
            conditions: [
                Condition(type: .accepted, status: .true, reason: .valid, lastTransitionTime: "2026-01-31T12:00:00Z", observedGeneration: 3),
                Condition(type: .programmed, status: .true, reason: ConditionReason(rawValue: "Served"),
                          message: "answering from plan 57", lastTransitionTime: "2026-01-31T12:00:01Z", observedGeneration: 3),
                Condition(type: .healthy, status: .false, reason: ConditionReason(rawValue: "TargetsDown"),
                          message: "1 of 3 targets down: lvs-us-east-1b (connection refused)",
                          lastTransitionTime: "2026-01-31T12:05:00Z", observedGeneration: 3),
                Condition(type: .ready, status: .false, reason: ConditionReason(rawValue: "Degraded"),
                          lastTransitionTime: "2026-01-31T12:05:00Z", observedGeneration: 3),
            ],
            targets: [
                TargetStatus(name: "lvs-us-west-1a", address: "10.10.1.7", healthy: true, lastTransitionTime: "2026-01-31T12:00:02Z",
                             lastProbeTime: "2026-01-31T12:06:00Z", lastProbeLatencyMilliseconds: 0.412),
                TargetStatus(name: "lvs-us-west-1a", address: "2001:db8::7", healthy: true, lastTransitionTime: "2026-01-31T12:00:02Z"),
                TargetStatus(name: "lvs-us-east-1b", address: "10.20.1.7", healthy: false,
                             lastTransitionTime: "2026-01-31T12:05:00Z", lastError: "connection refused", drain: drain),
            ]),
        drains: [drain])

    static let drain = TargetDrain(target: "lvs-us-east-1b", reason: "rack move", by: "oncall",
                                   since: WallTime(rfc3339: "2026-01-31T12:04:00Z")!, until: WallTime(rfc3339: "2026-01-31T18:00:00Z")!)

    /// Just stored: no status yet.
    static let fresh = NameService(
        metadata: ObjectMeta(name: "api", generation: 1, resourceVersion: "7"),
        spec: NameServiceSpec(fqdn: "api.g.example.com", policy: .roundRobin,
                              targets: [Target(name: "a", addresses: ["192.0.2.1"]), Target(name: "b", addresses: ["192.0.2.2"])]))
}

import DNSServer
import DNSWire
import DNSZone
import GSLB
import Logging
import NameServiceStore
import NameServiceStoreTesting
import Reconciler
import Testing

/// Probe verdicts through the reconciler: which probes it asks for (shared across NameServices),
/// how a verdict changes answers, status and conditions, and all-down behaviour.
@Suite struct HealthTests {
    actor RecordingProber: TargetProber {
        private(set) var targets: Set<HealthKey> = []
        func setTargets(_ targets: Set<HealthKey>) async { self.targets = targets }
    }

    static let check = HealthCheckSpec(port: 8080, intervalSeconds: 2, timeoutSeconds: 1)

    static func probed(_ name: String, fqdn: String, allDown: AllDownBehavior = .failOpen) -> NameService {
        NameService(metadata: ObjectMeta(name: name),
                    spec: NameServiceSpec(fqdn: fqdn, allDown: allDown, healthCheck: check,
                                          targets: [Target(name: "a", addresses: ["10.0.0.1"]),
                                                    Target(name: "b", addresses: ["10.0.0.2", "2001:db8::2"])]))
    }

    static func key(_ address: String) -> HealthKey {
        HealthKey(address: IPAddress(address)!, port: 8080, check: check.resolved(.standard))
    }

    func withProbedHarness(configuration: Reconciler.Configuration = .init(),
                           _ body: (ReconcilerTests.Harness, RecordingProber) async throws -> Void) async throws {
        let prober = RecordingProber()
        let store = InMemoryNameServiceStore()
        let zones = try ReconcilerTests.zones()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        let reconciler = Reconciler(store: store, holder: holder, zones: zones, logger: Logger(label: "test"),
                                    configuration: configuration, prober: prober)
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        let h = ReconcilerTests.Harness(store: store, holder: holder, reconciler: reconciler, task: task,
                                        responder: QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t")))
        try await h.eventually("first plan") { await reconciler.isReady }
        try await body(h, prober)
    }

    @Test func probesAreRequestedSharedAndDropped() async throws {
        try await withProbedHarness { h, prober in
            _ = try await h.store.put(Self.probed("one", fqdn: "one.g.example.com"), ifVersion: nil)
            _ = try await h.store.put(Self.probed("two", fqdn: "two.g.example.com"), ifVersion: nil)
            let all: Set<HealthKey> = [Self.key("10.0.0.1"), Self.key("10.0.0.2"), Self.key("2001:db8::2")]
            try await h.eventually("probes") { await prober.targets == all }
            // Unknown verdicts count as healthy: everything answers.
            #expect(try h.addresses("one.g.example.com.") == ["10.0.0.1", "10.0.0.2"])
            try await h.store.delete("one", ifVersion: nil)
            try await Task.sleep(for: .milliseconds(100))
            #expect(await prober.targets == all, "still used by two")
            try await h.store.delete("two", ifVersion: nil)
            try await h.eventually("probes stopped") { await prober.targets.isEmpty }
        }
    }

    @Test func timingLeftOutTakesTheConfiguredDefaults() async throws {
        var configuration = Reconciler.Configuration()
        configuration.healthCheckDefaults = HealthCheckDefaults(intervalSeconds: 10, timeoutSeconds: 5, failureThreshold: 4,
                                                                successThreshold: 2, initialDelaySeconds: 1)
        try await withProbedHarness(configuration: configuration) { h, prober in
            var ns = Self.probed("svc", fqdn: "svc.g.example.com")
            ns.spec.healthCheck = HealthCheckSpec(port: 8080, timeoutSeconds: 2)
            _ = try await h.store.put(ns, ifVersion: nil)
            let expected = HealthCheckSettings(port: 8080, intervalSeconds: 10, timeoutSeconds: 2, failureThreshold: 4,
                                               successThreshold: 2, initialDelaySeconds: 1)
            try await h.eventually("probes") { await prober.targets.count == 3 }
            #expect(await prober.targets.allSatisfy { $0.check == expected })
            // A timeout at or above the configured interval is probed as Kubernetes would (issue 14);
            // one above an hour is refused as the API would refuse it.
            ns.spec.healthCheck = HealthCheckSpec(port: 8080, timeoutSeconds: 10)
            _ = try await h.store.put(ns, ifVersion: nil)
            try await h.eventually("probed with the long timeout") { await prober.targets.allSatisfy { $0.check.timeoutSeconds == 10 } }
            ns.spec.healthCheck = HealthCheckSpec(port: 8080, timeoutSeconds: 4000)
            _ = try await h.store.put(ns, ifVersion: nil)
            try await h.eventually("refused") { try await h.condition("svc", .accepted)?.status == .false }
            #expect(try await h.condition("svc", .accepted)?.message.contains("must be between 0.05 and 3600") == true)
        }
    }

    @Test func changingAnAddressStopsItsOldProbe() async throws {
        try await withProbedHarness { h, prober in
            _ = try await h.store.put(Self.probed("svc", fqdn: "svc.g.example.com"), ifVersion: nil)
            try await h.eventually("probes") { await prober.targets.count == 3 }
            var svc = try #require(try await h.store.get("svc"))
            svc.spec.targets[0].addresses = ["10.0.0.9"]
            _ = try await h.store.put(svc, ifVersion: nil)
            let expected: Set<HealthKey> = [Self.key("10.0.0.9"), Self.key("10.0.0.2"), Self.key("2001:db8::2")]
            try await h.eventually("old probe stopped") { await prober.targets == expected }
        }
    }

    @Test func aDownVerdictDropsTheAddressAndTheStatusSaysWhy() async throws {
        try await withProbedHarness { h, _ in
            _ = try await h.store.put(Self.probed("svc", fqdn: "svc.g.example.com"), ifVersion: nil)
            try await h.eventually("served") { try h.addresses("svc.g.example.com.") == ["10.0.0.1", "10.0.0.2"] }
            await h.reconciler.healthChanged(Self.key("10.0.0.1"),
                                             HealthReport(healthy: false, lastTransitionTime: "2026-11-24T23:00:00Z",
                                                          lastError: "connection refused"))
            try await h.eventually("dropped") { try h.addresses("svc.g.example.com.") == ["10.0.0.2"] }
            try await h.eventually("status") { try await h.condition("svc", .healthy)?.reason.rawValue == "SomeTargetsDown" }
            let status = try #require(try await h.store.get("svc")?.status)
            let a = try #require(status.targets.first { $0.address == "10.0.0.1" })
            #expect(!a.healthy && a.lastError == "connection refused" && a.lastTransitionTime == "2026-11-24T23:00:00Z")
            #expect(status.condition(.healthy)?.message.contains("a (10.0.0.1: connection refused)") == true)
            await h.reconciler.healthChanged(Self.key("10.0.0.1"), HealthReport(healthy: true))
            try await h.eventually("back") { try h.addresses("svc.g.example.com.") == ["10.0.0.1", "10.0.0.2"] }
            try await h.eventually("healthy") { try await h.condition("svc", .healthy)?.reason.rawValue == "AllTargetsHealthy" }
        }
    }

    /// Issue 15: a stored spec whose distribute bucket would hold no target is an error in
    /// Accepted (never served silently); fixed, it is served and its rules are compiled.
    @Test func aDistributeBucketWithoutTargetsIsNotAccepted() async throws {
        try await withProbedHarness { h, _ in
            var spec = NameServiceSpec(fqdn: "dist.g.example.com", policy: .locality,
                                       targets: [Target(name: "w", addresses: ["10.0.0.1"], locality: "us-west/a"),
                                                 Target(name: "e", addresses: ["10.0.0.2"], locality: "us-east/a")])
            spec.distribute = [DistributeRule(from: "us-west/*", to: ["us-west/*": 99, "ap-south/*": 1])]
            _ = try await h.store.put(NameService(metadata: ObjectMeta(name: "dist"), spec: spec), ifVersion: nil)
            try await h.eventually("refused") { try await h.condition("dist", .accepted)?.status == .false }
            let accepted = try #require(try await h.condition("dist", .accepted))
            #expect(accepted.reason == .invalidSpec)
            #expect(accepted.message.contains("spec.distribute[0].to[\"ap-south/*\"]: matches no target's locality"), "\(accepted.message)")
            #expect(try h.addresses("dist.g.example.com.").isEmpty)
            spec.distribute = [DistributeRule(from: "us-west/*", to: ["us-west/*": 99, "us-east/*": 1])]
            _ = try await h.store.put(NameService(metadata: ObjectMeta(name: "dist"), spec: spec), ifVersion: nil)
            // (This harness has no localities table: the client has no locality and gets every target.)
            try await h.eventually("served") { try h.addresses("dist.g.example.com.").count == 2 }
            // The status is written after the plan is published: wait for it too.
            try await h.eventually("accepted") { try await h.condition("dist", .accepted)?.status == .true }
            let (shard, index) = try #require(h.holder.load().globals.lookup("dist.g.example.com."))
            #expect(shard.plans[index].ipv4.distribute?.rules.first?.buckets.map(\.pattern) == ["us-east/*", "us-west/*"])
        }
    }

    /// Issue 15: allDown Fallback answers spec.fallback (its literal addresses, and what its fqdn
    /// resolves to: here www.g.example.com from the zone) while every target is down, per family,
    /// and the Healthy condition says so; the targets take over again when one comes back.
    @Test func everyTargetDownWithAFallback() async throws {
        try await withProbedHarness { h, _ in
            var ns = Self.probed("svc", fqdn: "svc.g.example.com", allDown: .fallback)
            ns.spec.fallback = FallbackSpec(addresses: ["192.0.2.99"], fqdn: "www.g.example.com")
            #expect(ns.validate().isEmpty)
            _ = try await h.store.put(ns, ifVersion: nil)
            try await h.eventually("served") { try h.addresses("svc.g.example.com.") == ["10.0.0.1", "10.0.0.2"] }
            for a in ["10.0.0.1", "10.0.0.2", "2001:db8::2"] {
                await h.reconciler.healthChanged(Self.key(a), HealthReport(healthy: false, lastError: "timed out after 1s"))
            }
            try await h.eventually("fallback") { try h.addresses("svc.g.example.com.") == ["192.0.2.80", "192.0.2.99"] }
            // The families go down one verdict at a time: wait for the last one.
            try await h.eventually("AAAA NODATA") {
                let aaaa = try h.ask("svc.g.example.com.", .aaaa)
                return aaaa.rcode == .noError && aaaa.answers.isEmpty  // no fallback address of the family
            }
            try await h.eventually("Healthy=False") { try await h.condition("svc", .healthy)?.status == .false }
            let status = try #require(try await h.store.get("svc")?.status)
            #expect(status.condition(.healthy)?.reason.rawValue == "AllTargetsDown")
            #expect(status.condition(.healthy)?.message.contains("allDown Fallback: answering spec.fallback (2 address(es))") == true,
                    "\(status.condition(.healthy)?.message ?? "")")
            #expect(status.condition(.ready)?.status == .true)
            await h.reconciler.healthChanged(Self.key("10.0.0.1"), HealthReport(healthy: true))
            try await h.eventually("back") { try h.addresses("svc.g.example.com.") == ["10.0.0.1"] }
        }
    }

    @Test(arguments: [AllDownBehavior.failOpen, .failClosed])
    func everyTargetDown(_ behaviour: AllDownBehavior) async throws {
        try await withProbedHarness { h, _ in
            _ = try await h.store.put(Self.probed("svc", fqdn: "svc.g.example.com", allDown: behaviour), ifVersion: nil)
            try await h.eventually("served") { try h.addresses("svc.g.example.com.").count == 2 }
            for a in ["10.0.0.1", "10.0.0.2", "2001:db8::2"] {
                await h.reconciler.healthChanged(Self.key(a), HealthReport(healthy: false, lastError: "timed out after 1s"))
            }
            try await h.eventually("Healthy=False") { try await h.condition("svc", .healthy)?.status == .false }
            let status = try #require(try await h.store.get("svc")?.status)
            #expect(status.condition(.healthy)?.reason.rawValue == "AllTargetsDown")
            if behaviour == .failOpen {
                #expect(try h.addresses("svc.g.example.com.") == ["10.0.0.1", "10.0.0.2"], "as if all were healthy")
                #expect(status.condition(.healthy)?.message.contains("FailOpen") == true)
                #expect(status.condition(.ready)?.status == .true)
            } else {
                let reply = try h.ask("svc.g.example.com.", .a)
                #expect(reply.rcode == .noError && reply.answers.isEmpty)
                #expect(status.condition(.ready)?.reason.rawValue == "AllTargetsDown")
            }
        }
    }
}

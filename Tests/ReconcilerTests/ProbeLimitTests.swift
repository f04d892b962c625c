import DNSServer
import Logging
import NameServiceStoreTesting
import DNSWire
import GSLB
import NameServiceStore
import Reconciler
import Testing

/// `healthCheck.maxProbedAddresses` (`Reconciler.Configuration.maxProbedAddresses`): past it no
/// new probe is handed to the prober; the addresses left out are served as unknown (healthy) and
/// the Healthy condition of their NameService says `ProbeLimitReached` with how many; freed room
/// is given to them, and the condition clears.
@Suite struct ProbeLimitTests {
    static let otherCheck = HealthCheckSpec(port: 9090, intervalSeconds: 2, timeoutSeconds: 1)

    static func key(_ address: String, port: UInt16, _ check: HealthCheckSpec) -> HealthKey {
        HealthKey(address: IPAddress(address)!, port: port, check: check.resolved(.standard))
    }

    @Test func probesPastTheCapAreNotRunAndTheConditionSaysSo() async throws {
        var configuration = Reconciler.Configuration()
        configuration.maxProbedAddresses = 4
        try await HealthTests().withProbedHarness(configuration: configuration) { h, prober in
            let one: Set<HealthKey> = [HealthTests.key("10.0.0.1"), HealthTests.key("10.0.0.2"), HealthTests.key("2001:db8::2")]
            _ = try await h.store.put(HealthTests.probed("one", fqdn: "one.g.example.com"), ifVersion: nil)
            try await h.eventually("one probed") { await prober.targets == one }
            try await h.eventually("one healthy") { try await h.condition("one", .healthy)?.reason.rawValue == "AllTargetsHealthy" }

            // "two" wants 3 more (another port): room for 1, the lowest address.
            var two = HealthTests.probed("two", fqdn: "two.g.example.com")
            two.spec.healthCheck = Self.otherCheck
            _ = try await h.store.put(two, ifVersion: nil)
            let twoKeys: Set<HealthKey> = [Self.key("10.0.0.1", port: 9090, Self.otherCheck),
                                           Self.key("10.0.0.2", port: 9090, Self.otherCheck),
                                           Self.key("2001:db8::2", port: 9090, Self.otherCheck)]
            try await h.eventually("capped") {
                await prober.targets == one.union([Self.key("10.0.0.1", port: 9090, Self.otherCheck)])
            }
            try await h.eventually("two says so") { try await h.condition("two", .healthy)?.reason.rawValue == "ProbeLimitReached" }
            let condition = try #require(try await h.condition("two", .healthy))
            #expect(condition.status == .true)
            #expect(condition.message.hasPrefix("2 of 3 probed addresses not probed: healthCheck.maxProbedAddresses (4) reached"),
                    "\(condition.message)")
            #expect(condition.message.contains("they count as healthy (unknown)"))
            // Unprobed addresses are served as unknown = healthy (the plan saying so may be
            // published a moment after the status is read back on a loaded machine).
            try await h.eventually("two served") { try h.addresses("two.g.example.com.") == ["10.0.0.1", "10.0.0.2"] }
            #expect(try await h.condition("one", .healthy)?.reason.rawValue == "AllTargetsHealthy")
            // A verdict for the probed one still counts; the unprobed stay healthy.
            await h.reconciler.healthChanged(Self.key("10.0.0.1", port: 9090, Self.otherCheck),
                                             HealthReport(healthy: false, lastError: "connection refused"))
            try await h.eventually("dropped") { try h.addresses("two.g.example.com.") == ["10.0.0.2"] }

            // Room freed by deleting "one": two's probes all run, its condition clears, although
            // nothing about "two" itself changed.
            try await h.store.delete("one", ifVersion: nil)
            try await h.eventually("two probed") { await prober.targets == twoKeys }
            try await h.eventually("two cleared") {
                let c = try await h.condition("two", .healthy)
                return c?.reason.rawValue != "ProbeLimitReached" && c?.message.contains("not probed") == false
            }
        }
    }

    @Test func noCapProbesEverything() async throws {
        try await HealthTests().withProbedHarness { h, prober in
            for i in 0..<5 {
                var ns = HealthTests.probed("n\(i)", fqdn: "n\(i).g.example.com")
                ns.spec.healthCheck = HealthCheckSpec(port: 8000 + i, intervalSeconds: 2, timeoutSeconds: 1)
                _ = try await h.store.put(ns, ifVersion: nil)
            }
            try await h.eventually("all probed") { await prober.targets.count == 15 }
            // Statuses are written by their own loop, after the plan: wait for it.
            try await h.eventually("n4 healthy") { try await h.condition("n4", .healthy)?.reason.rawValue == "AllTargetsHealthy" }
        }
    }
}

/// The reconciler tells the prober what changed, not every probe each time.
@Suite struct IncrementalProbeTests {
    actor DiffProber: TargetProber {
        private(set) var calls: [(added: Int, removed: Int)] = []
        private(set) var running: Set<HealthKey> = []
        func setTargets(_ targets: Set<HealthKey>) async { Issue.record("full set handed over") }
        func updateTargets(adding added: Set<HealthKey>, removing removed: Set<HealthKey>, all: Set<HealthKey>) async {
            calls.append((added.count, removed.count))
            running.subtract(removed)
            running.formUnion(added)
            #expect(running == all)
        }
    }

    @Test func onlyTheDifferenceIsHandedOver() async throws {
        let prober = DiffProber()
        let store = InMemoryNameServiceStore()
        let zones = try ReconcilerTests.zones()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        let reconciler = Reconciler(store: store, holder: holder, zones: zones, logger: Logger(label: "test"), prober: prober)
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        let h = ReconcilerTests.Harness(store: store, holder: holder, reconciler: reconciler, task: task,
                                        responder: QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t")))
        try await h.eventually("first plan") { await reconciler.isReady }
        _ = try await store.put(HealthTests.probed("one", fqdn: "one.g.example.com"), ifVersion: nil)
        try await h.eventually("one") { await prober.running.count == 3 }
        var two = HealthTests.probed("two", fqdn: "two.g.example.com")
        two.spec.healthCheck = ProbeLimitTests.otherCheck
        _ = try await store.put(two, ifVersion: nil)
        try await h.eventually("two") { await prober.running.count == 6 }
        #expect(await prober.calls.map { $0.added } == [3, 3])
        // A change that keeps the probes (another target name) hands nothing over; one that
        // shares them with "one" (same check) drops two's own 3 and adds none.
        two.spec.targets[0].name = "renamed"
        _ = try await store.put(two, ifVersion: nil)
        try await h.eventually("recompiled") {
            try await h.store.get("two")?.status?.targets.contains { $0.name == "renamed" } == true
        }
        #expect(await prober.calls.count == 2)
        two.spec.healthCheck = HealthTests.check
        _ = try await store.put(two, ifVersion: nil)
        try await h.eventually("shared") { await prober.running.count == 3 }
        #expect(await prober.calls.last.map { [$0.added, $0.removed] } == [0, 3])
        try await store.delete("one", ifVersion: nil)
        try await store.delete("two", ifVersion: nil)
        try await h.eventually("none") { await prober.running.isEmpty }
    }
}

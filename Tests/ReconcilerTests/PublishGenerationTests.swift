import DNSServer
import DNSWire
import DNSZone
import GSLB
import Logging
import NameServiceStore
import NameServiceStoreTesting
import Reconciler
import Synchronization
import Testing

/// Issue 12, the stale-answer race: a flush's plan and a SIGHUP's client-policy update could be
/// published with the same generation, and event loops (which compare generations only) kept the
/// older snapshot. The holder now numbers every publish itself.
@Suite struct PublishGenerationTests {
    /// Holds the reconciler's flush at `setTargets` until released: the moment the other publisher
    /// used to slip in with the same generation.
    actor GateProber: TargetProber {
        private var waiting: CheckedContinuation<Void, Never>?
        private var calls = 0
        var isHolding: Bool { waiting != nil }
        var callCount: Int { calls }
        func setTargets(_ targets: Set<HealthKey>) async {
            calls += 1
            guard calls == 1 else { return }
            await withCheckedContinuation { waiting = $0 }
        }
        func release() {
            waiting?.resume()
            waiting = nil
        }
    }

    @Test func aFlushAndAClientPolicyUpdateNeverShareAGeneration() async throws {
        let prober = GateProber()
        let store = InMemoryNameServiceStore()
        let zones = try ReconcilerTests.zones()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        let reconciler = Reconciler(store: store, holder: holder, zones: zones, logger: Logger(label: "test"), prober: prober)
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        // One event loop's responder: it reloads its cached snapshot only when the generation moves.
        let responder = QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t"))
        let h = ReconcilerTests.Harness(store: store, holder: holder, reconciler: reconciler, task: task, responder: responder)
        try await h.eventually("first plan") { await reconciler.isReady }
        #expect(try h.ask("www.g.example.com.", .a).rcode == .noError)

        // A store change whose flush stops at the prober (its probes are new)...
        var ns = ReconcilerTests.nameService("race", fqdn: "race.g.example.com", addresses: ["127.0.0.1"])
        ns.spec.healthCheck = HealthCheckSpec(port: 8080)
        _ = try await store.put(ns, ifVersion: nil)
        try await h.eventually("flush held at the prober") { await prober.isHolding }
        let before = holder.generation
        // ...while SIGHUP's client policy is published, and the loop picks that snapshot up.
        await reconciler.setClientPolicy(.empty, explainAllow: .loopback)
        let policyGeneration = holder.generation
        #expect(policyGeneration == before + 1)
        #expect(try h.ask("race.g.example.com.", .a).answers.isEmpty, "not published yet")
        await prober.release()

        // The flush's plan gets a newer generation than the policy's, so the loop sees it.
        try await h.eventually("the held plan is answered") { try h.addresses("race.g.example.com.") == ["127.0.0.1"] }
        #expect(holder.generation > policyGeneration)
        #expect(holder.load().generation == holder.generation)
    }

    /// Publishes from many threads at once (the reconciler's flushes, SIGHUP's client policy, a
    /// zone reload): every one gets its own, strictly increasing generation, and a responder that
    /// checks its cached snapshot after each publish always sees the latest one.
    @Test func concurrentPublishesAreNumberedByTheHolder() async throws {
        let zones = try ReconcilerTests.zones()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        let writers = 4, each = 500
        let seen = Mutex<[UInt64]>([])
        await withTaskGroup(of: [UInt64].self) { group in
            for w in 0..<writers {
                group.addTask {
                    var mine: [UInt64] = []
                    for i in 0..<each {
                        // Half of them build from the newest snapshot (the client-policy path), half
                        // from scratch with a stale number (a plan built before others published).
                        let published = w % 2 == 0
                            ? holder.publish { current, g in current.with(generation: g) }
                            : holder.publish { _, _ in ServingState(zones: zones, generation: UInt64(i)) }
                        mine.append(published.generation)
                    }
                    return mine
                }
            }
            for await mine in group {
                #expect(mine == mine.sorted() && Set(mine).count == mine.count, "strictly increasing per writer")
                seen.withLock { $0 += mine }
            }
        }
        let all = seen.withLock { $0 }
        #expect(Set(all).count == writers * each, "no generation published twice")
        #expect(all.max() == 1 + UInt64(writers * each))
        #expect(holder.generation == 1 + UInt64(writers * each) && holder.load().generation == holder.generation)
        // `store` renumbers too: a caller cannot pick a generation.
        let stored = holder.store(ServingState(zones: zones, generation: 1))
        #expect(stored == 2 + UInt64(writers * each) && holder.load().generation == stored)
    }

    /// The configured spec limits apply to what the store holds (lowered since it was written).
    @Test func aStoredSpecPastTheConfiguredLimitsIsNotServed() async throws {
        var configuration = Reconciler.Configuration()
        configuration.specLimits.maxAddressesPerTarget = 1
        let store = InMemoryNameServiceStore()
        let zones = try ReconcilerTests.zones()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        let reconciler = Reconciler(store: store, holder: holder, zones: zones, logger: Logger(label: "test"),
                                    configuration: configuration)
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        let h = ReconcilerTests.Harness(store: store, holder: holder, reconciler: reconciler, task: task,
                                        responder: QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t")))
        try await h.eventually("first plan") { await reconciler.isReady }
        _ = try await store.put(ReconcilerTests.nameService("two", fqdn: "two.g.example.com"), ifVersion: nil)
        _ = try await store.put(ReconcilerTests.nameService("one", fqdn: "one.g.example.com", addresses: ["10.0.0.9"]), ifVersion: nil)
        try await h.eventually("refused") { try await h.condition("two", .accepted)?.status == .false }
        let accepted = try #require(try await h.condition("two", .accepted))
        #expect(accepted.reason == .invalidSpec)
        #expect(accepted.message.contains("spec.targets[0].addresses: 2 addresses; at most 1 are accepted per target (limits.maxAddressesPerTarget)"))
        try await h.eventually("one served") { try h.addresses("one.g.example.com.") == ["10.0.0.9"] }
        #expect(try h.addresses("two.g.example.com.").isEmpty)
        #expect(try await h.condition("two", .ready)?.status == .false)
    }
}

/// Issue 12: addresses past what one reply holds (a target FQDN resolving to thousands) are not
/// candidates, the table renders exactly the candidates, and the status says what is left out.
@Suite struct RenderableCeilingTests {
    @Test func resolvedAddressesPastTheCeilingAreDroppedAndReported() async throws {
        let many = (0..<2100).map { i in
            ResourceRecord(owner: "pool.g.example.com.", ttl: 60, .a(IPv4Address(value: 0x0A01_0000 + UInt32(i))))
        }
        let zones = try ReconcilerTests.zones(extra: many)
        let store = InMemoryNameServiceStore()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        let reconciler = Reconciler(store: store, holder: holder, zones: zones, logger: Logger(label: "test"))
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        let h = ReconcilerTests.Harness(store: store, holder: holder, reconciler: reconciler, task: task,
                                        responder: QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t")))
        try await h.eventually("first plan") { await reconciler.isReady }
        let ns = NameService(metadata: ObjectMeta(name: "big"),
                             spec: NameServiceSpec(fqdn: "big.g.example.com", targets: [Target(name: "pool", fqdn: "pool.g.example.com")]))
        _ = try await store.put(ns, ifVersion: nil)
        try await h.eventually("Ready") { try await h.condition("big", .ready)?.status == .true }
        let ready = try #require(try await h.condition("big", .ready))
        #expect(ready.message.hasPrefix("2048 address(es) answered by big.g.example.com."), "\(ready.message)")
        #expect(ready.message.contains("52 more address(es) from target FQDNs are not answered"), "\(ready.message)")
        // Over TCP the whole answer; never an empty NOERROR.
        let reply = try #require(h.responder.respond(to: DNSMessage.query("big.g.example.com.", .a).encode(), transport: .tcp))
        let m = try DNSMessage(decoding: reply)
        #expect(m.rcode == .noError && !m.header.tc && m.answers.count == 2048)
    }
}

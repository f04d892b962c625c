import DNSServer
import DNSWire
import DNSZone
import GSLB
import Logging
import NameServiceStore
import NameServiceStoreTesting
import Reconciler
import Testing

/// The reconciler against the in-memory store double: specs become answers, problems become
/// conditions, bursts coalesce, status writes do not loop.
@Suite struct ReconcilerTests {
    static let origin: DNSName = "g.example.com."

    static func zones(extra: [ResourceRecord] = []) throws -> ZoneSet {
        var b = ZoneBuilder(origin: origin)
        try b.add(ResourceRecord(owner: origin, ttl: 3600, .soa(.init(mname: "ns1.g.example.com.", rname: "h.example.com.",
                                                                       serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60))))
        try b.add(ResourceRecord(owner: origin, ttl: 3600, .ns("ns1.g.example.com.")))
        try b.add(ResourceRecord(owner: "ns1.g.example.com.", ttl: 3600, .a(IPv4Address(192, 0, 2, 53))))
        try b.add(ResourceRecord(owner: "www.g.example.com.", ttl: 300, .a(IPv4Address(192, 0, 2, 80))))
        try b.add(ResourceRecord(owner: "sub.g.example.com.", ttl: 300, .ns("ns.elsewhere.net.")))
        try b.add(contentsOf: extra)
        return ZoneSet(zones: [try b.build()])
    }

    static func nameService(_ name: String, fqdn: String, addresses: [String] = ["10.0.0.1", "2001:db8::1"]) -> NameService {
        NameService(metadata: ObjectMeta(name: name),
                    spec: NameServiceSpec(fqdn: fqdn, targets: [Target(name: "t1", addresses: addresses)]))
    }

    struct Harness {
        let store: InMemoryNameServiceStore
        let holder: ServingStateHolder
        let reconciler: Reconciler
        let task: Task<Void, Error>
        let responder: QueryResponder

        /// The A/AAAA addresses answered for `name`, sorted.
        func addresses(_ name: DNSName, _ type: RRType = .a) throws -> [String] {
            try ask(name, type).answers.compactMap { rr in
                switch rr.data {
                case .a(let a): a.description
                case .aaaa(let a): a.description
                default: nil
                }
            }.sorted()
        }

        func ask(_ name: DNSName, _ type: RRType) throws -> DNSMessage {
            guard let reply = responder.respond(to: DNSMessage.query(name, type).encode()) else { throw TestError("dropped") }
            return try DNSMessage(decoding: reply)
        }

        /// Waits until `condition` holds for the served answers / store, bounded at 5 s.
        /// Polls `condition` every 10 ms until it holds; generous, because the whole package's tests
        /// share two cores, and it returns as soon as the condition holds.
        func eventually(_ what: String, within: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + within
            while ContinuousClock.now < deadline {
                if try await condition() { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw TestError("not reached within \(within): \(what)")
        }

        func condition(_ name: String, _ type: ConditionType) async throws -> Condition? {
            try await store.get(name)?.status?.condition(type)
        }
    }

    func withHarness(zones: ZoneSet? = nil, upstream: (any ExternalNameResolver)? = nil,
                     _ body: (Harness) async throws -> Void) async throws {
        let store = InMemoryNameServiceStore()
        let z = try zones ?? Self.zones()
        let holder = ServingStateHolder(ServingState(zones: z, generation: 1))
        let reconciler = Reconciler(store: store, holder: holder, zones: z, logger: Logger(label: "test"),
                                    externalResolver: upstream)
        let task = Task { try await reconciler.run() }
        let responder = QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t"))
        let h = Harness(store: store, holder: holder, reconciler: reconciler, task: task, responder: responder)
        defer { task.cancel() }
        try await h.eventually("first plan") { await reconciler.isReady }
        try await body(h)
    }

    @Test func specBecomesAnswersAndStatus() async throws {
        try await withHarness { h in
            _ = try await h.store.put(Self.nameService("checkout", fqdn: "checkout.g.example.com"), ifVersion: nil)
            try await h.eventually("answer") { try h.ask("checkout.g.example.com.", .a).answers.count == 1 }
            #expect(try h.ask("checkout.g.example.com.", .aaaa).answers.map(\.data) == [.aaaa(IPv6Address("2001:db8::1")!)])
            try await h.eventually("Ready=True") { try await h.condition("checkout", .ready)?.status == .true }
            let status = try await h.store.get("checkout")!.status!
            #expect(status.condition(.accepted)?.reason == .valid)
            #expect(status.condition(.programmed)?.status == .true)
            // Nothing in a status changes by itself (no plan numbers): a restart rewrites nothing.
            #expect(status.condition(.programmed)?.message == "in the served plan: checkout.g.example.com. is answered by this server")
            #expect(status.observedGeneration == 1)
            #expect(status.targets.map(\.address) == ["10.0.0.1", "2001:db8::1"])
        }
    }

    /// What the metrics exporter reads: each published plan with its compile time, and the queue.
    @Test func publicationsAreObservedAndTheQueueDrains() async throws {
        actor Seen {
            var items: [PlanPublication] = []
            func add(_ p: PlanPublication) { items.append(p) }
        }
        try await withHarness { h in
            let seen = Seen()
            await h.reconciler.observePublications { p in Task { await seen.add(p) } }
            _ = try await h.store.put(Self.nameService("checkout", fqdn: "checkout.g.example.com"), ifVersion: nil)
            try await h.eventually("observed") { await seen.items.contains { $0.names == 1 } }
            let p = try #require(await seen.items.last)
            #expect(p.generation == h.holder.generation)
            #expect(p.changed == 1)
            #expect(p.compileDuration > .zero && p.compileDuration < .seconds(5))
            #expect(await h.reconciler.queueDepth == 0)
        }
    }

    @Test func updateAndDeleteShowInAnswers() async throws {
        try await withHarness { h in
            let v1 = try await h.store.put(Self.nameService("api", fqdn: "api.g.example.com", addresses: ["10.0.0.1"]), ifVersion: nil)
            try await h.eventually("v1") { try h.ask("api.g.example.com.", .a).answers.map(\.data) == [.a(IPv4Address(10, 0, 0, 1))] }
            var changed = v1
            changed.spec.targets[0].addresses = ["10.0.0.2", "10.0.0.3"]
            _ = try await h.store.put(changed, ifVersion: nil)
            try await h.eventually("v2") { try h.ask("api.g.example.com.", .a).answers.count == 2 }
            _ = try await h.store.delete("api", ifVersion: nil)
            try await h.eventually("gone") { try h.ask("api.g.example.com.", .a).rcode == .nxDomain }
        }
    }

    @Test(arguments: [
        ("out", "checkout.other.example.", "OutsideZones"),
        ("static", "www.g.example.com", "ClashesWithStaticName"),
        ("apex", "g.example.com", "ClashesWithStaticName"),
        ("delegated", "x.sub.g.example.com", "BelowDelegation"),
    ])
    func placementProblemsAreConditions(_ name: String, _ fqdn: String, _ reason: String) async throws {
        try await withHarness { h in
            _ = try await h.store.put(Self.nameService(name, fqdn: fqdn), ifVersion: nil)
            try await h.eventually("Accepted=False") { try await h.condition(name, .accepted)?.status == .false }
            let accepted = try await h.condition(name, .accepted)!
            #expect(accepted.reason.rawValue == reason)
            #expect(try await h.condition(name, .ready)?.status == .false)
            #expect(try await h.condition(name, .programmed)?.status == .false)
        }
    }

    @Test func theOlderClaimOnAnFQDNWins() async throws {
        try await withHarness { h in
            _ = try await h.store.put(Self.nameService("zeta", fqdn: "shop.g.example.com", addresses: ["10.0.0.1"]), ifVersion: nil)
            try await h.eventually("zeta ready") { try await h.condition("zeta", .ready)?.status == .true }
            _ = try await h.store.put(Self.nameService("alpha", fqdn: "SHOP.g.example.com", addresses: ["10.9.9.9"]), ifVersion: nil)
            try await h.eventually("alpha refused") { try await h.condition("alpha", .accepted)?.status == .false }
            #expect(try await h.condition("alpha", .accepted)?.reason == .clashesWithNameService)
            #expect(try h.ask("shop.g.example.com.", .a).answers.map(\.data) == [.a(IPv4Address(10, 0, 0, 1))])
            // When the owner goes, the other takes over.
            _ = try await h.store.delete("zeta", ifVersion: nil)
            try await h.eventually("alpha serves") { try h.ask("shop.g.example.com.", .a).answers.map(\.data) == [.a(IPv4Address(10, 9, 9, 9))] }
            try await h.eventually("alpha accepted") { try await h.condition("alpha", .accepted)?.status == .true }
        }
    }

    @Test func aBurstIsCoalescedIntoFewPlans() async throws {
        try await withHarness { h in
            let before = h.holder.generation
            for i in 0..<200 {
                _ = try await h.store.put(Self.nameService("n\(i)", fqdn: "n\(i).g.example.com", addresses: ["10.1.0.\(i % 250 + 1)"]), ifVersion: nil)
            }
            try await h.eventually("all served") { h.holder.load().globals.count == 200 }
            // Far fewer plans than writes (each flush takes whatever arrived meanwhile).
            #expect(h.holder.generation - before < 200)
            #expect(try h.ask("n199.g.example.com.", .a).answers.count == 1)
        }
    }

    @Test func statusWritesDoNotLoop() async throws {
        try await withHarness { h in
            _ = try await h.store.put(Self.nameService("quiet", fqdn: "quiet.g.example.com"), ifVersion: nil)
            try await h.eventually("ready") { try await h.condition("quiet", .ready)?.status == .true }
            try await Task.sleep(for: .milliseconds(200))
            let rev = try await h.store.revision()
            let gen = h.holder.generation
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await h.store.revision() == rev)
            #expect(h.holder.generation == gen)
        }
    }

    @Test func newZonesRePlaceEveryName() async throws {
        try await withHarness { h in
            _ = try await h.store.put(Self.nameService("blog", fqdn: "blog.g.example.com"), ifVersion: nil)
            try await h.eventually("served") { try h.ask("blog.g.example.com.", .a).answers.count == 1 }
            // A static record appears at the same name: the NameService steps back, with the reason.
            let z = try Self.zones(extra: [ResourceRecord(owner: "blog.g.example.com.", ttl: 60, .a(IPv4Address(192, 0, 2, 1)))])
            await h.reconciler.setZones(z)
            try await h.eventually("refused") { try await h.condition("blog", .accepted)?.reason == .clashesWithStaticName }
            #expect(try h.ask("blog.g.example.com.", .a).answers.map(\.data) == [.a(IPv4Address(192, 0, 2, 1))])
        }
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

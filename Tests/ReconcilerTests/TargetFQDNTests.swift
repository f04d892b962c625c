import DNSServer
import DNSWire
import DNSZone
import GSLB
import Logging
import NameServiceStore
import Reconciler
import Testing

/// Targets given by `fqdn`: resolved from the zones, from other NameServices, or from upstream
/// results; changes to any of those re-compile the names that refer to them; status says why a
/// target has no address.
@Suite struct TargetFQDNTests {
    /// Records what the reconciler asks the upstream resolvers for.
    actor RecordingResolver: ExternalNameResolver {
        private(set) var names: Set<DNSName> = []
        func setNames(_ names: Set<DNSName>) async { self.names = names }
    }

    static func byName(_ name: String, fqdn: String, targets: [Target], policy: PolicyKind = .roundRobin,
                       allDown: AllDownBehavior = .failOpen) -> NameService {
        NameService(metadata: ObjectMeta(name: name),
                    spec: NameServiceSpec(fqdn: fqdn, policy: policy, allDown: allDown, targets: targets))
    }

    static func zonesWithGateways() throws -> ZoneSet {
        try ReconcilerTests.zones(extra: [
            ResourceRecord(owner: "gw1.g.example.com.", ttl: 300, .a(IPv4Address(192, 0, 2, 101))),
            ResourceRecord(owner: "gw1.g.example.com.", ttl: 300, .aaaa(IPv6Address("2001:db8::101")!)),
            ResourceRecord(owner: "gw-alias.g.example.com.", ttl: 300, .cname("gw1.g.example.com.")),
            ResourceRecord(owner: "txt-only.g.example.com.", ttl: 300, .txt([Array("x".utf8)])),
        ])
    }

    @Test func targetsResolveFromTheZonesFollowingCNAMEs() async throws {
        try await ReconcilerTests().withHarness(zones: try Self.zonesWithGateways()) { h in
            _ = try await h.store.put(Self.byName("svc", fqdn: "svc.g.example.com", targets: [
                Target(name: "direct", fqdn: "gw1.g.example.com"),
                Target(name: "alias", fqdn: "GW-Alias.g.example.com."),
                Target(name: "literal", addresses: ["10.0.0.9"]),
            ]), ifVersion: nil)
            try await h.eventually("answers") { try h.addresses("svc.g.example.com.") == ["10.0.0.9", "192.0.2.101"] }
            #expect(try h.addresses("svc.g.example.com.", .aaaa) == ["2001:db8::101"])
            try await h.eventually("Healthy") { try await h.condition("svc", .healthy)?.reason.rawValue == "SomeTargetsDown" }
            // The alias resolves to the same address as `direct`: it answers once, and the status says so.
            let status = try #require(try await h.store.get("svc")?.status)
            #expect(status.targets.contains { $0.name == "direct" && $0.address == "192.0.2.101" && $0.healthy })
            #expect(status.targets.contains { $0.name == "alias" && !$0.healthy })
        }
    }

    @Test func unresolvableTargetsAreNotCandidatesAndSayWhy() async throws {
        try await ReconcilerTests().withHarness(zones: try Self.zonesWithGateways()) { h in
            _ = try await h.store.put(Self.byName("svc", fqdn: "svc.g.example.com", targets: [
                Target(name: "missing", fqdn: "nope.g.example.com"),
                Target(name: "txt", fqdn: "txt-only.g.example.com"),
                Target(name: "outside", fqdn: "gw.example.net"),
                Target(name: "ok", addresses: ["10.0.0.1"]),
            ]), ifVersion: nil)
            try await h.eventually("answer") { try h.addresses("svc.g.example.com.") == ["10.0.0.1"] }
            try await h.eventually("status") { try await h.condition("svc", .healthy)?.reason.rawValue == "SomeTargetsDown" }
            let status = try #require(try await h.store.get("svc")?.status)
            func error(_ t: String) -> String { status.targets.first { $0.name == t }?.lastError ?? "" }
            #expect(error("missing").contains("no such name in zone g.example.com."))
            #expect(error("txt").contains("no A or AAAA records"))
            #expect(error("outside").contains("no upstream resolvers are configured"))
            let healthy = try #require(status.condition(.healthy))
            #expect(healthy.status == .true && healthy.message.hasPrefix("1/4 targets healthy"))
        }
    }

    @Test func allTargetsUnresolvableIsAllDownWithTheBehaviourInTheMessage() async throws {
        try await ReconcilerTests().withHarness { h in
            _ = try await h.store.put(Self.byName("svc", fqdn: "svc.g.example.com", targets: [
                Target(name: "missing", fqdn: "nope.g.example.com"),
            ], allDown: .failClosed), ifVersion: nil)
            try await h.eventually("status") { try await h.condition("svc", .healthy)?.status == .false }
            let status = try #require(try await h.store.get("svc")?.status)
            #expect(status.condition(.healthy)?.reason.rawValue == "AllTargetsDown")
            #expect(status.condition(.healthy)?.message.contains("FailClosed") == true)
            #expect(status.condition(.ready)?.status == .false)
            let reply = try h.ask("svc.g.example.com.", .a)
            #expect(reply.rcode == .noError && reply.answers.isEmpty, "NODATA, never NXDOMAIN")
        }
    }

    @Test func aTargetNamingAnotherNameServiceFollowsItsChanges() async throws {
        try await ReconcilerTests().withHarness { h in
            _ = try await h.store.put(Self.byName("front", fqdn: "front.g.example.com", targets: [
                Target(name: "pool", fqdn: "pool.g.example.com"),
            ]), ifVersion: nil)
            try await h.eventually("front waits") { try await h.condition("front", .healthy)?.status == .false }
            _ = try await h.store.put(Self.byName("pool", fqdn: "pool.g.example.com", targets: [
                Target(name: "a", addresses: ["10.1.0.1"]), Target(name: "b", addresses: ["10.1.0.2"]),
            ]), ifVersion: nil)
            try await h.eventually("front follows pool") { try h.addresses("front.g.example.com.") == ["10.1.0.1", "10.1.0.2"] }
            var pool = try #require(try await h.store.get("pool"))
            pool.spec.targets[1].addresses = ["10.1.0.3"]
            _ = try await h.store.put(pool, ifVersion: pool.metadata.resourceVersion)
            try await h.eventually("front follows the change") {
                try h.addresses("front.g.example.com.") == ["10.1.0.1", "10.1.0.3"]
            }
            try await h.store.delete("pool", ifVersion: nil)
            try await h.eventually("front loses its addresses") { try h.addresses("front.g.example.com.").isEmpty }
            try await h.eventually("and says why") {
                try await h.store.get("front")?.status?.targets.first?.lastError?.contains("no such name") == true
            }
        }
    }

    @Test func referenceLoopsAreReportedNotFollowedForever() async throws {
        try await ReconcilerTests().withHarness { h in
            _ = try await h.store.put(Self.byName("x", fqdn: "x.g.example.com", targets: [Target(name: "y", fqdn: "y.g.example.com")]), ifVersion: nil)
            _ = try await h.store.put(Self.byName("y", fqdn: "y.g.example.com", targets: [Target(name: "x", fqdn: "x.g.example.com")]), ifVersion: nil)
            try await h.eventually("loop reported") {
                try await h.store.get("x")?.status?.targets.first?.lastError?.contains("loop") == true
            }
        }
    }

    @Test func upstreamNamesAreRequestedAndTheirResultsServed() async throws {
        let upstream = RecordingResolver()
        try await ReconcilerTests().withHarness(upstream: upstream) { h in
            _ = try await h.store.put(Self.byName("svc", fqdn: "svc.g.example.com", targets: [
                Target(name: "ext", fqdn: "Gateway.Example.NET"),
                // Below the delegation at sub.g.example.com: only the delegated servers know it.
                Target(name: "delegated", fqdn: "gw.sub.g.example.com"),
            ]), ifVersion: nil)
            try await h.eventually("names requested") {
                await upstream.names == ["gateway.example.net.", "gw.sub.g.example.com."]
            }
            try await h.eventually("waiting status") {
                try await h.store.get("svc")?.status?.targets.first?.lastError?.contains("waiting for the upstream resolvers") == true
            }
            await h.reconciler.resolved("gateway.example.net.", .success([.v4(IPv4Address(203, 0, 113, 7))]))
            try await h.eventually("served") { try h.addresses("svc.g.example.com.") == ["203.0.113.7"] }
            await h.reconciler.resolved("gateway.example.net.", .success([.v4(IPv4Address(203, 0, 113, 8))]))
            try await h.eventually("address change followed") { try h.addresses("svc.g.example.com.") == ["203.0.113.8"] }
            await h.reconciler.resolved("gw.sub.g.example.com.", .failure(UpstreamFailure("NXDOMAIN from 127.0.0.1:53")))
            try await h.eventually("failure in status") {
                try await h.store.get("svc")?.status?.targets.contains { $0.lastError?.contains("NXDOMAIN from 127.0.0.1:53") == true } == true
            }
            // Dropping the target stops asking for it.
            var svc = try #require(try await h.store.get("svc"))
            svc.spec.targets.removeLast()
            _ = try await h.store.put(svc, ifVersion: nil)
            try await h.eventually("name dropped") { await upstream.names == ["gateway.example.net."] }
        }
    }

    @Test func clientPolicyChangesArePublishedWithTheSamePlan() async throws {
        try await ReconcilerTests().withHarness { h in
            let before = h.holder.load()
            let table = try LocalityTable(entries: [.init(cidr: "10.0.0.0/8", locality: "us-west")])
            await h.reconciler.setClientPolicy(ClientMapping(table: table, defaultLocality: nil), explainAllow: .loopback)
            let after = h.holder.load()
            #expect(after.generation > before.generation)
            #expect(after.clients.table.count == 1)
            #expect(after.globals.shards.count == before.globals.shards.count)
            #expect(zip(after.globals.shards, before.globals.shards).allSatisfy { $0 === $1 }, "the same shards, not rebuilt")
        }
    }
}

extension TargetFQDNTests {
    @Test func anInvalidNameServiceLendsNoAddresses() async throws {
        try await ReconcilerTests().withHarness { h in
            _ = try await h.store.put(Self.byName("front", fqdn: "front.g.example.com", targets: [
                Target(name: "pool", fqdn: "pool.g.example.com"),
            ]), ifVersion: nil)
            // Stored but invalid (ttl out of range): not served, so not a source of addresses either.
            var pool = Self.byName("pool", fqdn: "pool.g.example.com", targets: [Target(name: "a", addresses: ["10.1.0.1"])])
            pool.spec.ttl = -1
            _ = try await h.store.put(pool, ifVersion: nil)
            try await h.eventually("pool refused") { try await h.condition("pool", .accepted)?.status == .false }
            try await h.eventually("front has nothing") {
                try await h.store.get("front")?.status?.targets.first?.lastError?.contains("no such name") == true
            }
            #expect(try h.ask("front.g.example.com.", .a).answers.isEmpty)
        }
    }
}

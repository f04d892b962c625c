import DNSWire
import DNSZone
import GSLB
import NameServiceStore
import Plan
@testable import Reconciler
import Testing

/// The plan compiler as a pure value: specs, zones, verdicts, upstream answers and the time in;
/// served names, conditions and probe sets out. No store, no tasks, no polling.
@Suite struct PlanCompilerTests {
    static let t0 = WallTime(secondsSinceEpoch: 1_800_000_000)

    static func ns(_ name: String, fqdn: String, addresses: [String] = ["10.0.0.1"], generation: Int64 = 1,
                   targets: [Target]? = nil, healthCheck: HealthCheckSpec? = nil, drains: [TargetDrain] = [],
                   status: NameServiceStatus? = nil) -> NameService {
        var object = NameService(metadata: ObjectMeta(name: name),
                                 spec: NameServiceSpec(fqdn: fqdn, healthCheck: healthCheck,
                                                       targets: targets ?? [Target(name: "t1", addresses: addresses)]))
        object.metadata.generation = generation
        object.drains = drains
        object.status = status
        return object
    }

    static func compile(_ c: inout PlanCompiler, now: WallTime) -> Compiled {
        let out = c.compile(now: now)
        let statuses = c.takeStatuses(now: now)
        #expect(statuses.count >= out.statusesChanged, "the backlog holds at least what this compile changed")
        return Compiled(output: out, statuses: statuses)
    }

    static func compiler(upstream: Bool = false) throws -> PlanCompiler {
        var settings = PlanCompiler.Settings()
        settings.upstreamConfigured = upstream
        return PlanCompiler(zones: try ReconcilerTests.zones(), settings: settings)
    }

    /// The A and AAAA records the served table holds for `name` (nil: not served).
    static func served(_ out: Compiled, _ name: DNSName) -> [String]? {
        guard let (shard, i) = out.globals.lookup(name), i < shard.table.count else { return nil }
        let e = shard.table.entry(at: i)
        return e.ipv4.map(\.description) + e.ipv6.map(\.description)
    }

    static func condition(_ out: Compiled, _ name: String, _ type: ConditionType) -> Condition? {
        out.statuses.first { $0.name == name }?.status.condition(type)
    }

    /// One compile and every status it wants written.
    struct Compiled {
        var output: PlanCompiler.Output
        var statuses: [StatusUpdate]
        var globals: GlobalNames { output.globals }
        var compiled: Int { output.compiled }
        var shardsRebuilt: Int { output.shardsRebuilt }
        var probesAdded: Set<HealthKey> { output.probesAdded }
        var probesWanted: Set<HealthKey> { output.probesWanted }
        var externalNames: Set<DNSName>? { output.externalNames }
        var nextDrainExpiry: WallTime? { output.nextDrainExpiry }
        var expiredDrains: [String] { output.expiredDrains }
    }

    struct Placement: CustomTestStringConvertible, Sendable {
        var fqdn: String
        var accepted: ConditionStatus
        var reason: String
        var served: Bool
        var testDescription: String { "\(fqdn) → \(reason)" }
    }

    @Test("where a spec's FQDN lands decides Accepted, Programmed and Ready", arguments: [
        Placement(fqdn: "checkout.g.example.com", accepted: .true, reason: "Valid", served: true),
        Placement(fqdn: "deep.er.g.example.com", accepted: .true, reason: "Valid", served: true),
        Placement(fqdn: "checkout.elsewhere.net", accepted: .false, reason: "OutsideZones", served: false),
        Placement(fqdn: "g.example.com", accepted: .false, reason: "ClashesWithStaticName", served: false),
        Placement(fqdn: "www.g.example.com", accepted: .false, reason: "ClashesWithStaticName", served: false),
        Placement(fqdn: "x.sub.g.example.com", accepted: .false, reason: "BelowDelegation", served: false),
        Placement(fqdn: "bad..name", accepted: .false, reason: "InvalidSpec", served: false),
    ])
    func placement(_ row: Placement) throws {
        var c = try Self.compiler()
        c.upsert(Self.ns("n", fqdn: row.fqdn), revision: 1)
        let out = Self.compile(&c, now: Self.t0)
        let accepted = try #require(Self.condition(out, "n", .accepted))
        #expect(accepted.status == row.accepted)
        #expect(accepted.reason.rawValue == row.reason, "\(accepted.message)")
        #expect(Self.condition(out, "n", .programmed)?.status == (row.served ? .true : .false))
        #expect(Self.condition(out, "n", .ready)?.status == (row.served ? .true : .false))
        if row.served, let name = try? DNSName(row.fqdn) {
            #expect(Self.served(out, name) == ["10.0.0.1"])
        }
        #expect(out.globals.count == (row.served ? 1 : 0))
    }

    @Test func theOlderClaimKeepsAnFQDNAndTheNextOneGetsItWhenItGoes() throws {
        var c = try Self.compiler()
        c.upsert(Self.ns("first", fqdn: "app.g.example.com", addresses: ["10.0.0.1"]), revision: 5)
        c.upsert(Self.ns("second", fqdn: "App.G.Example.Com.", addresses: ["10.0.0.2"]), revision: 7)
        var out = Self.compile(&c, now: Self.t0)
        #expect(Self.served(out, "app.g.example.com.") == ["10.0.0.1"])
        #expect(Self.condition(out, "second", .accepted)?.reason == .clashesWithNameService)
        c.remove("first")
        out = Self.compile(&c, now: Self.t0)
        #expect(Self.served(out, "app.g.example.com.") == ["10.0.0.2"])
        #expect(Self.condition(out, "second", .ready)?.status == .true)
        #expect(out.globals.count == 1)
    }

    /// After a restart the list arrives in name order with modification revisions: the stored
    /// creation revision decides, so `zeta` (created first) keeps the name it held before.
    @Test func claimsFollowTheStoredCreationRevisionNotTheOrderSeen() throws {
        var zeta = Self.ns("zeta", fqdn: "app.g.example.com", addresses: ["10.0.0.9"])
        zeta.metadata.creationRevision = 3
        var alpha = Self.ns("alpha", fqdn: "app.g.example.com", addresses: ["10.0.0.1"])
        alpha.metadata.creationRevision = 4
        for order in [[alpha, zeta], [zeta, alpha]] {
            var c = try Self.compiler()
            // mod revisions as a relist sees them: alpha's status was written after zeta's
            for (i, object) in order.enumerated() { c.upsert(object, revision: Int64(100 - i)) }
            let out = Self.compile(&c, now: Self.t0)
            #expect(Self.served(out, "app.g.example.com.") == ["10.0.0.9"])
            let clash = Self.condition(out, "alpha", .accepted)
            #expect(clash?.reason == .clashesWithNameService)
            #expect(clash?.message.contains("zeta (the older claim: created at store revision 3)") == true, "\(clash?.message ?? "")")
            #expect(Self.condition(out, "zeta", .ready)?.status == .true)
        }
        // a later update of the newer claim (its creation revision unchanged) takes nothing
        var c = try Self.compiler()
        c.upsert(zeta, revision: 3)
        c.upsert(alpha, revision: 4)
        _ = Self.compile(&c, now: Self.t0)
        alpha.metadata.generation = 2
        alpha.spec.ttl = 60
        c.upsert(alpha, revision: 9)
        #expect(Self.served(Self.compile(&c, now: Self.t0), "app.g.example.com.") == ["10.0.0.9"])
    }

    @Test func aNameBelowAnotherLevelMakesEmptyNonTerminalsThatGoWithIt() throws {
        var c = try Self.compiler()
        c.upsert(Self.ns("deep", fqdn: "a.b.c.g.example.com"), revision: 1)
        var out = Self.compile(&c, now: Self.t0)
        for ent: DNSName in ["b.c.g.example.com.", "c.g.example.com."] {
            let (shard, i) = try #require(out.globals.lookup(ent))
            #expect(shard.table.rendered(i).isEmptyNonTerminal)
        }
        // Another name under the same non-terminal, then the first one leaves: it stays.
        c.upsert(Self.ns("other", fqdn: "x.c.g.example.com"), revision: 2)
        _ = Self.compile(&c, now: Self.t0)
        c.remove("deep")
        out = Self.compile(&c, now: Self.t0)
        #expect(out.globals.lookup("b.c.g.example.com.") == nil)
        #expect(out.globals.lookup("c.g.example.com.") != nil)
        c.remove("other")
        out = Self.compile(&c, now: Self.t0)
        #expect(out.globals.lookup("c.g.example.com.") == nil)
        #expect(out.globals.shards.allSatisfy { $0.table.slotCount == 0 })
    }

    @Test func aChangeToOneOfManyNamesRebuildsOneShardAndDecidesOneName() throws {
        var c = try Self.compiler()
        for i in 0..<2100 { c.upsert(Self.ns("n\(i)", fqdn: "n\(i).g.example.com", addresses: ["10.1.\(i / 256).\(i % 256)"]), revision: Int64(i + 1)) }
        let first = Self.compile(&c, now: Self.t0)
        #expect(first.globals.count == 2100)
        #expect(first.compiled == 2100, "decided on every core (over parallelDecideThreshold)")
        #expect(first.globals.shards.count == GlobalNames.shardCount(forNames: 2100))
        c.upsert(Self.ns("n42", fqdn: "n42.g.example.com", addresses: ["10.9.9.9"], generation: 2), revision: 6000)
        let second = Self.compile(&c, now: Self.t0)
        #expect(second.compiled == 1)
        #expect(second.shardsRebuilt == 1)
        #expect(Self.served(second, "n42.g.example.com.") == ["10.9.9.9"])
        let changed = zip(first.globals.shards, second.globals.shards).filter { $0 !== $1 }.count
        #expect(changed == 1, "every other shard is shared with the previous plan")
        #expect(second.statuses.map(\.name) == ["n42"])
        // Every name still answers.
        for i in stride(from: 0, to: 2100, by: 97) where i != 42 {
            #expect(Self.served(second, try DNSName("n\(i).g.example.com.")) == ["10.1.\(i / 256).\(i % 256)"])
        }
    }

    @Test func growingPastTheShardCountReshardsAndKeepsEveryName() throws {
        var c = try Self.compiler()
        c.upsert(Self.ns("n0", fqdn: "n0.g.example.com"), revision: 1)
        #expect(Self.compile(&c, now: Self.t0).globals.shards.count == 1)
        for i in 1..<800 { c.upsert(Self.ns("n\(i)", fqdn: "n\(i).g.example.com"), revision: Int64(i + 1)) }
        let out = Self.compile(&c, now: Self.t0)
        #expect(out.globals.shards.count == GlobalNames.shardCount(forNames: 800))
        #expect(out.globals.count == 800)
        for i in 0..<800 { #expect(Self.served(out, try DNSName("n\(i).g.example.com.")) != nil) }
    }

    @Test func startUpCompilesPageByPageAndBuildsTheTableOnce() throws {
        var c = try Self.compiler()
        for page in 0..<3 {
            for i in (page * 500)..<((page + 1) * 500) { c.upsert(Self.ns("n\(i)", fqdn: "n\(i).g.example.com"), revision: Int64(i + 1)) }
            if page == 1 { c.remove("n3") }
            let staged = c.compile(now: Self.t0, buildTable: false)
            #expect(!staged.globalsChanged && staged.globals.count == 0, "nothing built before the list is whole")
            #expect(c.hasStagedTable)
        }
        let out = Self.compile(&c, now: Self.t0)
        #expect(out.output.globalsChanged)
        #expect(out.globals.count == 1499)
        #expect(out.globals.shards.count == GlobalNames.shardCount(forNames: 1499))
        #expect(Self.served(out, "n3.g.example.com.") == nil)
        #expect(Self.served(out, "n1234.g.example.com.") == ["10.0.0.1"])
        #expect(!c.hasStagedTable)
    }

    @Test func aRestartedCompilerWritesNoStatusThatIsAlreadyStored() throws {
        var c = try Self.compiler()
        let specs = (0..<50).map { Self.ns("n\($0)", fqdn: $0 == 7 ? "www.g.example.com" : "n\($0).g.example.com") }
        for (i, s) in specs.enumerated() { c.upsert(s, revision: Int64(i + 1)) }
        let out = Self.compile(&c, now: Self.t0)
        #expect(out.statuses.count == 50)
        // What the store holds after those writes, read back by a new process an hour later.
        let stored = Dictionary(uniqueKeysWithValues: out.statuses.map { ($0.name, $0.status) })
        var restarted = try Self.compiler()
        for (i, s) in specs.enumerated() {
            var s = s
            s.status = stored[s.metadata.name]
            restarted.upsert(s, revision: Int64(i + 1))
        }
        let again = Self.compile(&restarted, now: Self.t0 + .seconds(3600))
        #expect(again.statuses.isEmpty, "\(again.statuses.map(\.name))")
        #expect(again.globals.count == 49)
        // Our own status write coming back through the watch is no work at all.
        var echo = specs[3]
        echo.status = stored["n3"]
        let echoChanged = restarted.upsert(echo, revision: 99)
        #expect(!echoChanged)
        #expect(!restarted.hasWork)
    }

    @Test func aConditionKeepsItsTransitionTimeWhileItsStatusHolds() throws {
        var c = try Self.compiler()
        let check = HealthCheckSpec(port: 8080)
        c.upsert(Self.ns("n", fqdn: "n.g.example.com", targets: [Target(name: "a", addresses: ["127.0.0.1"]),
                                                                Target(name: "b", addresses: ["127.0.0.2"])],
                         healthCheck: check), revision: 1)
        let out = Self.compile(&c, now: Self.t0)
        let since = try #require(Self.condition(out, "n", .healthy)).lastTransitionTime
        #expect(since == Self.t0.rfc3339)
        #expect(out.probesAdded.count == 2)
        let key = HealthKey(address: IPAddress("127.0.0.2")!, port: 8080, check: check.resolved(.standard))
        #expect(out.probesWanted.contains(key))
        // One target down: still Healthy=True (the time holds), reason and answers change.
        let changed = c.setHealth(key, HealthReport(healthy: false, lastError: "connection refused"))
        #expect(changed)
        let down = Self.compile(&c, now: Self.t0 + .seconds(60))
        let healthy = try #require(Self.condition(down, "n", .healthy))
        #expect(healthy.reason.rawValue == "SomeTargetsDown")
        #expect(healthy.lastTransitionTime == since)
        #expect(healthy.message.contains("127.0.0.2: connection refused"))
        #expect(Self.served(down, "n.g.example.com.") == ["127.0.0.1", "127.0.0.2"], "rendered: every address; the plan picks")
        // The same verdict again is no work.
        let again = c.setHealth(key, HealthReport(healthy: false, lastError: "connection refused"))
        #expect(!again)
        #expect(!c.hasWork)
    }

    @Test func aTargetFQDNOutsideTheZonesIsAskedUpstreamAndFollowed() throws {
        var c = try Self.compiler(upstream: true)
        c.upsert(Self.ns("n", fqdn: "n.g.example.com", targets: [Target(name: "ext", fqdn: "lb.example.net")]), revision: 1)
        var out = Self.compile(&c, now: Self.t0)
        #expect(out.externalNames == ["lb.example.net."])
        #expect(Self.condition(out, "n", .ready)?.status == .false)
        let answered = c.setUpstream("LB.example.net.", .success([IPAddress("192.0.2.44")!]))
        #expect(answered)
        out = Self.compile(&c, now: Self.t0)
        #expect(Self.served(out, "n.g.example.com.") == ["192.0.2.44"])
        #expect(out.externalNames == nil, "the set did not change")
        c.remove("n")
        out = Self.compile(&c, now: Self.t0)
        #expect(out.externalNames == [])
    }

    @Test func aTargetNamingAnotherNameServiceFollowsItsChanges() throws {
        var c = try Self.compiler()
        c.upsert(Self.ns("front", fqdn: "front.g.example.com", targets: [Target(name: "via", fqdn: "back.g.example.com")]), revision: 1)
        c.upsert(Self.ns("back", fqdn: "back.g.example.com", addresses: ["10.0.0.7"]), revision: 2)
        var out = Self.compile(&c, now: Self.t0)
        #expect(Self.served(out, "front.g.example.com.") == ["10.0.0.7"])
        c.upsert(Self.ns("back", fqdn: "back.g.example.com", addresses: ["10.0.0.8"], generation: 2), revision: 3)
        out = Self.compile(&c, now: Self.t0)
        #expect(out.compiled == 2, "back and, through the reverse index, front")
        #expect(Self.served(out, "front.g.example.com.") == ["10.0.0.8"])
    }

    @Test func aDrainTakesATargetOutUntilItExpires() throws {
        var c = try Self.compiler()
        let until = Self.t0 + .seconds(30)
        let drain = TargetDrain(target: "a", reason: "maintenance", by: "alice", since: Self.t0, until: until)
        c.upsert(Self.ns("n", fqdn: "n.g.example.com", targets: [Target(name: "a", addresses: ["10.0.0.1"]),
                                                                Target(name: "b", addresses: ["10.0.0.2"])],
                         drains: [drain]), revision: 1)
        var out = Self.compile(&c, now: Self.t0)
        #expect(out.nextDrainExpiry == until)
        #expect(Self.condition(out, "n", .healthy)?.reason.rawValue == "SomeTargetsDrained")
        c.drainsDue(now: Self.t0 + .seconds(10))
        #expect(!c.hasWork, "not due yet")
        c.drainsDue(now: until)
        out = Self.compile(&c, now: until)
        #expect(out.expiredDrains == ["n"])
        #expect(Self.condition(out, "n", .healthy)?.reason.rawValue == "AllTargetsHealthy")
        #expect(out.nextDrainExpiry == nil)
    }

    @Test func newZonesPlaceEveryNameAgain() throws {
        var c = try Self.compiler()
        c.upsert(Self.ns("n", fqdn: "api.g.example.com"), revision: 1)
        _ = Self.compile(&c, now: Self.t0)
        let clash = ResourceRecord(owner: "api.g.example.com.", ttl: 300, .a(IPv4Address(192, 0, 2, 9)))
        c.setZones(try ReconcilerTests.zones(extra: [clash]))
        let out = Self.compile(&c, now: Self.t0)
        #expect(Self.condition(out, "n", .accepted)?.reason == .clashesWithStaticName)
        #expect(out.globals.count == 0)
    }
}

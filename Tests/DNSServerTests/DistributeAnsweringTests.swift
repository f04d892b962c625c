import DNSServer
import DNSWire
import DNSZone
import GSLB
import Testing

/// Issue 15 through the real responder: a `distribute` name compiled as the reconciler compiles it,
/// its split over 100,000 queries for clients found by ECS and by packet source, one bucket per
/// reply, the ECS scope, clients no rule matches, a drained bucket, and the explain answer.
// One case at a time: each is 100,000 queries of CPU, and many at once starve the suites that
// wait for a reconciler on the test pool's two threads.
@Suite(.serialized) struct DistributeAnsweringTests {
    /// us-west (two targets, two zones), us-east (one), eu-central (one).
    static let dist: NameServiceSpec = {
        var s = NameServiceSpec(
            fqdn: "dist.example.com.", ttl: 5, policy: .locality,
            targets: [
                Target(name: "w1a", addresses: ["192.0.2.71", "2001:db8::71"], locality: "us-west/us-west-1a"),
                Target(name: "w1b", addresses: ["192.0.2.72"], locality: "us-west/us-west-1b"),
                Target(name: "e1a", addresses: ["192.0.2.81", "2001:db8::81"], locality: "us-east/us-east-1a"),
                Target(name: "eu", addresses: ["192.0.2.91"], locality: "eu-central/eu-central-1a"),
            ])
        s.distribute = [
            DistributeRule(from: "us-west/*", to: ["us-west/*": 99, "us-east/*": 1]),
            DistributeRule(from: "us-east/*", to: ["us-east/*": 70, "us-west/*": 20, "eu-central/*": 10]),
        ]
        return s
    }()

    /// Which bucket (region) an address is in.
    static let region: [String: String] = [
        "192.0.2.71": "us-west", "192.0.2.72": "us-west", "192.0.2.81": "us-east", "192.0.2.91": "eu-central",
    ]

    static func responder(_ spec: NameServiceSpec = dist, healthy: @escaping (String) -> Bool = { _ in true },
                          seed: UInt64 = 42) throws -> QueryResponder {
        let plan = try #require(NamePlan(spec: spec, isHealthy: { t, _ in healthy(t) }))
        return try GSLBAnsweringTests.responder([], extra: [(spec, plan)], seed: seed)
    }

    @Test(arguments: [
        // (client by ECS or by packet source, expected share per region)
        ("ecs 10.10.1.0/24 (us-west/us-west-1a/rack1)", "10.10.1.0/24", "127.0.0.1", ["us-west": 0.99, "us-east": 0.01]),
        ("source 127.0.0.4 (us-west/us-west-1b)", nil, "127.0.0.4", ["us-west": 0.99, "us-east": 0.01]),
        ("ecs 10.20.1.0/24 (us-east/us-east-1a)", "10.20.1.0/24", "127.0.0.1", ["us-east": 0.70, "us-west": 0.20, "eu-central": 0.10]),
        ("source 127.0.0.2 (us-east/us-east-1a)", nil, "127.0.0.2", ["us-east": 0.70, "us-west": 0.20, "eu-central": 0.10]),
    ] as [(String, String?, String, [String: Double])])
    func sharesOver100kQueries(_ name: String, _ ecs: String?, _ source: String, _ shares: [String: Double]) async throws {
        let r = try Self.responder()
        var counts: [String: Int] = [:]
        let n = 100_000
        for i in 0..<n {
            if i % 1000 == 999 { await Task.yield() }  // CPU-bound: leave the shared test threads to others
            let reply = try GSLBAnsweringTests.ask(r, "dist.example.com.", ecs: ecs, source: source)
            let regions = Set(reply.addresses.map { Self.region[$0] ?? "?" })
            guard regions.count == 1, let only = regions.first else {
                Issue.record("a reply must carry one bucket: \(reply.addresses)")
                return
            }
            counts[only, default: 0] += 1
            // Locality's scope rule, unchanged: the matched /16, or 17 where 10.20.128.0/17 sits inside it.
            if i == 0, let ecs { #expect(reply.ecs?.scopePrefix == (ecs.hasPrefix("10.20.") ? 17 : 16)) }
        }
        #expect(counts.keys.allSatisfy { shares[$0] != nil }, "\(counts)")
        for (region, share) in shares {
            let got = Double(counts[region, default: 0]) / Double(n)
            #expect(abs(got - share) < 0.01, "\(name): \(region) \(got) vs \(share)")
        }
    }

    @Test func aClientNoRuleMatchesGetsItsOwnLocalityOnly() throws {
        let r = try Self.responder()
        for _ in 0..<200 {
            #expect(try GSLBAnsweringTests.ask(r, "dist.example.com.", source: "127.0.0.3").addresses == ["192.0.2.91"])
        }
    }

    @Test func aDrainedLocalBucketSendsEverythingRemote() throws {
        let r = try Self.responder(healthy: { !$0.hasPrefix("w") })
        for _ in 0..<200 {
            #expect(try GSLBAnsweringTests.ask(r, "dist.example.com.", ecs: "10.10.1.0/24").addresses == ["192.0.2.81"])
        }
    }

    @Test func theFallbackAnswersWhenEverythingIsDown() throws {
        var spec = Self.dist
        spec.allDown = .fallback
        spec.fallback = FallbackSpec(addresses: ["192.0.2.99"])
        let r = try Self.responder(spec, healthy: { _ in false })
        #expect(try GSLBAnsweringTests.ask(r, "dist.example.com.", ecs: "10.10.1.0/24").addresses == ["192.0.2.99"])
        let aaaa = try GSLBAnsweringTests.ask(r, "dist.example.com.", .aaaa, ecs: "10.10.1.0/24")
        #expect(aaaa.message.rcode == .noError && aaaa.addresses.isEmpty, "no fallback address of the family: NODATA")
    }

    @Test func explainShowsTheRuleTheBucketsAndTheDraw() throws {
        let r = try Self.responder(healthy: { $0 != "w1a" })
        let reply = try GSLBAnsweringTests.ask(r, "dist.example.com.", .txt, ecs: "10.10.0.0/16", qclass: .ch)
        let a = try #require(reply.message.answers.first.flatMap { rr -> [String]? in
            guard case .txt(let s) = rr.data else { return nil }
            return s.map { String(decoding: $0, as: UTF8.self) }
        })
        #expect(a.contains("tier=distribute[0]"))
        #expect(a.contains("distribute=spec.distribute[0] from=us-west/*"))
        // us-west: 2 targets, 1 up: 99 × min(1, 1.4 × 0.5) = 69.3 against 1.
        #expect(a.contains("bucket=us-west/* weight=99 healthy=1/2 effective=69.3 share=98.6%"))
        #expect(a.contains("bucket=us-east/* weight=1 healthy=1/1 effective=1 share=1.4%"))
        #expect(a.contains { $0.hasPrefix("drawn=us-") })
    }
}

import DNSWire
@testable import GSLB
import Testing

@Suite("Policies")
struct PolicyTests {
    // MARK: RoundRobin

    static let three = candidates([
        target("a", up: ["192.0.2.1", "192.0.2.2", "2001:db8::1"]),
        target("b", up: ["192.0.2.3"], down: ["192.0.2.4"]),
        target("c", down: ["192.0.2.5"]),
        target("v6only", up: ["2001:db8::9"]),
    ])

    @Test(arguments: [
        (0, nil, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
        (1, nil, ["192.0.2.2", "192.0.2.3", "192.0.2.1"]),
        (2, nil, ["192.0.2.3", "192.0.2.1", "192.0.2.2"]),
        (3, nil, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
        (1, 2, ["192.0.2.2", "192.0.2.3"]),
        (2, 1, ["192.0.2.3"]),
        (UInt64.max, 5, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]),  // UInt64.max % 3 == 0
    ] as [(UInt64, Int?, [String])])
    func roundRobinRotatesHealthyAddresses(_ rotation: UInt64, _ maxAnswers: Int?, _ expected: [String]) {
        let (d, answers) = run(RoundRobinPolicy(maxAnswers: maxAnswers), Self.three, rotation: rotation)
        #expect(answers == expected)
        #expect(d == PolicyDecision(policy: .roundRobin, tier: .all, healthyTargets: 2, totalTargets: 3, mode: .healthy,
                                    ecsScopePrefixLength: 0, answerCount: expected.count))
    }

    @Test func roundRobinServesIPv6FromTheSameSpec() {
        let v6 = candidates([target("a", up: ["192.0.2.1", "2001:db8::1"]), target("b", up: ["2001:db8::2"]),
                             target("c", up: ["192.0.2.9"])], family: .ipv6)
        #expect(v6.targets.map(\.name) == ["a", "b"])
        #expect(run(RoundRobinPolicy(), v6, rotation: 1).1 == ["2001:db8::2", "2001:db8::1"])
    }

    @Test func noAddressOfTheFamilyIsNoDataNotAnOutage() {
        let v6 = candidates([target("a", up: ["192.0.2.1"])], family: .ipv6, allDown: .failClosed)
        #expect(v6.mode == .healthy)
        for policy in [RoundRobinPolicy() as any AnswerPolicy, RatioPolicy(), LocalityPolicy()] {
            let (d, answers) = run(policy, v6, client: client("r"))
            #expect(answers == [])
            #expect(d.tier == .none)
            #expect(d.totalTargets == 0)
        }
    }

    /// Output storage the caller sizes smaller than the answer: the pick truncates, never overruns.
    @Test func picksNeverWritePastTheOutputBuffer() {
        let c = candidates([target("a", "r/z", up: ["192.0.2.1", "192.0.2.2", "192.0.2.3"]), target("b", "r/z", up: ["192.0.2.4"])])
        for policy in [RoundRobinPolicy() as any AnswerPolicy, RatioPolicy(), RatioPolicy(maxAnswers: 4), LocalityPolicy()] {
            for capacity in 0...2 {
                let (d, answers) = run(policy, c, client: client("r/z"), capacity: capacity)
                #expect(answers.count == min(capacity, d.answerCount))
                #expect(d.answerCount <= capacity)
            }
        }
    }

    // MARK: all targets down

    static let allDown = [target("a", "r/z", ratio: 3, down: ["192.0.2.1"]), target("b", "q", ratio: 0, down: ["192.0.2.2", "192.0.2.3"])]

    @Test func failOpenAnswersAsIfAllWereHealthy() {
        let c = candidates(Self.allDown, allDown: .failOpen)
        #expect(c.mode == .allDownFailOpen)
        let rr = run(RoundRobinPolicy(), c)
        #expect(rr.1 == ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
        #expect(rr.0 == PolicyDecision(policy: .roundRobin, tier: .all, healthyTargets: 0, totalTargets: 2,
                                       mode: .allDownFailOpen, ecsScopePrefixLength: 0, answerCount: 3))
        // Ratio: the weighted target, as if healthy (the standby stays a standby).
        let ratio = run(RatioPolicy(), c)
        #expect(ratio.1 == ["192.0.2.1"])
        #expect(ratio.0.tier == .weighted)
        #expect(ratio.0.mode == .allDownFailOpen)
        // Locality: still the nearest tier.
        let near = run(LocalityPolicy(), c, client: client("r/z/s", scope: 20))
        #expect(near.1 == ["192.0.2.1"])
        #expect(near.0.tier == .sameZone)
        #expect(near.0.ecsScopePrefixLength == 20)
    }

    @Test func failClosedAnswersNothingAndSaysSo() {
        let c = candidates(Self.allDown, allDown: .failClosed)
        #expect(c.mode == .allDownFailClosed)
        for policy in [RoundRobinPolicy() as any AnswerPolicy, RatioPolicy(), RatioPolicy(maxAnswers: 2), LocalityPolicy()] {
            let (d, answers) = run(policy, c, client: client("r/z", scope: 16))
            #expect(answers == [])
            #expect(d == PolicyDecision(policy: policy.kind, tier: .none, healthyTargets: 0, totalTargets: 2,
                                        mode: .allDownFailClosed, ecsScopePrefixLength: 0, answerCount: 0))
        }
    }

    @Test func oneHealthyTargetIsNotAllDown() {
        var inputs = Self.allDown
        inputs[1] = target("b", "q", ratio: 0, up: ["192.0.2.2"], down: ["192.0.2.3"])
        let c = candidates(inputs, allDown: .failClosed)
        #expect(c.mode == .healthy)
        #expect(run(RoundRobinPolicy(), c).1 == ["192.0.2.2"])
    }

    // MARK: Ratio

    @Test func ratioCarriesAllAddressesOfTheDrawnTarget() {
        let c = candidates([target("a", ratio: 1, up: ["192.0.2.1", "192.0.2.2"]), target("b", ratio: 1, up: ["192.0.2.3"])])
        var rng = SplitMix64(seed: 7)
        var seen: Set<[String]> = []
        for rotation in 0..<200 as Range<UInt64> {
            let (d, answers) = run(RatioPolicy(), c, rotation: rotation, random: &rng)
            #expect(d.tier == .weighted)
            #expect(d.answerCount == answers.count)
            seen.insert(answers)
        }
        // Target a's two addresses rotate; never mixed with b.
        #expect(seen == [["192.0.2.1", "192.0.2.2"], ["192.0.2.2", "192.0.2.1"], ["192.0.2.3"]])
    }

    @Test func ratioStandbyOnlyWhenEveryWeightedTargetIsDown() {
        let up = candidates([target("a", ratio: 5, up: ["192.0.2.1"]), target("s", ratio: 0, up: ["192.0.2.9"])])
        var rng = SplitMix64(seed: 3)
        for _ in 0..<500 {
            #expect(run(RatioPolicy(), up, random: &rng).1 == ["192.0.2.1"])
        }
        let weightedDown = candidates([target("a", ratio: 5, down: ["192.0.2.1"]), target("s", ratio: 0, up: ["192.0.2.9"]),
                                       target("t", ratio: 0, up: ["192.0.2.10"])])
        var counts: [String: Int] = [:]
        for _ in 0..<2000 {
            let (d, answers) = run(RatioPolicy(), weightedDown, random: &rng)
            #expect(d.tier == .standby)
            #expect(d.healthyTargets == 2)
            counts[answers.joined(), default: 0] += 1
        }
        // Standbys share evenly.
        #expect(Set(counts.keys) == ["192.0.2.9", "192.0.2.10"])
        #expect(abs(counts["192.0.2.9", default: 0] - 1000) < 150)
    }

    @Test func ratioWithMaxAnswersDrawsDistinctTargets() async {
        let c = candidates([
            target("a", ratio: 70, up: ["192.0.2.1"]), target("b", ratio: 20, up: ["192.0.2.2"]),
            target("c", ratio: 10, up: ["192.0.2.3"]), target("s", ratio: 0, up: ["192.0.2.9"]),
        ])
        var rng = SplitMix64(seed: 11)
        var firstA = 0
        let n = 20_000
        for i in 0..<n {
            if i % 1000 == 999 { await Task.yield() }  // CPU-bound: leave the shared test threads to others
            let (d, answers) = run(RatioPolicy(maxAnswers: 2), c, random: &rng)
            #expect(answers.count == 2)
            #expect(Set(answers).count == 2, "targets are drawn without replacement")
            #expect(!answers.contains("192.0.2.9"), "a standby never joins while weighted targets are up")
            #expect(d.tier == .weighted)
            if answers[0] == "192.0.2.1" { firstA += 1 }
        }
        #expect(abs(Double(firstA) / Double(n) - 0.70) < 0.015, "the first answer keeps the configured split")
        // More than there are weighted targets: all of them, each once.
        let all = run(RatioPolicy(maxAnswers: 10), c, seed: 5).1
        #expect(all.sorted() == ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    }

    @Test func ratioMaxAnswersFillsFromMultiAddressTargets() {
        let c = candidates([target("a", ratio: 1, up: ["192.0.2.1", "192.0.2.2", "192.0.2.3"])])
        #expect(run(RatioPolicy(maxAnswers: 2), c, rotation: 1).1 == ["192.0.2.2", "192.0.2.3"])
        #expect(run(RatioPolicy(maxAnswers: 5), c, rotation: 0).1 == ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    }

    @Test func ratioSkipsUnhealthyAddressesOfAHealthyTarget() {
        let c = candidates([target("a", ratio: 1, up: ["192.0.2.1"], down: ["192.0.2.2"])])
        #expect(run(RatioPolicy(), c).1 == ["192.0.2.1"])
    }

    @Test func ratioIsReproducibleForASeed() {
        let c = candidates((0..<5).map { target("t\($0)", ratio: $0 + 1, up: ["192.0.2.\($0 + 1)"]) })
        func sequence(_ seed: UInt64) -> [String] {
            var rng = SplitMix64(seed: seed)
            return (0..<50).map { _ in run(RatioPolicy(), c, random: &rng).1[0] }
        }
        #expect(sequence(99) == sequence(99))
        #expect(sequence(99) != sequence(100))
    }

    // MARK: Locality

    static let world: [CandidateSet.Input] = [
        target("w1a-r1", "us-west/us-west-1a/rack1", up: ["10.0.1.1"]),
        target("w1a-r2", "us-west/us-west-1a/rack2", up: ["10.0.1.2", "10.0.1.3"]),
        target("w1b", "us-west/us-west-1b", up: ["10.0.2.1"]),
        target("e1a", "us-east/us-east-1a", up: ["10.1.1.1"]),
        target("eu", "eu-central", up: ["10.2.1.1"]),
        target("nowhere", nil, up: ["10.9.9.9"]),
    ]

    static let rules = [
        FailoverRule(from: "us-west", to: "us-east"), FailoverRule(from: "us-west", to: "eu-central"),
        FailoverRule(from: "ap-south", to: "eu-central"), FailoverRule(from: "ap-south", to: "us-east"),
    ]

    struct LocalityCase: Sendable, CustomTestStringConvertible {
        let name: String
        let client: String?
        let down: Set<String>
        let expected: [String]
        let tier: DecisionTier
        var testDescription: String { name }
    }

    static let localityCases: [LocalityCase] = [
        .init(name: "same subzone", client: "us-west/us-west-1a/rack2", down: [], expected: ["10.0.1.2", "10.0.1.3"], tier: .sameSubzone),
        .init(name: "same zone when the subzone is empty", client: "us-west/us-west-1a/rack9", down: [],
              expected: ["10.0.1.1", "10.0.1.2", "10.0.1.3"], tier: .sameZone),
        .init(name: "same zone when the subzone is down", client: "us-west/us-west-1a/rack2", down: ["w1a-r2"],
              expected: ["10.0.1.1"], tier: .sameZone),
        .init(name: "zone-level client", client: "us-west/us-west-1b", down: [], expected: ["10.0.2.1"], tier: .sameZone),
        .init(name: "same region", client: "us-west/us-west-1c", down: [], expected: ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.1"],
              tier: .sameRegion),
        .init(name: "region-only client", client: "us-west", down: [], expected: ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.1"],
              tier: .sameRegion),
        .init(name: "first failover rule", client: "us-west/us-west-1a", down: ["w1a-r1", "w1a-r2", "w1b"],
              expected: ["10.1.1.1"], tier: .failover(rule: 0)),
        .init(name: "second failover rule when the first region is down too", client: "us-west/us-west-1a",
              down: ["w1a-r1", "w1a-r2", "w1b", "e1a"], expected: ["10.2.1.1"], tier: .failover(rule: 1)),
        .init(name: "rules are per source region, in order", client: "ap-south/x", down: [], expected: ["10.2.1.1"], tier: .failover(rule: 2)),
        .init(name: "later rule of the same region", client: "ap-south", down: ["eu"], expected: ["10.1.1.1"], tier: .failover(rule: 3)),
        .init(name: "any healthy when no rule helps", client: "us-west", down: ["w1a-r1", "w1a-r2", "w1b", "e1a", "eu"],
              expected: ["10.9.9.9"], tier: .anyHealthy),
        .init(name: "any healthy for a region without rules", client: "sa-east", down: [],
              expected: ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.1", "10.1.1.1", "10.2.1.1", "10.9.9.9"], tier: .anyHealthy),
        .init(name: "no client locality: every candidate", client: nil, down: ["eu"],
              expected: ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.1", "10.1.1.1", "10.9.9.9"], tier: .noLocality),
    ]

    @Test(arguments: localityCases)
    func localityTiers(_ c: LocalityCase) {
        let inputs = Self.world.map { t in
            c.down.contains(t.name) ? CandidateSet.Input(name: t.name, locality: t.locality, ratio: t.ratio,
                                                         addresses: t.addresses.map { ($0.address, false) }) : t
        }
        let set = candidates(inputs)
        let (d, answers) = run(LocalityPolicy(failover: Self.rules), set, client: client(c.client, scope: c.client == nil ? nil : 24))
        #expect(answers == c.expected)
        #expect(d.tier == c.tier)
        #expect(d.healthyTargets == 6 - c.down.count)
        #expect(d.totalTargets == 6)
        #expect(d.ecsScopePrefixLength == (c.client == nil ? 0 : 24))
    }

    @Test func localityRotatesWithinTheTierAndCapsByMaxAnswers() {
        let set = candidates(Self.world)
        let policy = LocalityPolicy(maxAnswers: 2, failover: Self.rules)
        let rotations: [[String]] = (0..<5).map { run(policy, set, client: client("us-west/us-west-1c"), rotation: UInt64($0)).1 }
        #expect(rotations == [
            ["10.0.1.1", "10.0.1.2"], ["10.0.1.2", "10.0.1.3"], ["10.0.1.3", "10.0.2.1"], ["10.0.2.1", "10.0.1.1"],
            ["10.0.1.1", "10.0.1.2"],
        ])
    }

    @Test func localityFailoverRulesOnlyApplyBeyondTheRegion() {
        // A healthy target elsewhere in the region beats a failover region.
        let set = candidates(Self.world.filter { $0.name != "w1a-r1" && $0.name != "w1a-r2" })
        let (d, answers) = run(LocalityPolicy(failover: Self.rules), set, client: client("us-west/us-west-1a"))
        #expect(d.tier == .sameRegion)
        #expect(answers == ["10.0.2.1"])
    }

    /// End to end through the table: ECS and packet-source clients, v4 and v6, matched, defaulted
    /// and unknown, with the scope each reply must carry.
    @Test(arguments: [
        // packet source, ECS, default locality → answers, tier, scope
        ("192.0.2.1", "10.1.0.0/16", nil, ["10.0.1.1", "10.0.1.2", "10.0.1.3"], "same-zone", 16),
        ("192.0.2.1", "10.1.7.0/24", nil, ["10.0.1.1", "10.0.1.2", "10.0.1.3"], "same-zone", 22),  // 10.1.4/22 excludes 10.1.2/24
        ("192.0.2.1", "10.1.2.0/24", nil, ["10.0.1.2", "10.0.1.3"], "same-subzone", 24),
        ("192.0.2.1", "10.1.2.0/23", nil, ["10.0.1.1", "10.0.1.2", "10.0.1.3"], "same-zone", 23),
        ("192.0.2.1", "10.2.0.0/16", nil, ["10.1.1.1"], "same-zone", 16),
        ("192.0.2.1", "10.3.0.0/16", nil, ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.1", "10.1.1.1", "10.2.1.1", "10.9.9.9"],
         "no-locality", 16),
        ("192.0.2.1", "10.3.0.0/16", "eu-central", ["10.2.1.1"], "same-region", 16),
        ("10.1.2.9", nil, nil, ["10.0.1.2", "10.0.1.3"], "same-subzone", 0),
        ("192.0.2.1", "2001:db8:e::/48", nil, ["10.1.1.1"], "same-zone", 48),
        ("192.0.2.1", "2001:db8:e:1::/56", nil, ["10.1.1.1"], "same-zone", 48),  // nothing below the /48: wider than the source
        ("192.0.2.1", "2001:db8:b::/56", nil, ["10.0.2.1"], "same-zone", 56),
        ("192.0.2.1", "2001:db8:b:1::/64", nil, ["10.0.1.2", "10.0.1.3"], "same-subzone", 64),
        ("2001:db8:e::5", nil, nil, ["10.1.1.1"], "same-zone", 0),
        ("2001:db8:f::5", "0.0.0.0/0", "us-east/us-east-1a", ["10.1.1.1"], "same-zone", 0),
    ] as [(String, String?, String?, [String], String, UInt8)])
    func localityThroughTheTableWithECSScope(_ packet: String, _ ecs: String?, _ defaultLocality: String?,
                                             _ expected: [String], _ tier: String, _ scope: UInt8) throws {
        let table = try LocalityTable(entries: [
            .init(cidr: "10.1.0.0/16", locality: "us-west/us-west-1a"),
            .init(cidr: "10.1.2.0/24", locality: "us-west/us-west-1a/rack2"),
            .init(cidr: "10.2.0.0/16", locality: "us-east/us-east-1a"),
            .init(cidr: "2001:db8:e::/48", locality: "us-east/us-east-1a"),
            .init(cidr: "2001:db8:b::/48", locality: "us-west/us-west-1b"),
            .init(cidr: "2001:db8:b:1::/64", locality: "us-west/us-west-1a/rack2"),
        ])
        let subnet = try ecs.map { text in
            let c = try CIDR(text)
            return ClientSubnet(address: c.address, sourcePrefix: c.prefixLength)
        }
        let ctx = ClientContext(packetSource: ip(packet), clientSubnet: subnet, table: table, defaultLocality: defaultLocality.map(loc))
        let (d, answers) = run(LocalityPolicy(failover: Self.rules), candidates(Self.world), client: ctx)
        #expect(answers == expected)
        #expect(d.tier.description == tier)
        #expect(d.ecsScopePrefixLength == scope)
    }

    @Test func roundRobinAndRatioAlwaysScopeZero() {
        let c = candidates(Self.world)
        let ecsClient = client("us-west/us-west-1a", scope: 24)
        #expect(run(RoundRobinPolicy(), c, client: ecsClient).0.ecsScopePrefixLength == 0)
        #expect(run(RatioPolicy(), c, client: ecsClient).0.ecsScopePrefixLength == 0)
        #expect(run(RatioPolicy(maxAnswers: 3), c, client: ecsClient).0.ecsScopePrefixLength == 0)
    }

    // MARK: the spec → policy seam

    @Test func specsNameTheirPolicy() {
        var spec = NameServiceSpec(fqdn: "a.example.com", maxAnswers: 2, failover: Self.rules, targets: [])
        #expect(spec.makePolicy()?.kind == .roundRobin)
        spec.policy = .ratio
        #expect((spec.makePolicy() as? RatioPolicy)?.maxAnswers == 2)
        spec.policy = .locality
        let l = spec.makePolicy() as? LocalityPolicy
        #expect(l?.failover == Self.rules)
        #expect(l?.maxAnswers == 2)
        spec.policy = PolicyKind(rawValue: "Geo")
        #expect(spec.makePolicy() == nil)
    }

    @Test func candidatesFromASpecWithHealth() {
        let spec = NameServiceSpec(fqdn: "a.example.com", allDown: .failClosed, targets: [
            Target(name: "a", addresses: ["192.0.2.1", "2001:db8::1", "192.0.2.2"], locality: "r/z", ratio: 4),
            Target(name: "b", fqdn: "b.example.net"),
            Target(name: "c", addresses: ["192.0.2.3"]),
        ])
        let down: Set<String> = ["192.0.2.1", "192.0.2.3"]
        let v4 = CandidateSet(spec: spec, family: .ipv4) { _, a in !down.contains(a.description) }
        #expect(v4.targets.map(\.name) == ["a", "c"])
        #expect(v4.targets[0].locality == loc("r/z"))
        #expect(v4.targets[0].ratio == 4)
        #expect(v4.addresses.map(\.description) == ["192.0.2.2", "192.0.2.1", "192.0.2.3"])  // healthy first
        #expect(v4.targets.map(\.isHealthy) == [true, false])
        #expect(v4.healthyTargetCount == 1)
        #expect(run(RoundRobinPolicy(), v4).1 == ["192.0.2.2"])
        let v6 = CandidateSet(spec: spec, family: .ipv6)
        #expect(v6.addresses.map(\.description) == ["2001:db8::1"])
    }

    @Test func explanationNamesEverything() {
        let set = candidates(Self.world)
        let ctx = ClientContext(address: ip("10.1.2.0"), source: .clientSubnet(sourcePrefixLength: 24),
                                locality: loc("us-west/us-west-1a/rack2"), localitySource: .matched(prefixLength: 24),
                                localityScopePrefixLength: 24)
        var out = [Int32](repeating: 0, count: set.addressCount)
        var rng = SplitMix64(seed: 1)
        let text = out.withUnsafeMutableBufferPointer { buf in
            let d = LocalityPolicy().pick(from: set, client: ctx, rotation: 1, random: &rng, into: buf)
            return d.explanation(client: ctx, candidates: set, chosen: UnsafeBufferPointer(buf))
        }
        #expect(text == "policy=Locality tier=same-subzone healthy=6/6 mode=healthy scope=24 answers=2 client=10.1.2.0 from=ecs/24 locality=us-west/us-west-1a/rack2 (matched /24) chosen=10.0.1.3,10.0.1.2")
    }
}

import DNSWire
@testable import GSLB
import Testing

/// A generator that always returns one value: `1` draws the first bucket, `.max` the last one
/// (`UInt64.random(in: 0..<n)` is the high word of `next() × n`; never `0`, which the rejection
/// step of that method would refuse for ever).
struct FixedRandom: RandomNumberGenerator {
    let value: UInt64
    mutating func next() -> UInt64 { value }
}

/// `run` with any generator (the shared one takes a `SplitMix64`).
func run<R: RandomNumberGenerator>(_ policy: some AnswerPolicy, _ c: CandidateSet, client: ClientContext, rotation: UInt64 = 0,
                                   random: inout R) -> (PolicyDecision, [String]) {
    var storage = [Int32](repeating: -7, count: c.addressCount + 2)
    let decision = storage.withUnsafeMutableBufferPointer { all in
        policy.pick(from: c, client: client, rotation: rotation, random: &random,
                    into: UnsafeMutableBufferPointer(rebasing: all[0..<c.addressCount]))
    }
    #expect(storage[c.addressCount] == -7 && storage[c.addressCount + 1] == -7, "a policy wrote past its output buffer")
    return (decision, storage[0..<decision.answerCount].map { c.addresses[Int($0)].description })
}

/// Issue 15: Locality's `distribute` rules, their health adjustment, and `allDown: Fallback`.
@Suite("Locality distribute", .serialized)
struct DistributeTests {
    /// Three regions; us-west has four targets (two zones), us-east two, eu one; one target has no locality.
    static let world: [CandidateSet.Input] = [
        target("w1", "us-west/us-west-1a", up: ["10.0.1.1"]),
        target("w2", "us-west/us-west-1a", up: ["10.0.1.2"]),
        target("w3", "us-west/us-west-1b", up: ["10.0.1.3"]),
        target("w4", "us-west/us-west-1b", up: ["10.0.1.4"]),
        target("e1", "us-east/us-east-1a", up: ["10.1.1.1"]),
        target("e2", "us-east/us-east-1b", up: ["10.1.1.2"]),
        target("eu", "eu-central/eu-central-1a", up: ["10.2.1.1"]),
        target("nowhere", nil, up: ["10.9.9.9"]),
    ]
    static let westRule = DistributeRule(from: "us-west/*", to: ["us-west/*": 99, "us-east/*": 1])

    static func set(_ inputs: [CandidateSet.Input] = world, down: Set<String> = [], rules: [DistributeRule] = [westRule],
                    failover: [FailoverRule] = [], allDown: AllDownBehavior = .failOpen, factor: Double = 1.4,
                    fallback: [String] = [], family: AddressFamily = .ipv4) -> CandidateSet {
        let inputs = inputs.map { t in
            down.contains(t.name) ? CandidateSet.Input(name: t.name, locality: t.locality, ratio: t.ratio,
                                                       addresses: t.addresses.map { ($0.address, false) }) : t
        }
        return CandidateSet(family: family, inputs: inputs, allDown: allDown, failover: failover, distribute: rules,
                            overprovisioningFactor: factor, fallback: fallback.map(ip))
    }

    // MARK: Patterns and rule matching

    @Test(arguments: [
        ("*", "*", 0), ("us-west", "us-west/*", 1), ("us-west/*", "us-west/*", 1), ("us-west/us-west-1a", "us-west/us-west-1a/*", 2),
        ("us-west/us-west-1a/*", "us-west/us-west-1a/*", 2), ("us-west/us-west-1a/rack7", "us-west/us-west-1a/rack7", 3),
    ])
    func patternsParse(_ text: String, _ canonical: String, _ specificity: Int) throws {
        let p = try LocalityPattern(text)
        #expect(p.description == canonical)
        #expect(p.specificity == specificity)
    }

    @Test(arguments: ["", "*/us-west-1a", "us-west/*/rack1", "a/b/c/d", "us-west//x", "us west/*", "us-*"])
    func badPatternsAreRefused(_ text: String) {
        #expect(throws: GSLBParseError.self) { try LocalityPattern(text) }
    }

    @Test(arguments: [
        // (rules' from, client, expected rule)
        (["us-west/*", "*"], "us-west/us-west-1a", 0),
        (["us-west/*", "*"], "ap-south/x", 1),
        (["us-west/us-west-1a/*", "us-west/*"], "us-west/us-west-1a/rack1", 0),
        (["us-west/us-west-1a/*", "us-west/*"], "us-west/us-west-1b", 1),
        (["us-west/us-west-1a/*", "us-west/*"], "us-west", 1),  // a region-only client is not in a zone pattern
        (["us-west/us-west-1a/rack1", "us-west/*"], "us-west/us-west-1a/rack1", 0),
        (["us-west/us-west-1a/rack1", "us-west/*"], "us-west/us-west-1a/rack2", 1),
        (["*", "us-west/*"], "us-west/us-west-1a", 0),  // first match wins, whatever its specificity
        (["us-east/*"], "us-west/us-west-1a", -1),
    ])
    func theFirstMatchingRuleApplies(_ froms: [String], _ client: String, _ expected: Int) {
        let rules = froms.map { DistributeRule(from: $0, to: ["us-west/*": 100]) }
        let table = Self.set(rules: rules).distribute!
        #expect(table.rule(for: loc(client)) == (expected < 0 ? nil : expected))
    }

    // MARK: Health adjustment and normalisation

    struct HealthCase: Sendable, CustomTestStringConvertible {
        let name: String
        let down: Set<String>
        let factor: Double
        /// Effective weight per bucket, sorted by pattern (`us-east/*`, `us-west/*`).
        let effective: [Double]
        var testDescription: String { name }
    }

    static let healthCases: [HealthCase] = [
        .init(name: "all healthy: the written weights", down: [], factor: 1.4, effective: [1, 99]),
        .init(name: "4 targets, 2 down: 99 × min(1, 1.4 × 0.5) = 69.3", down: ["w1", "w2"], factor: 1.4, effective: [1, 69.3]),
        .init(name: "4 targets, 1 down: 1.4 × 0.75 ≥ 1 keeps the full weight", down: ["w1"], factor: 1.4, effective: [1, 99]),
        .init(name: "factor 1: proportional to the healthy fraction", down: ["w1"], factor: 1, effective: [1, 74.25]),
        .init(name: "remote bucket half down", down: ["e1"], factor: 1.4, effective: [0.7, 99]),
        .init(name: "local bucket drained by health: everything remote", down: ["w1", "w2", "w3", "w4"], factor: 1.4, effective: [1, 0]),
    ]

    @Test(arguments: healthCases)
    func effectiveWeights(_ c: HealthCase) {
        let table = Self.set(down: c.down, factor: c.factor).distribute!
        let rule = table.rules[0]
        #expect(rule.buckets.map(\.pattern) == ["us-east/*", "us-west/*"])
        for (b, expected) in c.effective.enumerated() {
            #expect(abs(rule.buckets[b].effectiveWeight - expected) < 1e-9, "bucket \(rule.buckets[b].pattern)")
        }
        let sum = c.effective.reduce(0, +)
        for b in c.effective.indices {
            #expect(abs(rule.share(b) - c.effective[b] / sum) < 1e-6)
        }
    }

    /// Envoy's own example (docs: "Locality weighted load balancing"): locality X weight 1, Y weight
    /// 2 and fully available, factor 1.4; X's share as X's healthy endpoints go 100, 70, 69, 50, 25
    /// and 0 % is 33, 33, 32, 26, 15 and 0 % (Envoy's table, rounded down; within one point here).
    @Test(arguments: [(100, 33.0), (70, 33), (69, 32), (50, 26), (25, 15), (0, 0)])
    func envoysDocumentedTable(_ healthyPercent: Int, _ expected: Double) {
        let x = (0..<100).map { i in
            target("x\(i)", "x/x1", up: i < healthyPercent ? ["10.1.\(i / 250).\(i % 250 + 1)"] : [],
                   down: i < healthyPercent ? [] : ["10.1.\(i / 250).\(i % 250 + 1)"])
        }
        let set = CandidateSet(family: .ipv4, inputs: x + [target("y", "y/y1", up: ["10.2.0.1"])], allDown: .failOpen,
                               distribute: [DistributeRule(from: "*", to: ["x/*": 1, "y/*": 2])])
        let share = set.distribute!.rules[0].share(0) * 100
        #expect(abs(share - expected) < 1, "X at \(healthyPercent) % healthy: \(share) %")
    }

    @Test func theDrawUsesTheCumulativeWeightsAtBothEnds() {
        // 69.3 against 1 (sorted: us-east/* first): the lowest draw is us-east, the highest us-west.
        let set = Self.set(down: ["w1", "w2"])
        let policy = LocalityPolicy(distribute: [Self.westRule])
        var low = FixedRandom(value: 1), high = FixedRandom(value: .max)
        let lowPick = run(policy, set, client: client("us-west/us-west-1a", scope: 24), random: &low)
        let highPick = run(policy, set, client: client("us-west/us-west-1a", scope: 24), random: &high)
        #expect(lowPick.1 == ["10.1.1.1", "10.1.1.2"])
        #expect(lowPick.0.tier == .distribute(rule: 0, bucket: 0))
        #expect(highPick.1 == ["10.0.1.3", "10.0.1.4"])  // only the bucket's healthy targets
        #expect(highPick.0.tier == .distribute(rule: 0, bucket: 1))
        #expect(highPick.0.ecsScopePrefixLength == 24)  // Locality's scope rule, unchanged
        // The boundary: 1 of 70.3 units goes to us-east.
        let cumulative = set.distribute!.rules[0].cumulative
        #expect(cumulative == [1_000_000, 70_300_000])
    }

    @Test func aReplyCarriesOneBucketRotatedAndCapped() {
        let set = Self.set()
        let policy = LocalityPolicy(maxAnswers: 1, distribute: [Self.westRule])
        var rng = FixedRandom(value: .max)
        let answers = (0..<5).map { r in run(policy, set, client: client("us-west/us-west-1b"), rotation: UInt64(r), random: &rng).1 }
        #expect(answers == [["10.0.1.1"], ["10.0.1.2"], ["10.0.1.3"], ["10.0.1.4"], ["10.0.1.1"]])
    }

    @Test func aTargetIsInTheMostSpecificMatchingBucket() {
        let rule = DistributeRule(from: "*", to: ["us-west/*": 50, "us-west/us-west-1a/*": 40, "us-east/*": 10])
        let table = Self.set(rules: [rule]).distribute!
        let buckets = table.rules[0].buckets
        #expect(buckets.map(\.pattern) == ["us-east/*", "us-west/*", "us-west/us-west-1a/*"])
        #expect(buckets.map(\.totalTargets) == [2, 2, 2])
        #expect(table.addresses[buckets[1].range].map { Int($0) } == [2, 3])  // w3, w4
    }

    /// The client's rule behind 255 others (and 64 buckets) costs what the answer costs: the rules
    /// are found by hash, the bucket by a binary search, never by a scan (`PickScratch.work`).
    @Test func aRuleBehindManyOthersCostsWhatTheAnswerCosts() {
        func work(_ rules: [DistributeRule]) -> (Int, DecisionTier) {
            let set = Self.set(rules: rules)
            let scratch = PickScratch()
            var rng = FixedRandom(value: .max)
            let out = UnsafeMutableBufferPointer<Int32>.allocate(capacity: set.addressCount)
            defer { out.deallocate() }
            let d = LocalityPolicy(distribute: rules).pick(from: set, client: client("us-west/us-west-1a"), rotation: 0,
                                                           random: &rng, into: out, scratch: scratch)
            return (scratch.work, d.tier)
        }
        let alone = work([Self.westRule])
        let behind = work((0..<255).map { DistributeRule(from: "r\($0)/*", to: ["us-west/*": 100]) } + [Self.westRule])
        #expect(behind.1 == .distribute(rule: 255, bucket: 1))
        #expect(behind.0 == alone.0, "\(behind.0) steps behind 255 rules, \(alone.0) alone")
    }

    /// Weights and factors validation refuses cannot trap a compile (tools and fuzzers compile
    /// unvalidated specs): they are clamped.
    @Test func unvalidatedWeightsAndFactorsDoNotTrap() {
        for factor in [-1.0, 0, .nan, .infinity, 1e300] {
            let rule = DistributeRule(from: "*", to: ["us-west/*": Int.max, "us-east/*": -5, "eu-central/*": Int.min])
            let set = Self.set(rules: [rule], factor: factor)
            let (d, _) = run(LocalityPolicy(distribute: [rule], overprovisioningFactor: factor), set, client: client("us-west"))
            #expect(d.answerCount > 0, "factor \(factor): \(d.tier)")
        }
    }

    // MARK: Fall-through

    @Test func aClientNoRuleMatchesGetsTheTiers() {
        let set = Self.set()
        let (d, answers) = run(LocalityPolicy(distribute: [Self.westRule]), set, client: client("us-east/us-east-1a"))
        #expect(d.tier == .sameZone)
        #expect(answers == ["10.1.1.1"])
        #expect(d.distributeRule == -1)
    }

    @Test func everyBucketDownGoesToFailoverThenAnyHealthy() {
        let rule = DistributeRule(from: "us-west/*", to: ["us-west/*": 100])
        let failover = [FailoverRule(from: "us-west", to: "eu-central")]
        let down: Set<String> = ["w1", "w2", "w3", "w4"]
        let withRules = Self.set(down: down, rules: [rule], failover: failover)
        let (d1, a1) = run(LocalityPolicy(failover: failover, distribute: [rule]), withRules, client: client("us-west/us-west-1a"))
        #expect(d1.tier == .failover(rule: 0))
        #expect(a1 == ["10.2.1.1"])
        #expect(d1.distributeRule == 0)

        let without = Self.set(down: down, rules: [rule])
        let (d2, a2) = run(LocalityPolicy(distribute: [rule]), without, client: client("us-west/us-west-1a"))
        #expect(d2.tier == .anyHealthy)
        #expect(a2 == ["10.1.1.1", "10.1.1.2", "10.2.1.1", "10.9.9.9"])
        #expect(d2.distributeRule == 0)
    }

    @Test func failOpenDistributesAsIfAllWereHealthy() {
        let all = Set(Self.world.map(\.name))
        let set = Self.set(down: all)
        #expect(set.mode == .allDownFailOpen)
        var rng = FixedRandom(value: .max)
        let (d, answers) = run(LocalityPolicy(distribute: [Self.westRule]), set, client: client("us-west/us-west-1a"), random: &rng)
        #expect(d.tier == .distribute(rule: 0, bucket: 1))
        #expect(answers == ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"])
        #expect(set.distribute!.rules[0].buckets.map(\.effectiveWeight) == [1, 99])
    }

    @Test func failClosedAnswersNothing() {
        let set = Self.set(down: Set(Self.world.map(\.name)), allDown: .failClosed)
        let (d, answers) = run(LocalityPolicy(distribute: [Self.westRule]), set, client: client("us-west/us-west-1a"))
        #expect(d.tier == .none)
        #expect(answers.isEmpty)
        #expect(set.distribute == nil)
    }

    // MARK: allDown: Fallback

    @Test func fallbackAnswersWhenEveryTargetIsDown() {
        let all = Set(Self.world.map(\.name))
        let v4 = Self.set(down: all, allDown: .fallback, fallback: ["192.0.2.99", "2001:db8::99"])
        #expect(v4.mode == .allDownFallback)
        #expect(v4.addresses.map(\.description) == ["192.0.2.99"])
        for policy in [LocalityPolicy(distribute: [Self.westRule]) as any AnswerPolicy, RoundRobinPolicy(), RatioPolicy()] {
            let (d, answers) = run(policy, v4, client: client("us-west/us-west-1a"))
            #expect(answers == ["192.0.2.99"], "\(policy.kind)")
            #expect(d.mode == .allDownFallback)
            #expect(d.healthyTargets == 0)
        }
        // A family the fallback has no address of answers nothing.
        let v4Only = Self.set(down: all, allDown: .fallback, fallback: ["2001:db8::99"])
        let (d, answers) = run(LocalityPolicy(), v4Only, client: client("us-west"))
        #expect(answers.isEmpty && d.tier == .none && v4Only.mode == .allDownFallback)
    }

    @Test func fallbackIsUnusedWhileOneTargetIsUp() {
        let set = Self.set(down: Set(Self.world.map(\.name)).subtracting(["eu"]), allDown: .fallback, fallback: ["192.0.2.99"])
        #expect(set.mode == .healthy)
        #expect(!set.addresses.map(\.description).contains("192.0.2.99"))
    }

    // MARK: Distribution

    struct Split: Sendable, CustomTestStringConvertible {
        let to: [String: Int]
        let down: Set<String>
        /// Expected share per bucket pattern.
        let expected: [String: Double]
        var testDescription: String { to.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + (down.isEmpty ? "" : " down: \(down.sorted())") }
    }

    static let splits: [Split] = [
        .init(to: ["us-west/*": 99, "us-east/*": 1], down: [], expected: ["us-west/*": 0.99, "us-east/*": 0.01]),
        .init(to: ["us-west/*": 70, "us-east/*": 20, "eu-central/*": 10], down: [],
              expected: ["us-west/*": 0.7, "us-east/*": 0.2, "eu-central/*": 0.1]),
        .init(to: ["us-west/*": 99, "us-east/*": 1], down: ["w1", "w2"], expected: ["us-west/*": 69.3 / 70.3, "us-east/*": 1 / 70.3]),
    ]

    @Test(arguments: splits, [UInt64(1), 2024, 0xDEAD_BEEF])
    func sharesWithinOnePoint(_ split: Split, seed: UInt64) async {
        let rule = DistributeRule(from: "us-west/*", to: split.to)
        let set = Self.set(down: split.down, rules: [rule])
        let policy = LocalityPolicy(distribute: [rule])
        let patterns = set.distribute!.rules[0].buckets.map(\.pattern)
        var counts = [String: Int]()
        var rng = SplitMix64(seed: seed)
        let buf = UnsafeMutableBufferPointer<Int32>.allocate(capacity: set.addressCount)
        defer { buf.deallocate() }
        let me = client("us-west/us-west-1a", scope: 24)
        let n = 100_000
        for q in 0..<n {
            let d = policy.pick(from: set, client: me, rotation: UInt64(q), random: &rng, into: buf)
            guard let (_, b) = d.tier.distributeBucket else { Issue.record("not a distribute tier: \(d.tier)"); return }
            counts[patterns[b], default: 0] += 1
            if q % 1000 == 999 { await Task.yield() }
        }
        for (pattern, expected) in split.expected {
            let share = Double(counts[pattern] ?? 0) / Double(n)
            #expect(abs(share - expected) <= 0.01, "\(pattern): \(share * 100)% vs \(expected * 100)%")
        }
    }

    // MARK: Explain

    @Test func theExplanationShowsTheRuleBucketsAndTheDraw() {
        let set = Self.set(down: ["w1", "w2"])
        var rng = FixedRandom(value: .max)
        let me = client("us-west/us-west-1a", scope: 24)
        let output = UnsafeMutableBufferPointer<Int32>.allocate(capacity: set.addressCount)
        defer { output.deallocate() }
        let d = LocalityPolicy(distribute: [Self.westRule]).pick(from: set, client: me, rotation: 0, random: &rng, into: output)
        let strings = d.explanationStrings(family: "A", client: me, candidates: set, chosen: UnsafeBufferPointer(output))
        #expect(strings.contains("tier=distribute[0]"))
        #expect(strings.contains("distribute=spec.distribute[0] from=us-west/*"))
        #expect(strings.contains("bucket=us-west/* weight=99 healthy=2/4 effective=69.3 share=98.6%"))
        #expect(strings.contains("bucket=us-east/* weight=1 healthy=2/2 effective=1 share=1.4%"))
        #expect(strings.contains("drawn=us-west/*"))
        #expect(strings.contains("chosen=10.0.1.3,10.0.1.4"))

        let allDown = Self.set(down: ["w1", "w2", "w3", "w4", "e1", "e2"], rules: [DistributeRule(from: "*", to: ["us-west/*": 50, "us-east/*": 50])])
        let d2 = LocalityPolicy(distribute: allDown.distribute!.source).pick(from: allDown, client: me, rotation: 0, random: &rng, into: output)
        let s2 = d2.explanationStrings(family: "A", client: me, candidates: allDown, chosen: UnsafeBufferPointer(output))
        #expect(s2.contains("tier=any-healthy"))
        #expect(s2.contains("drawn=- (every bucket has effective weight 0)"))
        #expect(s2.allSatisfy { $0.utf8.count <= 255 })
    }

    // MARK: Spec

    @Test func specsCompileTheirRulesAndRoundTrip() throws {
        var spec = NameServiceSpec(fqdn: "app.g.example.com", policy: .locality, targets: [
            Target(name: "w", addresses: ["10.0.1.1"], locality: "us-west/a"),
            Target(name: "e", addresses: ["10.1.1.1"], locality: "us-east/a"),
        ])
        spec.distribute = [Self.westRule]
        spec.overprovisioningFactor = 2
        let policy = try #require(spec.makePolicy() as? LocalityPolicy)
        #expect(policy.distribute == [Self.westRule] && policy.overprovisioningFactor == 2)
        let set = CandidateSet(spec: spec, family: .ipv4)
        #expect(set.distribute?.source == [Self.westRule] && set.distribute?.overprovisioningFactor == 2)
        // A name without rules carries no table.
        spec.distribute = []
        #expect(CandidateSet(spec: spec, family: .ipv4).distribute == nil)
    }
}

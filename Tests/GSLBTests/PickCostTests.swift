import DNSWire
@testable import GSLB
import Testing

/// Issue 12: a pick costs O(answers) (plus O(log targets) per weighted draw) whatever the spec
/// holds, and picks exactly what the per-query scans it replaced picked. Cost is counted in steps
/// (`PickScratch.work`: tree steps, look-ups, addresses written), never timed.
@Suite("Pick cost")
struct PickCostTests {
    // MARK: The algorithms the compiled picks replaced (issue 12), kept as the reference.

    /// The old shared emitter: two passes over every target.
    static func referenceEmit(_ c: CandidateSet, rotation: UInt64, limit: Int, into output: UnsafeMutableBufferPointer<Int32>,
                              where include: (Int) -> Bool) -> Int {
        var total = 0
        for i in c.targets.indices where c.isActive(i) && include(i) { total += c.activeAddresses(i).count }
        guard total > 0 else { return 0 }
        let start = Int(rotation % UInt64(total))
        let k = min(total, limit, output.count)
        var p = 0
        for i in c.targets.indices where c.isActive(i) && include(i) {
            for a in c.activeAddresses(i) {
                let position = p >= start ? p - start : p - start + total
                if position < k { output[position] = Int32(a) }
                p += 1
            }
        }
        return k
    }

    /// The old Ratio pick: weights recomputed per query, draws by linear scans (O(targets² × k)).
    static func referenceRatio<R: RandomNumberGenerator>(_ c: CandidateSet, maxAnswers: Int?, rotation: UInt64, random: inout R,
                                                        into output: UnsafeMutableBufferPointer<Int32>) -> (Int, DecisionTier) {
        var weightedTotal: UInt64 = 0
        for i in c.targets.indices where c.isActive(i) && c.targets[i].ratio > 0 { weightedTotal += UInt64(c.targets[i].ratio) }
        let standby = weightedTotal == 0
        func weight(_ i: Int) -> UInt64 {
            guard c.isActive(i) else { return 0 }
            let r = c.targets[i].ratio
            return standby ? (r <= 0 ? 1 : 0) : UInt64(max(r, 0))
        }
        var remaining: UInt64 = 0
        for i in c.targets.indices { remaining += weight(i) }
        guard remaining > 0, output.count > 0 else { return (0, .none) }
        let limit = min(maxAnswers ?? Int.max, output.count)
        var written = 0
        var drawn = Set<Int>()
        repeat {
            var r = UInt64.random(in: 0..<remaining, using: &random)
            var chosen = -1
            for i in c.targets.indices {
                let w = weight(i)
                guard w > 0, !drawn.contains(i) else { continue }
                if r < w { chosen = i; break }
                r -= w
            }
            drawn.insert(chosen)
            remaining -= weight(chosen)
            let room = maxAnswers == nil ? output.count - written : limit - written
            written += referenceEmit(c, rotation: rotation, limit: room,
                                     into: UnsafeMutableBufferPointer(rebasing: output[written...])) { $0 == chosen }
        } while maxAnswers != nil && written < limit && remaining > 0
        return (written, standby ? .standby : .weighted)
    }

    /// The old Locality pick: tiers and failover rules evaluated per query.
    static func referenceLocality(_ c: CandidateSet, maxAnswers: Int?, failover: [FailoverRule], client: ClientContext,
                                  rotation: UInt64, into output: UnsafeMutableBufferPointer<Int32>) -> (Int, DecisionTier) {
        let limit = maxAnswers ?? Int.max
        guard c.mode != .allDownFailClosed, !c.targets.isEmpty else { return (0, .none) }
        guard let here = client.locality else {
            return (referenceEmit(c, rotation: rotation, limit: limit, into: output) { _ in true }, .noLocality)
        }
        var best = LocalityTier.otherRegion
        for i in c.targets.indices where c.isActive(i) {
            if let there = c.targets[i].locality { best = min(best, here.tier(to: there)) }
        }
        if best != .otherRegion {
            let n = referenceEmit(c, rotation: rotation, limit: limit, into: output) { i in
                c.targets[i].locality.map { here.tier(to: $0) == best } ?? false
            }
            return (n, best == .sameSubzone ? .sameSubzone : best == .sameZone ? .sameZone : .sameRegion)
        }
        for (ruleIndex, rule) in failover.enumerated() where rule.from == here.region {
            let n = referenceEmit(c, rotation: rotation, limit: limit, into: output) { i in c.targets[i].locality?.region == rule.to }
            if n > 0 { return (n, .failover(rule: ruleIndex)) }
        }
        return (referenceEmit(c, rotation: rotation, limit: limit, into: output) { _ in true }, .anyHealthy)
    }

    // MARK: Same picks as before

    /// Random specs (ratios incl. standbys, health, multi-address targets, every all-down mode):
    /// the compiled Ratio pick writes exactly what the old scans wrote, draw for draw.
    @Test(arguments: [UInt64(1), 42, 0xFEED])
    func ratioPicksExactlyWhatTheScanPicked(seed: UInt64) {
        var gen = SplitMix64(seed: seed)
        let scratch = PickScratch()
        for round in 0..<300 {
            let n = Int.random(in: 1...30, using: &gen)
            let inputs = (0..<n).map { i -> CandidateSet.Input in
                let ratio = Int.random(in: 0...4, using: &gen) == 0 ? 0 : Int.random(in: 1...100, using: &gen)
                let addrs = (0..<Int.random(in: 1...3, using: &gen)).map { j -> (IPAddress, Bool) in
                    (ip("10.\(i).\(j).\(round % 250)"), Int.random(in: 0...3, using: &gen) != 0)
                }
                return CandidateSet.Input(name: "t\(i)", ratio: ratio, addresses: addrs)
            }
            let allDown: AllDownBehavior = round % 2 == 0 ? .failOpen : .failClosed
            let c = CandidateSet(family: .ipv4, inputs: inputs, allDown: allDown)
            let maxAnswers: Int? = round % 3 == 0 ? nil : Int.random(in: 1...12, using: &gen)
            let rotation = gen.next() % 1000
            let randomSeed = gen.next()
            var a = [Int32](repeating: -1, count: c.addressCount), b = a
            var r1 = SplitMix64(seed: randomSeed), r2 = SplitMix64(seed: randomSeed)
            let d = a.withUnsafeMutableBufferPointer {
                RatioPolicy(maxAnswers: maxAnswers).pick(from: c, client: client(), rotation: rotation, random: &r1, into: $0,
                                                         scratch: scratch)
            }
            let (count, tier) = b.withUnsafeMutableBufferPointer {
                Self.referenceRatio(c, maxAnswers: maxAnswers, rotation: rotation, random: &r2, into: $0)
            }
            #expect(d.answerCount == count, "round \(round)")
            #expect(d.tier == tier, "round \(round)")
            #expect(Array(a.prefix(count)) == Array(b.prefix(count)), "round \(round)")
            #expect(r1.state == r2.state, "the same random numbers were drawn (round \(round))")
        }
        // The scratch's tree overlay is back to all zero after every pick.
        #expect((0..<scratch.removed.count).allSatisfy { scratch.removed[$0] == 0 })
    }

    static let regions = ["us-west", "us-east", "eu", "ap"]

    /// Random targets, localities, failover rules and clients: the compiled Locality pick (set
    /// compiled for the rules, as NamePlan does, and not) writes what the old per-query tiers wrote.
    @Test(arguments: [UInt64(7), 99])
    func localityPicksExactlyWhatTheTiersPicked(seed: UInt64) {
        var gen = SplitMix64(seed: seed)
        let scratch = PickScratch()
        func randomLocality() -> String? {
            let r = Self.regions[Int(gen.next() % 4)]
            switch gen.next() % 4 {
            case 0: return nil
            case 1: return r
            case 2: return "\(r)/\(r)-\(gen.next() % 2)"
            default: return "\(r)/\(r)-\(gen.next() % 2)/rack\(gen.next() % 2)"
            }
        }
        for round in 0..<400 {
            let inputs = (0..<Int.random(in: 1...12, using: &gen)).map { i -> CandidateSet.Input in
                CandidateSet.Input(name: "t\(i)", locality: randomLocality().map(loc),
                                   addresses: (0..<Int.random(in: 1...2, using: &gen)).map { j in
                                       (ip("10.\(i).\(j).1"), gen.next() % 3 != 0)
                                   })
            }
            let rules = (0..<Int.random(in: 0...6, using: &gen)).map { _ in
                FailoverRule(from: Self.regions[Int(gen.next() % 4)], to: Self.regions[Int(gen.next() % 4)])
            }
            let allDown: AllDownBehavior = round % 2 == 0 ? .failOpen : .failClosed
            let plain = CandidateSet(family: .ipv4, inputs: inputs, allDown: allDown)
            let compiled = plain.withFailover(rules)
            let who = client(randomLocality(), scope: 16)
            let maxAnswers: Int? = round % 3 == 0 ? nil : Int.random(in: 1...4, using: &gen)
            let rotation = gen.next() % 100
            for set in [plain, compiled] {
                var a = [Int32](repeating: -1, count: set.addressCount), b = a
                var rng = SplitMix64(seed: 1)
                let d = a.withUnsafeMutableBufferPointer {
                    LocalityPolicy(maxAnswers: maxAnswers, failover: rules)
                        .pick(from: set, client: who, rotation: rotation, random: &rng, into: $0, scratch: scratch)
                }
                let (count, tier) = b.withUnsafeMutableBufferPointer {
                    Self.referenceLocality(set, maxAnswers: maxAnswers, failover: rules, client: who, rotation: rotation, into: $0)
                }
                #expect(d.answerCount == count && d.tier == tier, "round \(round): \(d.tier) vs \(tier)")
                #expect(Array(a.prefix(count)) == Array(b.prefix(count)), "round \(round)")
            }
        }
    }

    // MARK: Cost does not grow with the spec

    /// `n` targets with one address each and ratios 1...n.
    static func weighted(_ n: Int) -> CandidateSet {
        CandidateSet(family: .ipv4, inputs: (0..<n).map { i in
            CandidateSet.Input(name: "t\(i)", ratio: i % 7 + 1, addresses: [(.v4(IPv4Address(value: 0x0A00_0000 + UInt32(i))), true)])
        }, allDown: .failOpen)
    }

    /// Steps one pick took.
    static func work(_ policy: some AnswerPolicy, _ c: CandidateSet, client: ClientContext = client(), seed: UInt64 = 3) -> (Int, PolicyDecision) {
        let scratch = PickScratch(capacity: 1024)
        var rng = SplitMix64(seed: seed)
        var out = [Int32](repeating: 0, count: max(c.addressCount, 1))
        let d = out.withUnsafeMutableBufferPointer {
            policy.pick(from: c, client: client, rotation: 5, random: &rng, into: $0, scratch: scratch)
        }
        return (scratch.work, d)
    }

    /// The shape: 1,000 targets, maxAnswers 1,000 took 0.3-0.6 s per query (about
    /// targets² × k = 10⁹ steps). Now: per answer one tree descent and one removal (≈ 2 log₂ n).
    @Test func ratioWithMaxAnswersIsLinearInAnswers() {
        let big = Self.weighted(1000)
        let (all, d) = Self.work(RatioPolicy(maxAnswers: 1000), big)
        #expect(d.answerCount == 1000)
        // 1,000 answers × (descent 10 + removal ≤ 10 + undo ≤ 10 + emit 2) = 32,000 at most.
        #expect(all <= 1000 * 32, "\(all) steps for 1,000 answers from 1,000 targets")
        // A few answers from 1,000 targets cost about what they cost from 10.
        let (few, _) = Self.work(RatioPolicy(maxAnswers: 3), big)
        let (fewSmall, _) = Self.work(RatioPolicy(maxAnswers: 3), Self.weighted(10))
        #expect(few <= 3 * 32 && few <= fewSmall * 3, "\(few) steps for 3 of 1,000 vs \(fewSmall) for 3 of 10")
        // Without maxAnswers: one descent.
        let (one, d1) = Self.work(RatioPolicy(), big)
        #expect(d1.answerCount == 1 && one <= 12, "\(one) steps")
    }

    /// The shape: failover rules evaluated per query (20,000 rules × 1,000 targets: 434 ms).
    /// Compiled: the client's region maps to its rule in one look-up, however many rules there are.
    @Test func localityFailoverIsOneLookupWhateverTheRules() {
        // 1,000 targets in other regions; the rule that matches is the last of many.
        func set(rules: Int) -> (CandidateSet, LocalityPolicy) {
            let inputs = (0..<1000).map { i in
                CandidateSet.Input(name: "t\(i)", locality: loc("r\(i % 50)/z\(i % 3)"),
                                   addresses: [(.v4(IPv4Address(value: 0x0A00_0000 + UInt32(i))), true)])
            }
            let failover = (0..<rules - 1).map { FailoverRule(from: "client-region", to: "empty-\($0)") }
                + [FailoverRule(from: "client-region", to: "r7")]
            let policy = LocalityPolicy(maxAnswers: 4, failover: failover)
            let plan = CandidateSet(family: .ipv4, inputs: inputs, allDown: .failOpen).withFailover(failover)
            return (plan, policy)
        }
        let who = client("client-region/zone-a/rack1", scope: 16)
        let (c1, p1) = set(rules: 1)
        let (cMany, pMany) = set(rules: 20_000)
        let (w1, d1) = Self.work(p1, c1, client: who)
        let (wMany, dMany) = Self.work(pMany, cMany, client: who)
        #expect(d1.tier == .failover(rule: 0) && dMany.tier == .failover(rule: 19_999))
        #expect(d1.answerCount == 4 && dMany.answerCount == 4)
        #expect(wMany == w1, "\(wMany) steps with 20,000 rules vs \(w1) with 1")
        #expect(wMany <= 4 + 4 + 2, "\(wMany) steps: look-ups plus the 4 answers")
        // The nearest tiers likewise: a client in a populated zone.
        let (wNear, dNear) = Self.work(pMany, cMany, client: client("r7/z1", scope: 16))
        #expect(dNear.tier == .sameZone && wNear <= 4 + 4 + 2, "\(wNear) steps")
    }

    @Test func roundRobinIsLinearInAnswers() {
        let big = CandidateSet(family: .ipv4, inputs: (0..<1000).map { i in
            CandidateSet.Input(name: "t\(i)", addresses: [(.v4(IPv4Address(value: 0x0A00_0000 + UInt32(i))), i % 2 == 0)])
        }, allDown: .failOpen)
        let (w, d) = Self.work(RoundRobinPolicy(maxAnswers: 2), big)
        #expect(d.answerCount == 2 && w <= 3, "\(w) steps for 2 answers of 500 healthy addresses")
    }

    /// A name never has more candidates than one reply can carry: past the ceiling, addresses are
    /// dropped at compile time (and counted), so every pick has a rendered record.
    @Test func candidatesStopAtTheRenderableCeiling() {
        let inputs = (0..<3000).map { i in
            CandidateSet.Input(name: "t\(i)", addresses: [(.v4(IPv4Address(value: 0x0A00_0000 + UInt32(i))), true),
                                                         (.v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: UInt64(i))), true)])
        }
        let v4 = CandidateSet(family: .ipv4, inputs: inputs, allDown: .failOpen)
        let v6 = CandidateSet(family: .ipv6, inputs: inputs, allDown: .failOpen)
        #expect(v4.addressCount == CandidateSet.maxAddresses(.ipv4) && v4.droppedAddresses == 3000 - 2048)
        #expect(v6.addressCount == CandidateSet.maxAddresses(.ipv6) && v6.droppedAddresses == 3000 - 1536)
        #expect(v4.targets.count == 2048 && v6.targets.count == 1536)
    }
}

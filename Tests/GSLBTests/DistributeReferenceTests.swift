import DNSWire
@testable import GSLB
import Testing

/// Issue 15: the compiled `distribute` pick (rules by hash, a cumulative array, one binary search)
/// chooses exactly what a plain per-query scan of the spec would: the first rule whose `from`
/// matches by `LocalityPattern.matches`, each bucket's targets by the most specific matching
/// pattern, Envoy's effective weights recomputed from health, and the bucket found by subtracting
/// weights. Random specs, clients and health on fixed seeds; the same generator drives both, so the
/// draws must agree one for one.
@Suite("distribute against a reference scan", .serialized)
struct DistributeReferenceTests {
    static let regions = ["r0", "r1", "r2"]
    static let zones = ["z0", "z1"]

    static func randomPattern(_ rng: inout SplitMix64) -> String {
        switch rng.next() % 5 {
        case 0: "*"
        case 1: Self.regions[Int(rng.next() % 3)]
        case 2: Self.regions[Int(rng.next() % 3)] + "/*"
        case 3: Self.regions[Int(rng.next() % 3)] + "/" + Self.zones[Int(rng.next() % 2)] + "/*"
        default: Self.regions[Int(rng.next() % 3)] + "/" + Self.zones[Int(rng.next() % 2)] + "/s\(rng.next() % 2)"
        }
    }

    static func randomLocality(_ rng: inout SplitMix64) -> String {
        var l = Self.regions[Int(rng.next() % 3)]
        if rng.next() % 4 != 0 { l += "/" + Self.zones[Int(rng.next() % 2)] }
        if l.contains("/"), rng.next() % 2 == 0 { l += "/s\(rng.next() % 2)" }
        return l
    }

    /// The reference: what the pick should return as (rule, bucket pattern) or nil (no rule, or
    /// every bucket 0), drawing from `random` exactly when the compiled pick does.
    static func reference<R: RandomNumberGenerator>(_ set: CandidateSet, _ rules: [DistributeRule], factor: Double,
                                                    client: Locality, random: inout R) -> (rule: Int, pattern: String)? {
        guard let r = rules.firstIndex(where: { (try? LocalityPattern($0.from))?.matches(client) == true }) else { return nil }
        let to = rules[r].to.sorted { $0.key < $1.key }
        let patterns = to.map { try! LocalityPattern($0.key) }
        var weights = [UInt64](repeating: 0, count: to.count)
        for (b, (_, weight)) in to.enumerated() {
            var total = 0, active = 0, addresses = 0
            for (i, t) in set.targets.enumerated() {
                guard let l = t.locality, patterns[b].matches(l) else { continue }
                // In this bucket only if no more specific pattern of the rule matches it.
                if patterns.contains(where: { $0.matches(l) && $0.specificity > patterns[b].specificity }) { continue }
                total += 1
                if set.isActive(i) { active += 1; addresses += set.activeAddresses(i).count }
            }
            guard addresses > 0 else { continue }
            let effective = Double(weight) * min(1, factor * Double(active) / Double(total))
            weights[b] = UInt64((effective * 1_000_000).rounded())
        }
        let sum = weights.reduce(0, +)
        guard sum > 0 else { return (r, "") }
        var x = UInt64.random(in: 0..<sum, using: &random)
        for (b, w) in weights.enumerated() {
            if x < w { return (r, to[b].key) }
            x -= w
        }
        return nil
    }

    @Test(arguments: [UInt64(1), 7, 2024])
    func compiledPicksMatchTheScan(_ seed: UInt64) async {
        var rng = SplitMix64(seed: seed)
        var checked = 0
        var kinds = [0, 0, 0]  // no rule, every bucket 0, a bucket drawn
        for specIndex in 0..<300 {
            if specIndex % 50 == 49 { await Task.yield() }
            // Targets in random localities with random health.
            let inputs = (0..<Int(3 + rng.next() % 8)).map { i in
                let healthy = rng.next() % 3 != 0
                return target("t\(i)", Self.randomLocality(&rng), up: healthy ? ["10.0.\(specIndex % 200).\(i + 1)"] : [],
                              down: healthy ? [] : ["10.0.\(specIndex % 200).\(i + 1)"])
            }
            // Rules with random patterns and weights (sums, empty buckets and shadowed rules allowed).
            let rules = (0..<Int(1 + rng.next() % 4)).map { _ in
                var to: [String: Int] = [:]
                for _ in 0..<Int(1 + rng.next() % 4) {
                    // The same pattern twice in a rule (`r1` and `r1/*`) is refused by validation.
                    let key = Self.randomPattern(&rng)
                    let pattern = try! LocalityPattern(key)
                    if !to.keys.contains(where: { try! LocalityPattern($0) == pattern }) { to[key] = Int(rng.next() % 101) }
                }
                return DistributeRule(from: Self.randomPattern(&rng), to: to)
            }
            let factor = [1.0, 1.4, 2.0][Int(rng.next() % 3)]
            let set = CandidateSet(family: .ipv4, inputs: inputs, allDown: .failOpen, distribute: rules, overprovisioningFactor: factor)
            let policy = LocalityPolicy(distribute: rules, overprovisioningFactor: factor)
            let out = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(1, set.addressCount))
            defer { out.deallocate() }
            for _ in 0..<10 {
                let here = loc(Self.randomLocality(&rng))
                let drawSeed = rng.next()
                var a = SplitMix64(seed: drawSeed), b = SplitMix64(seed: drawSeed)
                let expected: (rule: Int, pattern: String)? = Self.reference(set, rules, factor: factor, client: here, random: &a)
                let d = policy.pick(from: set, client: client(here.description), rotation: 0, random: &b, into: out)
                #expect(a.state == b.state, "the same number of draws")
                if let expected {
                    kinds[expected.pattern.isEmpty ? 1 : 2] += 1
                    if expected.pattern.isEmpty {
                        #expect(d.tier.distributeBucket == nil && d.distributeRule == expected.rule, "every bucket 0: \(d.tier)")
                    } else {
                        let got = d.tier.distributeBucket
                        #expect(got?.rule == expected.rule, "rule for \(here): \(d.tier)")
                        if let got, let table = set.distribute {
                            #expect(table.rules[got.rule].buckets[got.bucket].pattern == expected.pattern)
                        }
                    }
                } else {
                    kinds[0] += 1
                    #expect(d.tier.distributeBucket == nil && d.distributeRule == -1, "no rule: \(d.tier) for \(here) in \(rules)")
                }
                checked += 1
            }
        }
        #expect(checked == 3000)
        #expect(kinds.allSatisfy { $0 >= 30 }, "each outcome is exercised: \(kinds)")
    }
}

@testable import GSLB
import Testing

/// Issue 4's acceptance rule: over 100,000 picks each Ratio target's share is within one
/// percentage point of its configured share. Seeded, so the result is the same on every run; the
/// seeds are not tuned (three seeds per split, all must pass).
@Suite("Ratio distribution", .serialized)
struct RatioDistributionTests {
    struct Split: Sendable, CustomTestStringConvertible {
        let ratios: [Int]
        /// Healthy flags; a down target must get nothing.
        let healthy: [Bool]
        init(_ ratios: [Int], healthy: [Bool]? = nil) {
            self.ratios = ratios
            self.healthy = healthy ?? ratios.map { _ in true }
        }
        var testDescription: String { ratios.map(String.init).joined(separator: "/") + (healthy.allSatisfy { $0 } ? "" : " with down targets") }

        /// Configured share of each target: its ratio over the healthy weighted total; a standby's
        /// share is 0 while any weighted target is up.
        var expectedShares: [Double] {
            let total = zip(ratios, healthy).filter { $0.1 }.map(\.0).reduce(0, +)
            return zip(ratios, healthy).map { $0.1 ? Double($0.0) / Double(total) : 0 }
        }
    }

    static let splits: [Split] = [
        Split([99, 1]),
        Split([70, 20, 10]),
        Split([1, 1, 1, 1]),
        Split([50, 50, 0]),  // 50/50 with one standby
        Split([60, 30, 10, 0], healthy: [true, false, true, true]),  // a down weighted target: the rest re-split
    ]

    @Test(arguments: splits, [UInt64(1), 2024, 0xDEAD_BEEF])
    func sharesWithinOnePoint(_ split: Split, seed: UInt64) async {
        let inputs = split.ratios.indices.map { i in
            target("t\(i)", ratio: split.ratios[i], up: split.healthy[i] ? ["10.0.0.\(i + 1)"] : [],
                   down: split.healthy[i] ? [] : ["10.0.0.\(i + 1)"])
        }
        let set = candidates(inputs)
        let policy = RatioPolicy()
        var rng = SplitMix64(seed: seed)
        var counts = [Int](repeating: 0, count: split.ratios.count)
        let buf = UnsafeMutableBufferPointer<Int32>.allocate(capacity: set.addressCount)
        defer { buf.deallocate() }
        buf.initialize(repeating: -1)
        let n = 100_000
        for q in 0..<n {
            let d = policy.pick(from: set, client: client(), rotation: UInt64(q), random: &rng, into: buf)
            precondition(d.answerCount == 1)
            counts[Int(buf[0])] += 1  // one address per target, in target order
            if q % 1000 == 999 { await Task.yield() }  // CPU-bound: leave the shared test threads to others
        }
        for (i, expected) in split.expectedShares.enumerated() {
            let share = Double(counts[i]) / Double(n)
            #expect(abs(share - expected) <= 0.01, "target t\(i): \(share * 100)% vs \(expected * 100)%")
            if expected == 0 { #expect(counts[i] == 0, "a standby or down target answered") }
        }
    }
}

/// `Ratio`: targets are drawn at random in proportion to their `ratio`.
///
/// - Without `maxAnswers`, one target is drawn per query and the reply carries all of its active
///   addresses (rotated per query). One target per reply keeps the split exact even behind
///   resolvers that reorder or shuffle answers.
/// - With `maxAnswers = k`, targets are drawn by weight *without replacement* (each later draw in
///   proportion to the remaining weights) and each drawn target contributes its addresses until k
///   addresses are written; the first answer is distributed as without `maxAnswers`.
/// - `ratio: 0` marks a standby: standbys answer (drawn uniformly) only when every weighted target
///   is down. Under all-down FailOpen the weighted targets answer as if healthy.
///
/// Cost: the weights are compiled into a Fenwick tree (`CandidateSet.draw`); a draw is one
/// descent, O(log targets), and a drawn target's weight is taken out of the per-loop `PickScratch`
/// overlay (and put back before returning), so a pick is O(answers × log targets). The draw is
/// the same as scanning the targets in order and subtracting weights: a seeded generator gives the
/// picks it always gave.
///
/// ECS scope 0: the answer does not depend on the client.
public struct RatioPolicy: AnswerPolicy {
    public let maxAnswers: Int?
    public var kind: PolicyKind { .ratio }

    public init(maxAnswers: Int? = nil) {
        self.maxAnswers = maxAnswers
    }

    public func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet, client: ClientContext, rotation: UInt64, random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>, scratch: PickScratch
    ) -> PolicyDecision {
        let draw = candidates.draw
        guard draw.total > 0, output.count > 0 else {
            return PolicyDecision(kind, candidates, tier: .none, scope: 0, count: 0)
        }
        let tier: DecisionTier = draw.standby ? .standby : .weighted
        guard let k = maxAnswers else {
            // One target, all its active addresses.
            let r = UInt64.random(in: 0..<draw.total, using: &random)
            let chosen = Int(draw.targets[Self.descend(draw, r, removed: nil, scratch)])
            let n = emitRotated(candidates.activeAddresses(chosen), rotation: rotation, limit: output.count,
                                into: output, scratch: scratch)
            return PolicyDecision(kind, candidates, tier: tier, scope: 0, count: n)
        }

        let limit = min(k, output.count)
        let n = draw.targets.count
        scratch.reserve(n)
        let removed = scratch.removed
        var remaining = draw.total
        var written = 0
        var draws = 0
        repeat {
            let r = UInt64.random(in: 0..<remaining, using: &random)
            let position = Self.descend(draw, r, removed: removed, scratch)
            let chosen = Int(draw.targets[position])
            // Take its weight out of the tree until this pick ends.
            let w = draw.weights[position]
            var i = position + 1
            while i <= n {
                removed[i] &+= w
                i += i & -i
                scratch.work &+= 1
            }
            scratch.drawn[draws] = Int32(position + 1)
            draws += 1
            remaining -= w
            written += emitRotated(candidates.activeAddresses(chosen), rotation: rotation, limit: limit - written,
                                   into: UnsafeMutableBufferPointer(rebasing: output[written...]), scratch: scratch)
        } while written < limit && remaining > 0
        // Put the tree back as it was (all zero), touching only the nodes this pick changed.
        for d in 0..<draws {
            var i = Int(scratch.drawn[d])
            while i <= n && removed[i] != 0 {
                removed[i] = 0
                i += i & -i
                scratch.work &+= 1
            }
        }
        return PolicyDecision(kind, candidates, tier: tier, scope: 0, count: written)
    }

    /// The position (0-based, into `draw.targets`) of the target whose weight interval holds `r`
    /// among the targets not drawn yet: the first whose running sum of weights exceeds `r`.
    @inline(__always)
    static func descend(_ draw: WeightedDraw, _ r: UInt64, removed: UnsafeMutableBufferPointer<UInt64>?,
                        _ scratch: PickScratch) -> Int {
        let n = draw.targets.count
        var position = 0
        var rest = r
        var step = draw.topStep
        draw.tree.withUnsafeBufferPointer { tree in
            while step > 0 {
                let next = position + step
                if next <= n {
                    let v = tree[next] &- (removed?[next] ?? 0)
                    if v <= rest {
                        position = next
                        rest -= v
                    }
                }
                step >>= 1
                scratch.work &+= 1
            }
        }
        return position
    }
}

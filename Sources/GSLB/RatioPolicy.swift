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
/// ECS scope 0: the answer does not depend on the client.
public struct RatioPolicy: AnswerPolicy {
    public let maxAnswers: Int?
    public var kind: PolicyKind { .ratio }

    public init(maxAnswers: Int? = nil) {
        self.maxAnswers = maxAnswers
    }

    public func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet, client: ClientContext, rotation: UInt64, random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>
    ) -> PolicyDecision {
        var weightedTotal: UInt64 = 0
        for i in candidates.targets.indices where candidates.isActive(i) && candidates.targets[i].ratio > 0 {
            weightedTotal += UInt64(candidates.targets[i].ratio)
        }
        let standby = weightedTotal == 0
        func weight(_ i: Int) -> UInt64 {
            guard candidates.isActive(i) else { return 0 }
            let r = candidates.targets[i].ratio
            return standby ? (r <= 0 ? 1 : 0) : UInt64(max(r, 0))
        }
        var remaining: UInt64 = 0
        for i in candidates.targets.indices { remaining += weight(i) }
        guard remaining > 0, output.count > 0 else {
            return PolicyDecision(kind, candidates, tier: .none, scope: 0, count: 0)
        }

        let limit = min(maxAnswers ?? Int.max, output.count)
        var written = 0
        repeat {
            // Draw among the targets not yet written, in proportion to weight.
            var r = UInt64.random(in: 0..<remaining, using: &random)
            var chosen = -1
            for i in candidates.targets.indices {
                let w = weight(i)
                guard w > 0, !Self.isWritten(i, candidates, output, written) else { continue }
                if r < w { chosen = i; break }
                r -= w
            }
            precondition(chosen >= 0, "weights changed during a draw")
            remaining -= weight(chosen)
            let room = maxAnswers == nil ? output.count - written : limit - written
            written += emitRotated(candidates, rotation: rotation, limit: room,
                                   into: UnsafeMutableBufferPointer(rebasing: output[written...])) { $0 == chosen }
        } while maxAnswers != nil && written < limit && remaining > 0
        return PolicyDecision(kind, candidates, tier: standby ? .standby : .weighted, scope: 0, count: written)
    }

    /// Whether some address of target `i` is already among the first `written` outputs.
    @inline(__always)
    private static func isWritten(_ i: Int, _ candidates: CandidateSet, _ output: UnsafeMutableBufferPointer<Int32>,
                                  _ written: Int) -> Bool {
        let range = candidates.activeAddresses(i)
        for j in 0..<written where range.contains(Int(output[j])) { return true }
        return false
    }
}

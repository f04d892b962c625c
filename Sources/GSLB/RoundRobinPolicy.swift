/// `RoundRobin`: every active candidate address, in spec order, rotated one position per query
/// (the rotation counter), capped by `maxAnswers`. ECS scope 0: the answer set does not depend on
/// the client. O(answers): the active addresses are compiled into one list.
public struct RoundRobinPolicy: AnswerPolicy {
    public let maxAnswers: Int?
    public var kind: PolicyKind { .roundRobin }

    public init(maxAnswers: Int? = nil) {
        self.maxAnswers = maxAnswers
    }

    public func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet, client: ClientContext, rotation: UInt64, random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>, scratch: PickScratch
    ) -> PolicyDecision {
        let n = emitRotated(candidates.active, 0..<candidates.active.count, rotation: rotation,
                            limit: maxAnswers ?? Int.max, into: output, scratch: scratch)
        return PolicyDecision(kind, candidates, tier: n > 0 ? .all : .none, scope: 0, count: n)
    }
}

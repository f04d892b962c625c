/// A way of choosing answers for one NameService: a pure value compiled into the plan, called once
/// per query (STYLE item 11).
///
/// Contract for implementations:
/// - pick only among `candidates` targets for which `isActive(_:)` holds, and only addresses in
///   `activeAddresses(_:)`; write address indices (into `candidates.addresses`) to `output`, at
///   most `output.count` of them, first answer first;
/// - return a `PolicyDecision` whose `answerCount` is the number written and which explains the
///   choice (tier, counts, ECS scope);
/// - be deterministic given `rotation` and the random source, and never allocate: no arrays,
///   strings or existential boxes on this path.
public protocol AnswerPolicy: Sendable {
    var kind: PolicyKind { get }

    /// - Parameters:
    ///   - rotation: a counter the caller bumps once per query (per event loop); policies that
    ///     rotate start at `rotation % count`.
    ///   - random: the random source for weighted choices (seeded in tests).
    ///   - output: caller-owned storage, reused across queries; `candidates.addressCount` entries
    ///     always suffice.
    func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet,
        client: ClientContext,
        rotation: UInt64,
        random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>
    ) -> PolicyDecision
}

extension NameServiceSpec {
    /// The policy this spec names, configured from it; nil for a policy word this server does not
    /// know (validation reports that).
    public func makePolicy() -> (any AnswerPolicy)? {
        let failoverRules = failover
        switch policy {
        case .roundRobin: return RoundRobinPolicy(maxAnswers: maxAnswers)
        case .ratio: return RatioPolicy(maxAnswers: maxAnswers)
        case .locality: return LocalityPolicy(maxAnswers: maxAnswers, failover: failoverRules)
        default: return nil
        }
    }
}

/// Shared by the policies: emits the active addresses of the targets `include` selects, in target
/// order, rotated by `rotation` and capped by `limit`. Two passes over the targets, no allocation.
@inline(__always)
func emitRotated(
    _ candidates: CandidateSet, rotation: UInt64, limit: Int, into output: UnsafeMutableBufferPointer<Int32>,
    where include: (Int) -> Bool
) -> Int {
    var total = 0
    for i in candidates.targets.indices where candidates.isActive(i) && include(i) {
        total += candidates.activeAddresses(i).count
    }
    guard total > 0 else { return 0 }
    let start = Int(rotation % UInt64(total))
    let k = min(total, limit, output.count)
    var p = 0
    for i in candidates.targets.indices where candidates.isActive(i) && include(i) {
        for a in candidates.activeAddresses(i) {
            let position = p >= start ? p - start : p - start + total
            if position < k { output[position] = Int32(a) }
            p += 1
        }
    }
    return k
}

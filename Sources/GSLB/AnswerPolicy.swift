/// A way of choosing answers for one NameService: a pure value compiled into the plan, called once
/// per query (a narrow protocol whose result carries its reason, as swift-certificates' policies).
///
/// Contract for implementations:
/// - pick only among `candidates` targets for which `isActive(_:)` holds, and only addresses in
///   `activeAddresses(_:)`; write address indices (into `candidates.addresses`) to `output`, at
///   most `output.count` of them, first answer first;
/// - return a `PolicyDecision` whose `answerCount` is the number written and which explains the
///   choice (tier, counts, ECS scope);
/// - be deterministic given `rotation` and the random source, and never allocate: no arrays,
///   strings or existential boxes on this path;
/// - cost O(answers) (plus O(log targets) per weighted draw), whatever the number of targets,
///   addresses or failover rules: what depends only on the spec and health is compiled into the
///   `CandidateSet` (its tier lists, weight tree and failover resolution), never redone per query.
public protocol AnswerPolicy: Sendable {
    var kind: PolicyKind { get }

    /// - Parameters:
    ///   - rotation: a counter the caller bumps once per query (per event loop); policies that
    ///     rotate start at `rotation % count`.
    ///   - random: the random source for weighted choices (seeded in tests).
    ///   - output: caller-owned storage, reused across queries; `candidates.addressCount` entries
    ///     always suffice.
    ///   - scratch: caller-owned working memory, reused across queries (one per event loop).
    func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet,
        client: ClientContext,
        rotation: UInt64,
        random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>,
        scratch: PickScratch
    ) -> PolicyDecision
}

extension AnswerPolicy {
    /// The same with scratch memory of its own (allocates: tests and tools; the query path passes
    /// its loop's `PickScratch`).
    public func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet, client: ClientContext, rotation: UInt64, random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>
    ) -> PolicyDecision {
        pick(from: candidates, client: client, rotation: rotation, random: &random, into: output, scratch: PickScratch())
    }
}

/// Working memory for picks, owned by one event loop (not `Sendable`): Ratio's draw without
/// replacement keeps the weight it removed from its compiled tree here, and puts it back before
/// returning, so the compiled plan stays immutable and shared. It grows (rarely: to the most
/// weighted targets one name has) and is then reused, so picks do not allocate.
///
/// `work` counts the steps picks took (tree steps, look-ups and addresses written): what the
/// regression tests bound to show a pick's cost does not grow with the spec's size.
public final class PickScratch {
    /// Weight removed per Fenwick node (1-based; all zero between picks).
    private(set) var removed: UnsafeMutableBufferPointer<UInt64>
    /// Positions (1-based, into the draw) drawn by the current pick.
    private(set) var drawn: UnsafeMutableBufferPointer<Int32>
    /// Steps taken by picks since this scratch was made (or `work` was reset).
    public var work: Int = 0

    /// `capacity`: weighted targets per name it holds before growing.
    public init(capacity: Int = 0) {
        removed = .allocate(capacity: capacity + 1)
        removed.initialize(repeating: 0)
        drawn = .allocate(capacity: capacity + 1)
        drawn.initialize(repeating: 0)
    }

    deinit {
        removed.deallocate()
        drawn.deallocate()
    }

    /// Room for a draw over `n` targets (grows only when a bigger name is met).
    @inline(__always)
    func reserve(_ n: Int) {
        guard n + 1 > removed.count else { return }
        removed.deallocate()
        drawn.deallocate()
        removed = .allocate(capacity: n + 1)
        removed.initialize(repeating: 0)
        drawn = .allocate(capacity: n + 1)
        drawn.initialize(repeating: 0)
    }
}

extension NameServiceSpec {
    /// The policy this spec names, configured from it; nil for a policy word this server does not
    /// know (validation reports that).
    public func makePolicy() -> (any AnswerPolicy)? {
        let failoverRules = failover
        switch policy {
        case .roundRobin: return RoundRobinPolicy(maxAnswers: maxAnswers)
        case .ratio: return RatioPolicy(maxAnswers: maxAnswers)
        case .locality:
            return LocalityPolicy(maxAnswers: maxAnswers, failover: failoverRules, distribute: distribute,
                                  overprovisioningFactor: overprovisioningFactor ?? NameServiceSpec.defaultOverprovisioningFactor)
        default: return nil
        }
    }
}

/// Shared by the policies: writes `list[range]` rotated by `rotation` (the entry at
/// `rotation % count` first), at most `limit` and `output.count` of them. O(written).
@inline(__always)
func emitRotated(_ list: [Int32], _ range: Range<Int>, rotation: UInt64, limit: Int,
                 into output: UnsafeMutableBufferPointer<Int32>, scratch: PickScratch) -> Int {
    let total = range.count
    guard total > 0 else { return 0 }
    let k = min(total, limit, output.count)
    var j = Int(rotation % UInt64(total))
    let base = range.lowerBound
    list.withUnsafeBufferPointer { l in
        for p in 0..<k {
            output[p] = l[base + j]
            j += 1
            if j == total { j = 0 }
        }
    }
    scratch.work &+= k + 1
    return k
}

/// The same for one target's contiguous address range (`activeAddresses(i)`).
@inline(__always)
func emitRotated(_ range: Range<Int>, rotation: UInt64, limit: Int, into output: UnsafeMutableBufferPointer<Int32>,
                 scratch: PickScratch) -> Int {
    let total = range.count
    guard total > 0 else { return 0 }
    let k = min(total, limit, output.count)
    var j = Int(rotation % UInt64(total))
    for p in 0..<k {
        output[p] = Int32(range.lowerBound + j)
        j += 1
        if j == total { j = 0 }
    }
    scratch.work &+= k + 1
    return k
}

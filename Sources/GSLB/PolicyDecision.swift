/// Why a policy answered what it did: returned with every pick, shown by the explain query, and
/// the source of the reply's ECS scope.
public struct PolicyDecision: Sendable, Hashable, CustomStringConvertible {
    public var policy: PolicyKind
    /// Which group of candidates the answer came from.
    public var tier: DecisionTier
    /// Healthy targets of the family / all targets of the family.
    public var healthyTargets: Int
    public var totalTargets: Int
    /// Whether all-down handling applied.
    public var mode: CandidateSet.Mode
    /// The ECS SCOPE PREFIX-LENGTH for the reply (see the module README for the rule).
    public var ecsScopePrefixLength: UInt8
    /// How many address indices were written to the output.
    public var answerCount: Int
    /// Locality: the `spec.distribute` rule that matched the client (-1: none). Its bucket is in
    /// `tier` when one was drawn; a failover or any-healthy tier with a rule means every bucket
    /// had effective weight 0.
    public var distributeRule: Int = -1

    public init(policy: PolicyKind, tier: DecisionTier, healthyTargets: Int, totalTargets: Int,
                mode: CandidateSet.Mode, ecsScopePrefixLength: UInt8, answerCount: Int) {
        self.policy = policy
        self.tier = tier
        self.healthyTargets = healthyTargets
        self.totalTargets = totalTargets
        self.mode = mode
        self.ecsScopePrefixLength = ecsScopePrefixLength
        self.answerCount = answerCount
    }

    init(_ policy: PolicyKind, _ candidates: CandidateSet, tier: DecisionTier, scope: UInt8, count: Int) {
        self.init(policy: policy, tier: tier, healthyTargets: candidates.healthyTargetCount,
                  totalTargets: candidates.targets.count, mode: candidates.mode, ecsScopePrefixLength: scope,
                  answerCount: count)
    }

    /// `policy=Locality tier=same-zone healthy=2/3 mode=healthy scope=16 answers=1`.
    public var description: String {
        "policy=\(policy) tier=\(tier) healthy=\(healthyTargets)/\(totalTargets) mode=\(mode) scope=\(ecsScopePrefixLength) answers=\(answerCount)"
    }

    /// The explain text for `dig … CH TXT`: the decision plus the client and the chosen
    /// addresses. Allocates; for the explain path only.
    public func explanation(client: ClientContext, candidates: CandidateSet,
                            chosen: UnsafeBufferPointer<Int32>) -> String {
        var s = description
        s += " client=\(client.address) from=\(client.source)"
        s += " locality=\(client.locality?.description ?? "-") (\(client.localitySource))"
        let picked = chosen.prefix(answerCount).map { candidates.addresses[Int($0)].description }
        s += " chosen=" + (picked.isEmpty ? "-" : picked.joined(separator: ","))
        return s
    }
}

/// The group of candidates an answer came from. A struct wrapping a private enum:
/// new policies add tiers without breaking switches elsewhere.
public struct DecisionTier: Sendable, Hashable, CustomStringConvertible {
    private enum Base: Sendable, Hashable {
        case all, weighted, standby, sameSubzone, sameZone, sameRegion, failover(Int), anyHealthy, noLocality, none
        case distribute(rule: Int, bucket: Int)
    }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// Every active candidate (RoundRobin).
    public static let all = DecisionTier(.all)
    /// Ratio: targets with ratio > 0.
    public static let weighted = DecisionTier(.weighted)
    /// Ratio: every weighted target is down; ratio-0 standbys answer.
    public static let standby = DecisionTier(.standby)
    public static let sameSubzone = DecisionTier(.sameSubzone)
    public static let sameZone = DecisionTier(.sameZone)
    public static let sameRegion = DecisionTier(.sameRegion)
    /// Locality: the region named by `spec.failover[rule].to`.
    public static func failover(rule: Int) -> DecisionTier { DecisionTier(.failover(rule)) }
    /// Locality: `spec.distribute[rule]` matched the client and drew its bucket `bucket` (an
    /// index into `DistributeTable.Rule.buckets`, sorted by pattern).
    public static func distribute(rule: Int, bucket: Int) -> DecisionTier { DecisionTier(.distribute(rule: rule, bucket: bucket)) }
    /// Locality: nothing near and no failover rule matched; any active target.
    public static let anyHealthy = DecisionTier(.anyHealthy)
    /// Locality: the client has no locality (no table match, no default): every active target.
    public static let noLocality = DecisionTier(.noLocality)
    /// Nothing to answer (FailClosed, or no target of the family).
    public static let none = DecisionTier(.none)

    /// The failover rule index for a failover tier.
    public var failoverRule: Int? {
        if case .failover(let i) = base { return i }
        return nil
    }

    /// The distribute rule and the bucket drawn, for a distribute tier.
    public var distributeBucket: (rule: Int, bucket: Int)? {
        if case .distribute(let r, let b) = base { return (r, b) }
        return nil
    }

    public var description: String {
        switch base {
        case .all: "all"
        case .weighted: "weighted"
        case .standby: "standby"
        case .sameSubzone: "same-subzone"
        case .sameZone: "same-zone"
        case .sameRegion: "same-region"
        case .failover(let i): "failover[\(i)]"
        case .anyHealthy: "any-healthy"
        case .noLocality: "no-locality"
        case .none: "none"
        case .distribute(let r, _): "distribute[\(r)]"
        }
    }
}

extension PolicyDecision {
    /// The explain answer as TXT strings, each `key=value` and at most 255 bytes:
    /// `family=A`, `policy=Locality`, `client=10.20.0.0 from=ecs/16`,
    /// `locality=us-west/us-west-1a (matched /16)`, `tier=same-zone`,
    /// `healthy=2/3 mode=healthy`, `scope=16`, `chosen=10.10.1.7,10.10.1.8`, and, when an
    /// operator drained targets, `drained=b,c` (those are not counted in `healthy=`).
    /// Allocates; for the explain path only.
    public func explanationStrings(family: String, client: ClientContext, candidates: CandidateSet,
                                   chosen: UnsafeBufferPointer<Int32>) -> [String] {
        let picked = chosen.prefix(answerCount).compactMap { i in
            candidates.addresses.indices.contains(Int(i)) ? candidates.addresses[Int(i)].description : nil
        }
        func capped(_ text: String) -> String {
            text.utf8.count > 255 ? String(decoding: text.utf8.prefix(250), as: UTF8.self) + ",..." : text
        }
        let chosenText = capped("chosen=" + (picked.isEmpty ? "-" : picked.joined(separator: ",")))
        let drainedText = candidates.drained.isEmpty ? [] : [capped("drained=" + candidates.drained.joined(separator: ","))]
        return base(family: family, client: client, chosenText: chosenText)
            + distributeStrings(candidates, capped) + drainedText
    }

    private func base(family: String, client: ClientContext, chosenText: String) -> [String] {
        [
            "family=\(family)",
            "policy=\(policy)",
            "client=\(client.address) from=\(client.source)",
            "locality=\(client.locality?.description ?? "-") (\(client.localitySource))",
            "tier=\(tier)",
            "healthy=\(healthyTargets)/\(totalTargets) mode=\(mode)",
            "scope=\(ecsScopePrefixLength)",
            chosenText,
        ]
    }

    /// For a client a `distribute` rule matched: `distribute=spec.distribute[0] from=us-west/*`,
    /// one `bucket=<pattern> weight=99 healthy=2/4 effective=69.3 share=98.6%` per bucket, and
    /// `drawn=<pattern>` (or `drawn=- (every bucket has effective weight 0)`).
    private func distributeStrings(_ candidates: CandidateSet, _ capped: (String) -> String) -> [String] {
        let drawn = tier.distributeBucket
        let r = drawn?.rule ?? distributeRule
        guard r >= 0, let table = candidates.distribute, table.rules.indices.contains(r) else { return [] }
        let rule = table.rules[r]
        /// One decimal, none when it is 0: `69.3`, `1`.
        func number(_ x: Double) -> String {
            let tenths = Int((max(0, x) * 10).rounded())
            return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
        }
        var out = [capped("distribute=spec.distribute[\(r)] from=\(rule.from)")]
        for (b, bucket) in rule.buckets.enumerated() {
            out.append(capped("bucket=\(bucket.pattern) weight=\(bucket.weight) healthy=\(bucket.activeTargets)/\(bucket.totalTargets) "
                + "effective=\(number(bucket.effectiveWeight)) share=\(number(rule.share(b) * 100))%"))
        }
        if let drawn, rule.buckets.indices.contains(drawn.bucket) {
            out.append(capped("drawn=\(rule.buckets[drawn.bucket].pattern)"))
        } else {
            out.append("drawn=- (every bucket has effective weight 0)")
        }
        return out
    }
}

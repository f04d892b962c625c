/// `Locality`: the targets nearest the client.
///
/// Tiers, nearest first; the first non-empty one answers:
/// 1. same subzone, 2. same zone, 3. same region (see `Locality.tier(to:)`),
/// 4. for each `spec.failover` rule in order whose `from` is the client's region, the targets in
///    region `to`,
/// 5. any active target (including targets without a locality).
/// Within the tier, addresses rotate as in RoundRobin, capped by `maxAnswers`. A client with no
/// locality (no table match and no default) gets every active target.
///
/// `distribute` (issue 15, Istio's `localityLbSetting.distribute`): for a client whose locality
/// the `from` of a rule matches (the first such rule), each reply draws one `to` bucket in
/// proportion to its health-adjusted weight (`DistributeTable`) and answers the bucket's active
/// addresses, rotated and capped as above: one bucket per reply, so the split survives resolvers
/// that reorder answers. When every bucket of the rule has effective weight 0, the client's
/// `failover` rules apply, then any active target. A client no rule matches gets the tiers.
///
/// Cost: the tiers are compiled into the `CandidateSet` (the active addresses per subzone, zone
/// and region, and the failover rules resolved per client region when the set was compiled for
/// this policy's rules: `NamePlan` does that), so a pick is at most four hash look-ups of the
/// client's locality segments plus the answers written; `distribute` adds at most four look-ups
/// of the client's prefixes and one binary search of the rule's cumulative weights. A set compiled for other rules (tests
/// building one by hand) falls back to trying the rules in order.
///
/// ECS scope: `client.localityScopePrefixLength` — the widest prefix around the client's address
/// within which the localities table gives the same result, hence the same answer (0 for
/// packet-source clients and for FailClosed). The module README explains why the matched entry's
/// own length is not always enough.
public struct LocalityPolicy: AnswerPolicy {
    public let maxAnswers: Int?
    public let failover: [FailoverRule]
    public let distribute: [DistributeRule]
    public let overprovisioningFactor: Double
    public var kind: PolicyKind { .locality }

    public init(maxAnswers: Int? = nil, failover: [FailoverRule] = [], distribute: [DistributeRule] = [],
                overprovisioningFactor: Double = NameServiceSpec.defaultOverprovisioningFactor) {
        self.maxAnswers = maxAnswers
        self.failover = failover
        self.distribute = distribute
        self.overprovisioningFactor = overprovisioningFactor
    }

    public func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet, client: ClientContext, rotation: UInt64, random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>, scratch: PickScratch
    ) -> PolicyDecision {
        let limit = maxAnswers ?? Int.max
        guard candidates.mode != .allDownFailClosed, !candidates.targets.isEmpty else {
            return PolicyDecision(kind, candidates, tier: .none, scope: 0, count: 0)
        }
        let scope = client.localityScopePrefixLength
        let all = 0..<candidates.active.count
        guard let here = client.locality else {
            let n = emitRotated(candidates.active, all, rotation: rotation, limit: limit, into: output, scratch: scratch)
            return PolicyDecision(kind, candidates, tier: .noLocality, scope: scope, count: n)
        }
        let near = candidates.near
        // distribute: the client's rule, one draw over its cumulative weights, the bucket's addresses.
        var distributeRule = -1
        if let table = candidates.distribute, let r = table.rule(for: here) {
            scratch.work &+= 4
            let total = table.rules[r].total
            if total > 0 {
                let b = table.bucket(r, at: UInt64.random(in: 0..<total, using: &random))
                let n = emitRotated(table.addresses, table.rules[r].buckets[b].range, rotation: rotation, limit: limit,
                                    into: output, scratch: scratch)
                return PolicyDecision(kind, candidates, tier: .distribute(rule: r, bucket: b), scope: scope, count: n)
            }
            distributeRule = r
        }
        scratch.work &+= 3
        if distributeRule < 0, let (best, range) = near.nearest(to: here) {
            let n = emitRotated(near.addresses, range, rotation: rotation, limit: limit, into: output, scratch: scratch)
            let tier: DecisionTier = switch best {
            case .sameSubzone: .sameSubzone
            case .sameZone: .sameZone
            default: .sameRegion
            }
            return PolicyDecision(kind, candidates, tier: tier, scope: scope, count: n)
        }
        if !failover.isEmpty {
            // `==` on the same array storage (the usual case: both come from one spec) is O(1).
            if candidates.failoverRules == failover {
                scratch.work &+= 1
                if let (rule, range) = candidates.failoverByRegion[here.region] {
                    let n = emitRotated(near.addresses, range, rotation: rotation, limit: limit, into: output, scratch: scratch)
                    var d = PolicyDecision(kind, candidates, tier: .failover(rule: rule), scope: scope, count: n)
                    d.distributeRule = distributeRule
                    return d
                }
            } else {
                for (ruleIndex, rule) in failover.enumerated() where rule.from == here.region {
                    scratch.work &+= 1
                    if let range = near.regions[rule.to] {
                        let n = emitRotated(near.addresses, range, rotation: rotation, limit: limit, into: output, scratch: scratch)
                        var d = PolicyDecision(kind, candidates, tier: .failover(rule: ruleIndex), scope: scope, count: n)
                        d.distributeRule = distributeRule
                        return d
                    }
                }
            }
        }
        let n = emitRotated(candidates.active, all, rotation: rotation, limit: limit, into: output, scratch: scratch)
        var d = PolicyDecision(kind, candidates, tier: .anyHealthy, scope: scope, count: n)
        d.distributeRule = distributeRule
        return d
    }
}

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
/// ECS scope: `client.localityScopePrefixLength` — the widest prefix around the client's address
/// within which the localities table gives the same result, hence the same answer (0 for
/// packet-source clients and for FailClosed). The module README explains why the matched entry's
/// own length is not always enough.
public struct LocalityPolicy: AnswerPolicy {
    public let maxAnswers: Int?
    public let failover: [FailoverRule]
    public var kind: PolicyKind { .locality }

    public init(maxAnswers: Int? = nil, failover: [FailoverRule] = []) {
        self.maxAnswers = maxAnswers
        self.failover = failover
    }

    public func pick<R: RandomNumberGenerator>(
        from candidates: CandidateSet, client: ClientContext, rotation: UInt64, random: inout R,
        into output: UnsafeMutableBufferPointer<Int32>
    ) -> PolicyDecision {
        let limit = maxAnswers ?? Int.max
        guard candidates.mode != .allDownFailClosed, !candidates.targets.isEmpty else {
            return PolicyDecision(kind, candidates, tier: .none, scope: 0, count: 0)
        }
        let scope = client.localityScopePrefixLength
        let targets = candidates.targets
        guard let here = client.locality else {
            let n = emitRotated(candidates, rotation: rotation, limit: limit, into: output) { _ in true }
            return PolicyDecision(kind, candidates, tier: .noLocality, scope: scope, count: n)
        }

        var best = LocalityTier.otherRegion
        for i in targets.indices where candidates.isActive(i) {
            if let there = targets[i].locality { best = min(best, here.tier(to: there)) }
        }
        if best != .otherRegion {
            let n = emitRotated(candidates, rotation: rotation, limit: limit, into: output) { i in
                targets[i].locality.map { here.tier(to: $0) == best } ?? false
            }
            let tier: DecisionTier = switch best {
            case .sameSubzone: .sameSubzone
            case .sameZone: .sameZone
            default: .sameRegion
            }
            return PolicyDecision(kind, candidates, tier: tier, scope: scope, count: n)
        }

        for (ruleIndex, rule) in failover.enumerated() where rule.from == here.region {
            let n = emitRotated(candidates, rotation: rotation, limit: limit, into: output) { i in
                targets[i].locality?.region == rule.to
            }
            if n > 0 { return PolicyDecision(kind, candidates, tier: .failover(rule: ruleIndex), scope: scope, count: n) }
        }

        let n = emitRotated(candidates, rotation: rotation, limit: limit, into: output) { _ in true }
        return PolicyDecision(kind, candidates, tier: .anyHealthy, scope: scope, count: n)
    }
}

import DNSWire
import DNSZone
import GSLB

/// How one global name (a NameService's FQDN) is answered: its policy and, per address family,
/// the candidates it picks from. Compiled by the reconciler whenever the spec, the zones or a
/// target's addresses change; read by the query path, which only picks.
///
/// The candidates' `addresses` are, in the same order, the records the `GlobalNameTable` entry
/// of the same index (in the same shard) has pre-rendered: a pick's address index *i* is record
/// *i* of the family.
public struct NamePlan: Sendable {
    public let policy: any AnswerPolicy
    /// Whether picks depend on the client (Locality): only then is the localities table consulted.
    public let usesClient: Bool
    public let ipv4: CandidateSet
    public let ipv6: CandidateSet
    /// The policy's index in `NamePlan.policyLabels` (what the answer counters read per query,
    /// without asking the existential).
    public let policyIndex: Int

    /// The `policy` label values of the answer counters: answers from zone data, then one per
    /// GSLB policy (`ResponderStats.policies` is this list).
    public static let policyLabels = ["static", "RoundRobin", "Ratio", "Locality"]

    public init(policy: any AnswerPolicy, ipv4: CandidateSet, ipv6: CandidateSet) {
        self.policy = policy
        self.usesClient = policy.kind == .locality
        self.policyIndex = Self.policyLabels.firstIndex(of: policy.kind.rawValue) ?? -1
        // Locality resolves its failover rules per client region at compile time, not per query.
        if let locality = policy as? LocalityPolicy {
            var ipv4 = ipv4.failoverRules == locality.failover ? ipv4 : ipv4.withFailover(locality.failover)
            var ipv6 = ipv6.failoverRules == locality.failover ? ipv6 : ipv6.withFailover(locality.failover)
            // And its distribute rules with health (issue 15); only names with rules carry a table.
            func needsDistribute(_ set: CandidateSet) -> Bool {
                set.distribute?.source != locality.distribute
                    || set.distribute?.overprovisioningFactor != locality.overprovisioningFactor
            }
            if !locality.distribute.isEmpty {
                if needsDistribute(ipv4) { ipv4 = ipv4.withDistribute(locality.distribute, overprovisioningFactor: locality.overprovisioningFactor) }
                if needsDistribute(ipv6) { ipv6 = ipv6.withDistribute(locality.distribute, overprovisioningFactor: locality.overprovisioningFactor) }
            }
            self.ipv4 = ipv4
            self.ipv6 = ipv6
        } else {
            self.ipv4 = ipv4
            self.ipv6 = ipv6
        }
    }

    /// A spec's plan from its literal addresses, each address's health given by `isHealthy` (tests,
    /// the fuzzer and tools; the reconciler also resolves target FQDNs and applies probe verdicts).
    /// Nil for a policy word this server does not know.
    public init?(spec: NameServiceSpec,
                 isHealthy: (_ target: String, _ address: IPAddress) -> Bool = { _, _ in true }) {
        guard let policy = spec.makePolicy() else { return nil }
        self.init(policy: policy, ipv4: CandidateSet(spec: spec, family: .ipv4, isHealthy: isHealthy),
                  ipv6: CandidateSet(spec: spec, family: .ipv6, isHealthy: isHealthy))
    }

    /// The `GlobalNameTable` entry rendering exactly these candidates.
    public func tableEntry(fqdn: DNSName, ttl: UInt32, zone: DNSName) -> GlobalNameTable.Entry {
        GlobalNameTable.Entry(
            fqdn: fqdn, ttl: ttl,
            ipv4: ipv4.addresses.compactMap { if case .v4(let a) = $0 { a } else { nil } },
            ipv6: ipv6.addresses.compactMap { if case .v6(let a) = $0 { a } else { nil } },
            zone: zone)
    }
}

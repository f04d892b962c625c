/// One replica's own view of a NameService, kept under `status.replicas` when several replicas
/// share a store: every replica probes the targets itself, so they can disagree.
public struct ReplicaStatus: Sendable, Hashable, Codable {
    /// The replica's name (`replica.name`, default its identity).
    public var replica: String
    public var observedGeneration: Int64
    public var conditions: [Condition]
    public var targets: [TargetStatus]

    public init(replica: String, observedGeneration: Int64, conditions: [Condition], targets: [TargetStatus]) {
        self.replica = replica
        self.observedGeneration = observedGeneration
        self.conditions = conditions
        self.targets = targets
    }
}

extension ConditionReason {
    /// Healthy=False when the replicas do not see the same targets down.
    public static let someReplicasSeeTargetsDown = ConditionReason(rawValue: "SomeReplicasSeeTargetsDown")
}

extension NameServiceStatus {
    /// The status to store when `replica` writes `own` (its view) over `existing` (the stored,
    /// merged status). A pure rule, so every replica merges alike:
    ///
    /// - `replicas` gets `own` as this replica's entry (replacing its previous one); entries of
    ///   other replicas for an older generation are dropped (they rewrite theirs once they have
    ///   reconciled the new spec), so a replica that is gone for good disappears at the next spec
    ///   change.
    /// - `targets`: a target address is healthy only if every replica that is current (same
    ///   generation as `own`) sees it healthy; `lastError` names the replicas that see it down.
    /// - `conditions`: Accepted, Programmed and Ready are this replica's. Healthy is this replica's
    ///   when every current replica sees the same targets down (none, or the same ones); otherwise
    ///   Healthy=False, reason `SomeReplicasSeeTargetsDown`, naming which replica sees which
    ///   target down. `lastTransitionTime` is kept while a condition's status does not change.
    public static func merging(_ own: NameServiceStatus, from replica: String, into existing: NameServiceStatus?,
                               generation: Int64) -> NameServiceStatus {
        var replicas = (existing?.replicas ?? []).filter {
            $0.replica != replica && $0.observedGeneration >= own.observedGeneration
        }
        replicas.append(ReplicaStatus(replica: replica, observedGeneration: own.observedGeneration,
                                      conditions: own.conditions, targets: own.targets))
        replicas.sort { $0.replica < $1.replica }
        let current = replicas.filter { $0.observedGeneration == own.observedGeneration }

        var targets = own.targets
        for i in targets.indices {
            let seenDown = current.compactMap { r -> String? in
                guard let t = r.targets.first(where: { $0.name == targets[i].name && $0.address == targets[i].address }),
                      !t.healthy else { return nil }
                return "\(r.replica): \(t.lastError ?? "down")"
            }
            targets[i].healthy = seenDown.isEmpty
            targets[i].lastError = seenDown.isEmpty ? nil : seenDown.joined(separator: "; ")
        }

        var merged = NameServiceStatus(observedGeneration: own.observedGeneration,
                                       conditions: existing?.conditions ?? [], targets: targets, replicas: replicas)
        var conditions = own.conditions
        let downSets = current.map { r in
            Set(r.targets.filter { !$0.healthy }.map { "\($0.name) \($0.address.isEmpty ? "(no address)" : $0.address)" })
        }
        if current.count > 1, Set(downSets).count > 1, let i = conditions.firstIndex(where: { $0.type == .healthy }) {
            let views = zip(current, downSets).map { r, down in
                down.isEmpty ? "\(r.replica) sees every target healthy"
                    : "\(r.replica) sees \(down.sorted().joined(separator: ", ")) down"
            }
            conditions[i].status = .false
            conditions[i].reason = .someReplicasSeeTargetsDown
            conditions[i].message = views.joined(separator: "; ")
        }
        merged.conditions.removeAll { c in !conditions.contains { $0.type == c.type } }
        for c in conditions { merged.setCondition(c) }
        return merged
    }
}

/// What the server observed about a NameService: conditions and per-address target health.
public struct NameServiceStatus: Sendable, Hashable, Codable {
    /// The `metadata.generation` the status was computed from.
    public var observedGeneration: Int64
    public var conditions: [Condition]
    public var targets: [TargetStatus]
    /// With many replicas on one store (etcd): each replica's own view, sorted by replica name;
    /// `conditions` and `targets` above aggregate them (see `merging`). Empty with one replica.
    public var replicas: [ReplicaStatus]

    public init(observedGeneration: Int64 = 0, conditions: [Condition] = [], targets: [TargetStatus] = [],
                replicas: [ReplicaStatus] = []) {
        self.observedGeneration = observedGeneration
        self.conditions = conditions
        self.targets = targets
        self.replicas = replicas
    }

    private enum CodingKeys: String, CodingKey { case observedGeneration, conditions, targets, replicas }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(observedGeneration, forKey: .observedGeneration)
        try c.encode(conditions, forKey: .conditions)
        try c.encode(targets, forKey: .targets)
        if !replicas.isEmpty { try c.encode(replicas, forKey: .replicas) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        observedGeneration = try c.decodeIfPresent(Int64.self, forKey: .observedGeneration) ?? 0
        conditions = try c.decodeIfPresent([Condition].self, forKey: .conditions) ?? []
        targets = try c.decodeIfPresent([TargetStatus].self, forKey: .targets) ?? []
        replicas = try c.decodeIfPresent([ReplicaStatus].self, forKey: .replicas) ?? []
    }

    /// The condition of `type`, if present.
    public func condition(_ type: ConditionType) -> Condition? {
        conditions.first { $0.type == type }
    }

    /// Adds or replaces the condition of `condition.type`, as Kubernetes' `SetStatusCondition` does:
    /// when the status is unchanged the existing `lastTransitionTime` is kept (only reason, message
    /// and observedGeneration are updated), so the time says when the status last *changed*.
    /// Returns true when anything changed.
    @discardableResult
    public mutating func setCondition(_ condition: Condition) -> Bool {
        guard let i = conditions.firstIndex(where: { $0.type == condition.type }) else {
            conditions.append(condition)
            return true
        }
        var updated = condition
        if conditions[i].status == condition.status {
            updated.lastTransitionTime = conditions[i].lastTransitionTime
        }
        guard updated != conditions[i] else { return false }
        conditions[i] = updated
        return true
    }
}

/// The health of one target address.
public struct TargetStatus: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public var healthy: Bool
    public var lastTransitionTime: String?
    /// Why the last probe failed (`connection refused`), or why the target has no address.
    public var lastError: String?
    /// The operator drain in force on the target: it is not answered whatever `healthy` says.
    public var drain: TargetDrain?
    /// When the last probe of the address ended, and how long its last successful connect took.
    /// Not stored (they change every interval): the API fills them in from the replica's health
    /// checker when a NameService is read.
    public var lastProbeTime: String?
    public var lastProbeLatencyMilliseconds: Double?

    public init(name: String, address: String, healthy: Bool, lastTransitionTime: String? = nil, lastError: String? = nil,
                drain: TargetDrain? = nil, lastProbeTime: String? = nil, lastProbeLatencyMilliseconds: Double? = nil) {
        self.name = name
        self.address = address
        self.healthy = healthy
        self.lastTransitionTime = lastTransitionTime
        self.lastError = lastError
        self.drain = drain
        self.lastProbeTime = lastProbeTime
        self.lastProbeLatencyMilliseconds = lastProbeLatencyMilliseconds
    }

    private enum CodingKeys: String, CodingKey {
        case name, address, healthy, lastTransitionTime, lastError, drain, lastProbeTime, lastProbeLatencyMilliseconds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        address = try c.decodeIfPresent(String.self, forKey: .address) ?? ""
        healthy = try c.decodeIfPresent(Bool.self, forKey: .healthy) ?? false
        lastTransitionTime = try c.decodeIfPresent(String.self, forKey: .lastTransitionTime)
        lastError = try c.decodeIfPresent(String.self, forKey: .lastError)
        drain = try c.decodeIfPresent(TargetDrain.self, forKey: .drain)
        lastProbeTime = try c.decodeIfPresent(String.self, forKey: .lastProbeTime)
        lastProbeLatencyMilliseconds = try c.decodeIfPresent(Double.self, forKey: .lastProbeLatencyMilliseconds)
    }
}

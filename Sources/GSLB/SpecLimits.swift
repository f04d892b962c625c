/// What one NameService may hold (configuration section `limits`), checked by `validate` with
/// 422s that name the field. The defaults keep every spec cheap to compile and every answer
/// renderable: 1,024 addresses of 28 bytes (AAAA) are 28 KiB, far inside a 65,535-byte TCP reply
/// even with the longest name, NSID, Client Subnet and a CNAME chain in front (the responder tests
/// check the ceilings). `ceilings` are the most the configuration may raise them to.
public struct SpecLimits: Sendable, Hashable {
    /// `spec.targets` entries.
    public var maxTargetsPerNameService: Int
    /// Literal addresses of one target (`spec.targets[i].addresses`).
    public var maxAddressesPerTarget: Int
    /// Literal addresses over all targets.
    public var maxAddressesPerNameService: Int
    /// `spec.failover` rules.
    public var maxFailoverRules: Int
    /// `metadata.labels` entries, and the UTF-8 bytes of a key (Kubernetes: a 253-byte prefix, '/'
    /// and a 63-byte name) and of a value.
    public var maxLabels: Int
    public var maxLabelKeyBytes: Int
    public var maxLabelValueBytes: Int

    /// 1,000 targets, 64 addresses per target, 1,024 addresses in all, 256 failover rules, 64
    /// labels with keys of at most 317 bytes and values of at most 63.
    public static let standard = SpecLimits()

    /// The highest each limit may be configured to. Addresses: the compiled plan answers at most
    /// `CandidateSet.maxAddresses(.ipv4)` (2,048) A and `maxAddresses(.ipv6)` (1,536) AAAA records
    /// per name, what always fits in one TCP reply.
    public static let ceilings = SpecLimits(maxTargetsPerNameService: 10_000, maxAddressesPerTarget: 2048,
                                            maxAddressesPerNameService: 2048, maxFailoverRules: 10_000,
                                            maxLabels: 1000, maxLabelKeyBytes: 4096, maxLabelValueBytes: 4096)

    public init(maxTargetsPerNameService: Int = 1000, maxAddressesPerTarget: Int = 64, maxAddressesPerNameService: Int = 1024,
                maxFailoverRules: Int = 256, maxLabels: Int = 64, maxLabelKeyBytes: Int = 317, maxLabelValueBytes: Int = 63) {
        self.maxTargetsPerNameService = maxTargetsPerNameService
        self.maxAddressesPerTarget = maxAddressesPerTarget
        self.maxAddressesPerNameService = maxAddressesPerNameService
        self.maxFailoverRules = maxFailoverRules
        self.maxLabels = maxLabels
        self.maxLabelKeyBytes = maxLabelKeyBytes
        self.maxLabelValueBytes = maxLabelValueBytes
    }

    /// Each limit with its configuration key (`limits.<key>`), its value and its ceiling.
    public var entries: [(key: String, value: Int, ceiling: Int)] {
        let c = SpecLimits.ceilings
        return [
            ("maxTargetsPerNameService", maxTargetsPerNameService, c.maxTargetsPerNameService),
            ("maxAddressesPerTarget", maxAddressesPerTarget, c.maxAddressesPerTarget),
            ("maxAddressesPerNameService", maxAddressesPerNameService, c.maxAddressesPerNameService),
            ("maxFailoverRules", maxFailoverRules, c.maxFailoverRules),
            ("maxLabels", maxLabels, c.maxLabels),
            ("maxLabelKeyBytes", maxLabelKeyBytes, c.maxLabelKeyBytes),
            ("maxLabelValueBytes", maxLabelValueBytes, c.maxLabelValueBytes),
        ]
    }
}

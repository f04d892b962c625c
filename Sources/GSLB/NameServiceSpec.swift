/// What a NameService answers: its name, policy, health check and targets.
///
/// Numbers are `Int` so out-of-range values survive decoding and validation can say what is wrong
/// with them.
public struct NameServiceSpec: Sendable, Hashable, Codable {
    public static let defaultTTL = 30
    /// Envoy's default (`overprovisioning_factor: 140`, in percent).
    public static let defaultOverprovisioningFactor = 1.4

    /// The global name answered, inside a served zone (`checkout.g.example.com`).
    public var fqdn: String
    /// TTL of the answers in seconds (default 30; 0...86400).
    public var ttl: Int
    /// How targets are chosen (default `RoundRobin`).
    public var policy: PolicyKind
    /// The most addresses one answer carries; nil for no cap.
    public var maxAnswers: Int?
    /// What to answer when every target of the asked family is down (default `FailOpen`).
    public var allDown: AllDownBehavior
    /// Ordered region-to-region fallbacks for the Locality policy.
    public var failover: [FailoverRule]
    /// Locality only: weighted shares per client locality, as Istio's `localityLbSetting.distribute`
    /// (the first rule whose `from` matches the client applies). Empty: nearest tier only.
    public var distribute: [DistributeRule]
    /// Envoy's overprovisioning factor for `distribute`'s health adjustment: a bucket keeps its
    /// full weight while `factor × healthy fraction ≥ 1`. nil: `defaultOverprovisioningFactor`.
    public var overprovisioningFactor: Double?
    /// What `allDown: Fallback` answers when every target of the family is down.
    public var fallback: FallbackSpec?
    /// How targets are probed; nil means no probing and every target counts as healthy.
    public var healthCheck: HealthCheckSpec?
    public var targets: [Target]

    public init(fqdn: String, ttl: Int = NameServiceSpec.defaultTTL, policy: PolicyKind = .roundRobin,
                maxAnswers: Int? = nil, allDown: AllDownBehavior = .failOpen, failover: [FailoverRule] = [],
                healthCheck: HealthCheckSpec? = nil, targets: [Target]) {
        self.fqdn = fqdn
        self.ttl = ttl
        self.policy = policy
        self.maxAnswers = maxAnswers
        self.allDown = allDown
        self.failover = failover
        self.healthCheck = healthCheck
        self.targets = targets
        self.distribute = []
        self.overprovisioningFactor = nil
        self.fallback = nil
    }

    private enum CodingKeys: String, CodingKey {
        case fqdn, ttl, policy, maxAnswers, allDown, failover, healthCheck, targets
        case distribute, overprovisioningFactor, fallback
    }

    /// As the synthesized encoder, but `distribute` only when it has rules, so a spec without it
    /// is stored exactly as before issue 15.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fqdn, forKey: .fqdn)
        try c.encode(ttl, forKey: .ttl)
        try c.encode(policy, forKey: .policy)
        try c.encodeIfPresent(maxAnswers, forKey: .maxAnswers)
        try c.encode(allDown, forKey: .allDown)
        try c.encode(failover, forKey: .failover)
        if !distribute.isEmpty { try c.encode(distribute, forKey: .distribute) }
        try c.encodeIfPresent(overprovisioningFactor, forKey: .overprovisioningFactor)
        try c.encodeIfPresent(fallback, forKey: .fallback)
        try c.encodeIfPresent(healthCheck, forKey: .healthCheck)
        try c.encode(targets, forKey: .targets)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fqdn = try c.decodeIfPresent(String.self, forKey: .fqdn) ?? ""
        ttl = try c.decodeIfPresent(Int.self, forKey: .ttl) ?? NameServiceSpec.defaultTTL
        policy = try c.decodeIfPresent(PolicyKind.self, forKey: .policy) ?? .roundRobin
        maxAnswers = try c.decodeIfPresent(Int.self, forKey: .maxAnswers)
        allDown = try c.decodeIfPresent(AllDownBehavior.self, forKey: .allDown) ?? .failOpen
        failover = try c.decodeIfPresent([FailoverRule].self, forKey: .failover) ?? []
        healthCheck = try c.decodeIfPresent(HealthCheckSpec.self, forKey: .healthCheck)
        targets = try c.decodeIfPresent([Target].self, forKey: .targets) ?? []
        distribute = try c.decodeIfPresent([DistributeRule].self, forKey: .distribute) ?? []
        overprovisioningFactor = try c.decodeIfPresent(Double.self, forKey: .overprovisioningFactor)
        fallback = try c.decodeIfPresent(FallbackSpec.self, forKey: .fallback)
    }
}

/// One rule of `spec.distribute`, as Istio's `LocalityLoadBalancerSetting.Distribute`: clients
/// whose locality matches `from` send each `to` bucket its weight (percent; a rule's weights sum
/// to 100). Patterns are `region[/zone[/subzone]]` with `*` as a last segment (`us-west/*`; `*`
/// alone matches every locality); a pattern with fewer segments matches everything below it.
public struct DistributeRule: Sendable, Hashable, Codable {
    public var from: String
    public var to: [String: Int]

    public init(from: String, to: [String: Int]) {
        self.from = from
        self.to = to
    }

    private enum CodingKeys: String, CodingKey { case from, to }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decodeIfPresent(String.self, forKey: .from) ?? ""
        to = try c.decodeIfPresent([String: Int].self, forKey: .to) ?? [:]
    }
}

/// `spec.fallback`: what `allDown: Fallback` answers when every target of the queried family is
/// down, as Akamai's `backupIp`/`backupCName` and Cloudflare's `fallback_pool`. `addresses` are
/// answered as they are (never probed); `fqdn` is resolved as a target's `fqdn` is and its
/// addresses answered.
public struct FallbackSpec: Sendable, Hashable, Codable {
    public var addresses: [String]
    public var fqdn: String?

    public init(addresses: [String] = [], fqdn: String? = nil) {
        self.addresses = addresses
        self.fqdn = fqdn
    }

    private enum CodingKeys: String, CodingKey { case addresses, fqdn }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        addresses = try c.decodeIfPresent([String].self, forKey: .addresses) ?? []
        fqdn = try c.decodeIfPresent(String.self, forKey: .fqdn)
    }
}

/// A Locality fallback in the style of Istio's `localityLbSetting.failover`: clients in region
/// `from` whose own region has no healthy target go to region `to`. Rules with the same `from` are
/// tried in the order written.
public struct FailoverRule: Sendable, Hashable, Codable {
    public var from: String
    public var to: String

    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }

    private enum CodingKeys: String, CodingKey { case from, to }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decodeIfPresent(String.self, forKey: .from) ?? ""
        to = try c.decodeIfPresent(String.self, forKey: .to) ?? ""
    }
}

/// TCP connect probing of every target address, with hysteresis. Times are in seconds and may be
/// fractional (`intervalSeconds: 1, timeoutSeconds: 0.5`). Only `port` is required; a
/// timing field left out takes the server's configured default (`healthCheck` in the server
/// configuration, `HealthCheckDefaults`), resolved when the spec is compiled, so the stored spec
/// says what the writer wrote and a changed default applies to every spec that did not set it.
public struct HealthCheckSpec: Sendable, Hashable, Codable {
    public var port: Int
    public var intervalSeconds: Double?
    /// May be at or above `intervalSeconds` (as Kubernetes accepts it): a probe time that finds the
    /// previous probe of the address still in flight starts nothing.
    public var timeoutSeconds: Double?
    /// Consecutive failures that mark an address down.
    public var failureThreshold: Int?
    /// Consecutive successes that mark an address up again.
    public var successThreshold: Int?
    /// Wait before the first probe.
    public var initialDelaySeconds: Double?

    public init(port: Int, intervalSeconds: Double? = nil, timeoutSeconds: Double? = nil, failureThreshold: Int? = nil,
                successThreshold: Int? = nil, initialDelaySeconds: Double? = nil) {
        self.port = port
        self.intervalSeconds = intervalSeconds
        self.timeoutSeconds = timeoutSeconds
        self.failureThreshold = failureThreshold
        self.successThreshold = successThreshold
        self.initialDelaySeconds = initialDelaySeconds
    }

    private enum CodingKeys: String, CodingKey {
        case port, intervalSeconds, timeoutSeconds, failureThreshold, successThreshold, initialDelaySeconds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 0
        intervalSeconds = try c.decodeIfPresent(Double.self, forKey: .intervalSeconds)
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds)
        failureThreshold = try c.decodeIfPresent(Int.self, forKey: .failureThreshold)
        successThreshold = try c.decodeIfPresent(Int.self, forKey: .successThreshold)
        initialDelaySeconds = try c.decodeIfPresent(Double.self, forKey: .initialDelaySeconds)
    }

    /// The probe this spec asks for, every field left out taken from `defaults`.
    public func resolved(_ defaults: HealthCheckDefaults) -> HealthCheckSettings {
        HealthCheckSettings(port: port, intervalSeconds: intervalSeconds ?? defaults.intervalSeconds,
                            timeoutSeconds: timeoutSeconds ?? defaults.timeoutSeconds,
                            failureThreshold: failureThreshold ?? defaults.failureThreshold,
                            successThreshold: successThreshold ?? defaults.successThreshold,
                            initialDelaySeconds: initialDelaySeconds ?? defaults.initialDelaySeconds)
    }
}

/// The server's defaults for the timing fields a `HealthCheckSpec` leaves out (configuration key
/// `healthCheck`). `standard` is what an unconfigured server uses.
public struct HealthCheckDefaults: Sendable, Hashable {
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var failureThreshold: Int
    public var successThreshold: Int
    public var initialDelaySeconds: Double

    /// Every 4 s, 3 s timeout, down after 3 failures, up after 1 success, no initial delay.
    public static let standard = HealthCheckDefaults()

    public init(intervalSeconds: Double = 4, timeoutSeconds: Double = 3, failureThreshold: Int = 3,
                successThreshold: Int = 1, initialDelaySeconds: Double = 0) {
        self.intervalSeconds = intervalSeconds
        self.timeoutSeconds = timeoutSeconds
        self.failureThreshold = failureThreshold
        self.successThreshold = successThreshold
        self.initialDelaySeconds = initialDelaySeconds
    }
}

/// A health check with every field decided: what is probed and how.
public struct HealthCheckSettings: Sendable, Hashable, CustomStringConvertible {
    public var port: Int
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var failureThreshold: Int
    public var successThreshold: Int
    public var initialDelaySeconds: Double

    public init(port: Int, intervalSeconds: Double, timeoutSeconds: Double, failureThreshold: Int, successThreshold: Int,
                initialDelaySeconds: Double) {
        self.port = port
        self.intervalSeconds = intervalSeconds
        self.timeoutSeconds = timeoutSeconds
        self.failureThreshold = failureThreshold
        self.successThreshold = successThreshold
        self.initialDelaySeconds = initialDelaySeconds
    }

    public var description: String {
        "tcp/\(port) every \(intervalSeconds.secondsText)s, timeout \(timeoutSeconds.secondsText)s, down after \(failureThreshold) failures, up after \(successThreshold) successes"
            + (initialDelaySeconds > 0 ? ", first after \(initialDelaySeconds.secondsText)s" : "")
    }
}

extension Double {
    /// `4` for whole seconds, `0.5` otherwise: how messages show a number of seconds.
    public var secondsText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}

/// One gateway a NameService can answer with.
public struct Target: Sendable, Hashable, Codable {
    /// Unique within the NameService, an RFC 1123 DNS label.
    public var name: String
    /// VIPs in text form, IPv4 and/or IPv6.
    public var addresses: [String]
    /// A name to resolve for addresses instead of (or besides) `addresses`.
    public var fqdn: String?
    /// `region[/zone[/subzone]]`, for the Locality policy.
    public var locality: String?
    /// Relative weight for the Ratio policy (default 1); 0 marks a standby.
    public var ratio: Int

    public init(name: String, addresses: [String] = [], fqdn: String? = nil, locality: String? = nil, ratio: Int = 1) {
        self.name = name
        self.addresses = addresses
        self.fqdn = fqdn
        self.locality = locality
        self.ratio = ratio
    }

    private enum CodingKeys: String, CodingKey { case name, addresses, fqdn, locality, ratio }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        addresses = try c.decodeIfPresent([String].self, forKey: .addresses) ?? []
        fqdn = try c.decodeIfPresent(String.self, forKey: .fqdn)
        locality = try c.decodeIfPresent(String.self, forKey: .locality)
        ratio = try c.decodeIfPresent(Int.self, forKey: .ratio) ?? 1
    }
}

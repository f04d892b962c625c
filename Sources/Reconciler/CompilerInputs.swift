import DNSWire
import GSLB

/// A static name's address data, for target FQDNs inside the zones.
struct ZoneAddresses {
    var addresses: [IPAddress] = []
    var cname: DNSName?
}

/// Asks upstream resolvers for the target FQDNs outside the served zones and reports back with
/// `Reconciler.resolved(_:_:)`.
public protocol ExternalNameResolver: Sendable {
    /// The names to keep resolved (lowercased); names no longer listed are forgotten.
    func setNames(_ names: Set<DNSName>) async
}

/// One TCP probe: an address, the port and the timing of a NameService's `healthCheck`. Probes
/// with equal keys are shared by every NameService using them.
public struct HealthKey: Sendable, Hashable {
    public var address: IPAddress
    public var port: UInt16
    /// The NameService's health check with the configured defaults filled in.
    public var check: HealthCheckSettings

    public init(address: IPAddress, port: UInt16, check: HealthCheckSettings) {
        self.address = address
        self.port = port
        self.check = check
    }
}

/// A probe's verdict as the status shows it.
public struct HealthReport: Sendable, Hashable {
    public var healthy: Bool
    /// RFC 3339, when the verdict last changed.
    public var lastTransitionTime: String?
    /// Why the last probe failed, in words (`connection refused`, `timed out after 3s`).
    public var lastError: String?

    public init(healthy: Bool, lastTransitionTime: String? = nil, lastError: String? = nil) {
        self.healthy = healthy
        self.lastTransitionTime = lastTransitionTime
        self.lastError = lastError
    }
}

/// Probes target addresses and reports verdicts with `Reconciler.healthChanged(_:_:)`.
public protocol TargetProber: Sendable {
    /// The probes to run; probes no longer listed stop.
    func setTargets(_ targets: Set<HealthKey>) async
    /// The same as a change: `added` start, `removed` stop; `all` is the whole set after it (a
    /// copy-on-write share of the reconciler's own, free to pass). The reconciler calls this one,
    /// so a change costs the prober O(changed probes); the default hands `all` to `setTargets`.
    func updateTargets(adding added: Set<HealthKey>, removing removed: Set<HealthKey>, all: Set<HealthKey>) async
}

extension TargetProber {
    public func updateTargets(adding added: Set<HealthKey>, removing removed: Set<HealthKey>, all: Set<HealthKey>) async {
        await setTargets(all)
    }
}

/// Why an upstream resolution failed, as the status shows it (`NXDOMAIN from 127.0.0.1:53`).
public struct UpstreamFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One plan published by a flush of the reconciler.
public struct PlanPublication: Sendable, Hashable {
    /// The serving snapshot's generation.
    public var generation: UInt64
    /// Global names in the plan.
    public var names: Int
    /// NameService events the flush applied.
    public var changed: Int
    /// From the start of the flush to the swap of the new plan (re-validation, placement,
    /// rendering and building the lookup table).
    public var compileDuration: Duration

    public init(generation: UInt64, names: Int, changed: Int, compileDuration: Duration) {
        self.generation = generation
        self.names = names
        self.changed = changed
        self.compileDuration = compileDuration
    }
}


import GSLB

/// How the NameService API is set up; built once by `globaldns` and passed down (ARCHITECTURE.md).
public struct APIConfiguration: Sendable {
    /// The default request-body limit: 1 MiB.
    public static let defaultMaxBodyBytes = 1 << 20

    /// Bearer tokens for writes, token name → secret. The name (never the secret) is logged with
    /// every write. Empty means writes need no token (`requiresAuth` is false): the caller must then
    /// bind the API to loopback only and say so at start-up.
    public var tokens: [String: String]
    /// Largest accepted request body in bytes; larger bodies get 413 (default 1 MiB).
    public var maxBodyBytes: Int
    /// What `/readyz` reports: 200 when ready, else 503 with the reason.
    public var readiness: @Sendable () -> (ready: Bool, reason: String)
    /// Fills in what changes too often to store (the last probe time and latency per target) on
    /// objects being read; nil: objects are answered as stored.
    public var liveStatus: (@Sendable ([NameService]) async -> [NameService])?
    /// What a NameService's `spec.healthCheck` leaves out, for validating writes as the
    /// reconciler will compile them.
    public var healthCheckDefaults: HealthCheckDefaults
    /// What `GET /metrics` serves: Prometheus text (format 0.0.4). Nil (metrics disabled): 404.
    public var metrics: (@Sendable () async -> String)?

    public init(tokens: [String: String] = [:], maxBodyBytes: Int = APIConfiguration.defaultMaxBodyBytes,
                readiness: @escaping @Sendable () -> (ready: Bool, reason: String) = { (true, "ready") },
                liveStatus: (@Sendable ([NameService]) async -> [NameService])? = nil,
                healthCheckDefaults: HealthCheckDefaults = .standard,
                metrics: (@Sendable () async -> String)? = nil) {
        self.tokens = tokens
        self.maxBodyBytes = maxBodyBytes
        self.readiness = readiness
        self.liveStatus = liveStatus
        self.healthCheckDefaults = healthCheckDefaults
        self.metrics = metrics
    }

    /// True when writes need `Authorization: Bearer <token>`.
    public var requiresAuth: Bool { !tokens.isEmpty }
}

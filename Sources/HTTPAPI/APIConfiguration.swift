import Foundation
import GSLB

/// How the NameService API is set up; built once by `globaldns` and passed down (ARCHITECTURE.md).
public struct APIConfiguration: Sendable {
    /// The default request-body limit: 1 MiB.
    public static let defaultMaxBodyBytes = 1 << 20

    /// Bearer tokens for writes, token name → secret. The name (never the secret) is logged with
    /// every write. Empty means writes need no token (`requiresAuth` is false): the caller must then
    /// bind the API to loopback only and say so at start-up. Replaced live through `tokenSet`
    /// (SIGHUP rotates tokens); each request reads the current set.
    public var tokens: [String: String] {
        get { tokenSet.current }
        nonmutating set { tokenSet.replace(with: newValue) }
    }
    /// The holder `tokens` reads and writes: keep a reference to rotate tokens while serving.
    public let tokenSet: APITokens
    /// Largest accepted request body in bytes; larger bodies get 413 (default 1 MiB).
    public var maxBodyBytes: Int
    /// What `/readyz` reports: 200 when ready, else 503 with the reason. A ready reason that starts
    /// with `warning: ` is shown in the 200 body (`ok (warning: …)`).
    public var readiness: @Sendable () -> (ready: Bool, reason: String)
    /// Fills in what changes too often to store (the last probe time and latency per target) on
    /// objects being read; nil: objects are answered as stored.
    public var liveStatus: (@Sendable ([NameService]) async -> [NameService])?
    /// What a NameService's `spec.healthCheck` leaves out, for validating writes as the
    /// reconciler will compile them.
    public var healthCheckDefaults: HealthCheckDefaults
    /// What `GET /metrics` serves: Prometheus text (format 0.0.4). Nil (metrics disabled): 404.
    public var metrics: (@Sendable () async -> String)?

    /// `tokenSet`, when given, is the holder to read tokens from (the caller keeps it to rotate
    /// them) and `tokens` is ignored.
    public init(tokens: [String: String] = [:], tokenSet: APITokens? = nil, maxBodyBytes: Int = APIConfiguration.defaultMaxBodyBytes,
                readiness: @escaping @Sendable () -> (ready: Bool, reason: String) = { (true, "ready") },
                liveStatus: (@Sendable ([NameService]) async -> [NameService])? = nil,
                healthCheckDefaults: HealthCheckDefaults = .standard,
                metrics: (@Sendable () async -> String)? = nil) {
        self.tokenSet = tokenSet ?? APITokens(tokens)
        self.maxBodyBytes = maxBodyBytes
        self.readiness = readiness
        self.liveStatus = liveStatus
        self.healthCheckDefaults = healthCheckDefaults
        self.metrics = metrics
    }

    /// True when writes need `Authorization: Bearer <token>`.
    public var requiresAuth: Bool { !tokens.isEmpty }
}

/// The API's bearer tokens, swapped whole when the configuration is reloaded. Read once per write
/// request (never on the DNS path), so a lock is fine here.
public final class APITokens: @unchecked Sendable {
    private let lock = NSLock()
    private var tokens: [String: String]

    public init(_ tokens: [String: String]) { self.tokens = tokens }

    public var current: [String: String] { lock.withLock { tokens } }

    public func replace(with tokens: [String: String]) { lock.withLock { self.tokens = tokens } }
}

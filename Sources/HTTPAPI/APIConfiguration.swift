import Foundation
import GSLB

/// How the NameService API is set up; built once by `globaldns` and passed down (docs/design.md).
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
    /// What one NameService may hold (configuration section `limits`): writes past it get 422.
    public var specLimits: SpecLimits
    /// What `GET /metrics` serves: Prometheus text (format 0.0.4). Nil (metrics disabled): 404.
    public var metrics: (@Sendable () async -> String)?
    /// Threads, connections, timeouts, rate limit and watch buffers (issue 12).
    public var limits: APILimits = APILimits()

    /// `tokenSet`, when given, is the holder to read tokens from (the caller keeps it to rotate
    /// them) and `tokens` is ignored.
    public init(tokens: [String: String] = [:], tokenSet: APITokens? = nil, maxBodyBytes: Int = APIConfiguration.defaultMaxBodyBytes,
                readiness: @escaping @Sendable () -> (ready: Bool, reason: String) = { (true, "ready") },
                liveStatus: (@Sendable ([NameService]) async -> [NameService])? = nil,
                healthCheckDefaults: HealthCheckDefaults = .standard,
                specLimits: SpecLimits = .standard,
                metrics: (@Sendable () async -> String)? = nil, limits: APILimits = APILimits()) {
        self.tokenSet = tokenSet ?? APITokens(tokens)
        self.maxBodyBytes = maxBodyBytes
        self.readiness = readiness
        self.liveStatus = liveStatus
        self.healthCheckDefaults = healthCheckDefaults
        self.specLimits = specLimits
        self.metrics = metrics
        self.limits = limits
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

/// The API's resource limits, so that no client can crash it, starve DNS or grow it without bound
/// (issue 12). Each is a configuration key `api.*`; the defaults are the documented ones.
public struct APILimits: Sendable, Equatable {
    /// The API's own event-loop threads (`api.threads`): its connections and request handling run
    /// there, not on the DNS event loops nor on the shared cooperative pool.
    public var threads: Int = 1
    /// The nice value of those threads (`api.niceness`, Linux; 0 leaves them as they are).
    public var niceness: Int = 15
    /// Open connections at most (`api.maxConnections`).
    public var maxConnections: Int = 512
    /// Open connections per client address at most (`api.maxConnectionsPerClient`, IPv6 by /64;
    /// 0: none of its own); past it 503 and closed, so one client cannot take every connection.
    public var maxConnectionsPerClient: Int = 128
    /// Requests in flight per client address, from head to the last byte of the response, watches
    /// aside (`api.maxRequestsInFlightPerClient`; 0: no cap); past it 429 with Retry-After.
    public var maxRequestsInFlightPerClient: Int = 16
    /// Lists (collection GETs, watches aside) in flight per client address
    /// (`api.maxListsInFlightPerClient`; 0: no cap); past it 429 with Retry-After.
    public var maxListsInFlightPerClient: Int = 2
    /// How long a request over a per-client cap or the rate limit waits for room before its 429
    /// (`api.overloadWaitSeconds`; 0: at once). Queued, not refused at once, so a flood runs at the
    /// pace it is served at instead of looping on cheap refusals (they cost the DNS core's CPU in
    /// the kernel's network stack, which no nice value bounds).
    public var overloadWait: Duration = .seconds(1)
    /// Open watches per client address (`api.watch.maxPerClient`; 0: no cap); past it 429.
    public var watchMaxPerClient: Int = 32
    /// A connection with no request in flight is closed after this (`api.idleTimeoutSeconds`).
    public var idleTimeout: Duration = .seconds(60)
    /// A request head not complete this long after its first byte: closed (`api.headerTimeoutSeconds`).
    public var headerTimeout: Duration = .seconds(10)
    /// A request body not complete this long after its head: closed (`api.bodyTimeoutSeconds`).
    public var bodyTimeout: Duration = .seconds(30)
    /// Request line plus headers at most, in bytes; past it 431 (`api.maxHeaderBytes`).
    public var maxHeaderBytes: Int = 16 << 10
    /// Requests per second per client address (IPv6 by /64), 0 = no limit
    /// (`api.rateLimit.requestsPerSecond`), with bursts of `rateLimitBurst` (`api.rateLimit.burst`);
    /// past it 429 with Retry-After.
    public var rateLimitPerSecond: Double = 100
    public var rateLimitBurst: Int = 200
    /// Client addresses the rate limiter remembers at most (`api.rateLimit.maxClients`).
    public var rateLimitMaxClients: Int = 10_000
    /// Unread output per watch, in bytes; past it the stream ends with ERROR 410
    /// (`api.watch.maxBufferBytes`).
    public var watchMaxBufferBytes: Int = 4 << 20
    /// How long a watch from a resourceVersion above the store's waits for the store to reach it
    /// before 504 (Kubernetes waits about 3 s).
    public var futureRevisionWait: Duration = .seconds(3)
    /// The most objects one list page holds (`api.maxListLimit`): a larger `limit` is served as
    /// this many with a continue token (Kubernetes lets a server return fewer than asked). Lists
    /// without `limit` and watches from scratch read the store in pages of this size too, so a
    /// request holds at most one page of objects whatever the size of the store.
    public var maxListLimit: Int = 500
    /// How long one write of a list (or of a watch's initial list) may wait for the client to take
    /// it (`api.writeTimeoutSeconds`); past it the connection is closed. A client reading slowly
    /// only slows the list down (back-pressure); one that stops reading is cut off.
    public var writeTimeout: Duration = .seconds(60)

    public init() {}
}

import NIOCore

/// Where and how target FQDNs are resolved: the upstream resolvers, the per-attempt timeout and
/// retries, and the bounds on how often a name is asked again.
public struct UpstreamConfiguration: Sendable, Equatable {
    /// Upstream (recursive) resolvers, tried in order; the first usable answer wins.
    public var servers: [SocketAddress]
    /// How long one query to one server may take (a TCP retry gets its own `timeout`).
    public var timeout: Duration = .seconds(2)
    /// Rounds over all servers before giving up (at least one round is made).
    public var attempts: Int = 2
    /// A name is never re-resolved sooner than this after an answer, whatever its TTL.
    public var minRefresh: Duration = .seconds(5)
    /// A name is re-resolved at least this often, whatever its TTL.
    public var maxRefresh: Duration = .seconds(300)
    /// How long after a failed resolution the tracker asks again.
    public var retryAfterFailure: Duration = .seconds(10)
    /// How many names the tracker resolves at once (each name is one A and one AAAA query).
    public var maxConcurrentResolutions: Int = 16

    public init(
        servers: [SocketAddress],
        timeout: Duration = .seconds(2),
        attempts: Int = 2,
        minRefresh: Duration = .seconds(5),
        maxRefresh: Duration = .seconds(300),
        retryAfterFailure: Duration = .seconds(10),
        maxConcurrentResolutions: Int = 16
    ) {
        self.servers = servers
        self.timeout = timeout
        self.attempts = attempts
        self.minRefresh = minRefresh
        self.maxRefresh = maxRefresh
        self.retryAfterFailure = retryAfterFailure
        self.maxConcurrentResolutions = maxConcurrentResolutions
    }

    /// How long an answer with `ttl` seconds is kept before the name is asked again:
    /// the TTL clamped to `minRefresh...maxRefresh` (`maxRefresh` wins if the two are crossed).
    public func refreshInterval(ttl: UInt32) -> Duration {
        min(max(.seconds(Int64(ttl)), minRefresh), maxRefresh)
    }
}

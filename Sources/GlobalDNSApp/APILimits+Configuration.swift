import HTTPAPI

extension GlobalDNSConfiguration.API {
    /// The API's limits for `APIConfiguration`; the seconds are already validated (bounded), so
    /// the conversions cannot trap.
    public var limits: APILimits {
        var l = APILimits()
        l.threads = threads
        l.niceness = niceness
        l.maxConnections = maxConnections
        l.maxConnectionsPerClient = maxConnectionsPerClient
        l.maxRequestsInFlightPerClient = maxRequestsInFlightPerClient
        l.maxListsInFlightPerClient = maxListsInFlightPerClient
        l.overloadWait = .nanoseconds(Int64(overloadWaitSeconds * 1e9))
        l.watchMaxPerClient = watch.maxPerClient
        l.idleTimeout = .nanoseconds(Int64(idleTimeoutSeconds * 1e9))
        l.headerTimeout = .nanoseconds(Int64(headerTimeoutSeconds * 1e9))
        l.bodyTimeout = .nanoseconds(Int64(bodyTimeoutSeconds * 1e9))
        l.maxHeaderBytes = maxHeaderBytes
        l.rateLimitPerSecond = rateLimit.requestsPerSecond
        l.rateLimitBurst = rateLimit.burst
        l.rateLimitMaxClients = rateLimit.maxClients
        l.watchMaxBufferBytes = watch.maxBufferBytes
        l.maxListLimit = maxListLimit
        l.writeTimeout = .nanoseconds(Int64(writeTimeoutSeconds * 1e9))
        return l
    }
}

import DNSServer
import GSLB
import Logging
import NIOCore

/// The whole server configuration: the one place it is read (docs/design.md). Every key is
/// documented, with its default, in `config/globaldns.yaml`.
public struct GlobalDNSConfiguration: Sendable, Equatable {
    public struct DNS: Sendable, Equatable {
        /// `ADDR:PORT` strings, each served over UDP and TCP. IPv6 as `[::1]:8053`.
        public var listen: [String] = ["127.0.0.1:8053", "[::1]:8053"]
        public var udpPayloadSize: Int = 1232
        public var tcpIdleTimeoutSeconds: Double = 10
        public var tcpMaxConnections: Int = 1024
        /// Open TCP connections per client (IPv4 address or IPv6 /64); more are closed on accept.
        /// Above `tcpMaxConnections` it is that.
        public var tcpMaxConnectionsPerClient: Int = 16
        /// Event loops (each with its own UDP socket); 0 means one per CPU core.
        public var threads: Int = 0
        public var drainTimeoutSeconds: Double = 5
        public var maxCNAMEChain: Int = 8
    }

    public struct Zones: Sendable, Equatable {
        /// Every `*.zone` file in this directory is served.
        public var directory: String = "zones"
        /// Or exactly these files (then `directory` is not scanned).
        public var files: [String] = []
        /// Whether a reload (SIGHUP) may drop a zone being served. False: a reload missing any
        /// served zone is refused and the served set stays. A reload finding no zone at all is
        /// refused either way.
        public var allowDroppingZones = false
    }

    public struct Log: Sendable, Equatable {
        public var level: Logger.Level = .info
        public var format: LogFormat = .logfmt
    }

    public struct API: Sendable, Equatable {
        /// The NameService HTTP API's listener.
        public var listen: String = "127.0.0.1:8080"
        /// Bearer tokens allowed to write, by name (the name is logged with each write), already
        /// read from where the file says (`{env: VARIABLE}`, `{file: PATH}` or inline).
        /// `GLOBALDNS_API_TOKEN` adds one named `env`. Without any, the API only listens on loopback.
        public var tokens: [String: String] = [:]
        /// Request bodies larger than this get 413.
        public var maxBodyBytes: Int = 1 << 20
        /// The API's own event-loop threads (apart from DNS's), and their nice value (0...19; higher
        /// yields the CPU to DNS under contention; Linux only).
        public var threads: Int = 1
        public var niceness: Int = 15
        /// Open API connections at most; past it the listener stops accepting (clients wait in the
        /// backlog) and any connection accepted over it is answered 503 and closed.
        public var maxConnections: Int = 512
        /// Open connections per client address (IPv6 by /64) at most, 0 for none of its own; past
        /// it 503 and closed, so one client cannot hold every connection.
        public var maxConnectionsPerClient: Int = 128
        /// Requests in flight per client address (watches aside), 0 for no cap; past it 429: a
        /// client looping expensive lists holds at most this share of the API's threads.
        public var maxRequestsInFlightPerClient: Int = 16
        /// Lists in flight per client address (a list costs a hundred gets), 0 for no cap; past it 429.
        public var maxListsInFlightPerClient: Int = 2
        /// A request over a per-client cap or the rate limit waits this long for room before its
        /// 429 (0: at once): a flooding client is slowed to the pace it is served at.
        public var overloadWaitSeconds: Double = 1
        /// A keep-alive connection with no request in flight is closed after this.
        public var idleTimeoutSeconds: Double = 60
        /// A request whose head (request line and headers) is not complete this long after its first
        /// byte is closed (slowloris).
        public var headerTimeoutSeconds: Double = 10
        /// A request whose body is not complete this long after its head is closed.
        public var bodyTimeoutSeconds: Double = 30
        /// Request line plus headers larger than this get 431 and the connection is closed.
        public var maxHeaderBytes: Int = 16 << 10
        /// Objects per list page at most (a larger `limit` is served as this many, with a continue
        /// token); also the store page size of unlimited lists and watches from scratch.
        public var maxListLimit: Int = 500
        /// A list (or a watch's initial list) write the client does not take within this long
        /// closes the connection.
        public var writeTimeoutSeconds: Double = 60
        /// Per client address (IPv6 by /64): a token bucket; past it 429 with Retry-After.
        /// `requestsPerSecond: 0` turns it off. `maxClients` bounds the table of buckets.
        public var rateLimit = RateLimit()
        public var watch = Watch()

        public struct RateLimit: Sendable, Equatable {
            public var requestsPerSecond: Double = 100
            public var burst: Int = 200
            public var maxClients: Int = 10_000
        }

        public struct Watch: Sendable, Equatable {
            /// Output a watcher has not read yet, at most; past it the stream ends with an ERROR
            /// 410 Expired event (or is closed) and the client relists.
            public var maxBufferBytes: Int = 4 << 20
            /// Open watches per client address at most, 0 for no cap; past it 429.
            public var maxPerClient: Int = 32
        }
    }

    public struct State: Sendable, Equatable {
        /// Where the embedded NameService store (SQLite) lives.
        public var directory: String = ".state"
    }

    /// Where client localities come from (the Locality policy).
    public enum Localities: Sendable, Equatable {
        /// `localities:` written as a list of `{cidr, locality}` pairs in this file.
        case inline([LocalityTable.Entry])
        /// `localities: PATH`: a YAML file holding such a list (relative to this file).
        case file(String)
    }

    public struct Explain: Sendable, Equatable {
        /// Clients (by packet source address) that may ask the explain query; others get REFUSED.
        public var allow: [String] = ["127.0.0.0/8", "::1/128"]
    }

    /// Upstream resolvers for target FQDNs outside the served zones.
    public struct Upstream: Sendable, Equatable {
        /// `ADDR:PORT` (or `ADDR`, port 53) of recursive resolvers, tried in order. Empty: target
        /// FQDNs outside the zones are reported unresolvable.
        public var resolvers: [String] = []
        public var timeoutSeconds: Double = 2
        public var attempts: Int = 2
        /// Re-resolution follows the record TTL, clamped to these bounds.
        public var minRefreshSeconds: Double = 5
        public var maxRefreshSeconds: Double = 300
        /// After a failure, the next try.
        public var retryAfterFailureSeconds: Double = 10
    }

    public struct Metrics: Sendable, Equatable {
        /// Prometheus metrics at `/metrics` on the API listener, and the per-query counters behind
        /// them. Off: `/metrics` answers 404 and queries are not counted (to measure the cost).
        public var enabled = true
    }

    public struct QueryLog: Sendable, Equatable {
        /// The share of DNS queries logged, one info line each: 0 (off) … 1 (every query).
        public var sampleRate: Double = 0
    }

    /// What the server does when one of its components fails.
    public struct Lifecycle: Sendable, Equatable {
        public var onComponentFailure: ComponentFailurePolicy = .keepServing
    }

    /// The `healthCheck` section: defaults for the timing a NameService's `spec.healthCheck`
    /// leaves out, and how this server runs its probes (`threads`, `summarySeconds`).
    public struct HealthCheck: Sendable, Equatable {
        public var intervalSeconds: Double = 4
        public var timeoutSeconds: Double = 3
        public var failureThreshold: Int = 3
        public var successThreshold: Int = 1
        public var initialDelaySeconds: Double = 0
        /// Prober threads, apart from the DNS event loops (each probes its share of the targets).
        public var threads: Int = 1
        /// A `health probes` log line this often while targets are probed (probes, outcomes,
        /// schedule drift, latency over the period); 0: never.
        public var summarySeconds: Double = 60
        /// Probe sockets open at once (all prober threads); within `FileDescriptorBudget`'s share
        /// (clamped with a warning). Probe times past it wait for a socket (late, never failed).
        public var maxConcurrentProbes: Int = 1024
        /// Distinct (address, port, timing) probes for the whole server. Past it no new probe is
        /// created: the addresses left over are served as unknown (= healthy) and their
        /// NameServices' Healthy condition says `ProbeLimitReached` with how many are unprobed.
        public var maxProbedAddresses: Int = 20_000

        public init() {}

        /// What the reconciler and the API fill a NameService's missing timing fields with.
        public var defaults: HealthCheckDefaults {
            HealthCheckDefaults(intervalSeconds: intervalSeconds, timeoutSeconds: timeoutSeconds,
                                failureThreshold: failureThreshold, successThreshold: successThreshold,
                                initialDelaySeconds: initialDelaySeconds)
        }
    }

    /// The `limits` section: what one NameService may hold (`SpecLimits`); writes past a limit get
    /// 422 naming the field, and a stored spec past one (limits lowered since) is not served. And
    /// the file descriptors kept back from the budget of connections and probes.
    public struct Limits: Sendable, Equatable {
        public var maxTargetsPerNameService = SpecLimits.standard.maxTargetsPerNameService
        public var maxAddressesPerTarget = SpecLimits.standard.maxAddressesPerTarget
        public var maxAddressesPerNameService = SpecLimits.standard.maxAddressesPerNameService
        public var maxFailoverRules = SpecLimits.standard.maxFailoverRules
        public var maxLabels = SpecLimits.standard.maxLabels
        public var maxLabelKeyBytes = SpecLimits.standard.maxLabelKeyBytes
        public var maxLabelValueBytes = SpecLimits.standard.maxLabelValueBytes
        /// `limits.fileDescriptorReserve`: descriptors kept for the process itself (store, zone
        /// files, logs, event loops, DNS UDP sockets and listeners, upstream/etcd sockets) out of
        /// `RLIMIT_NOFILE`; the rest is shared by API connections, DNS TCP connections and probes
        /// (`FileDescriptorBudget`).
        public var fileDescriptorReserve: Int = 256

        public init() {}

        public var specLimits: SpecLimits {
            SpecLimits(maxTargetsPerNameService: maxTargetsPerNameService, maxAddressesPerTarget: maxAddressesPerTarget,
                       maxAddressesPerNameService: maxAddressesPerNameService, maxFailoverRules: maxFailoverRules,
                       maxLabels: maxLabels, maxLabelKeyBytes: maxLabelKeyBytes, maxLabelValueBytes: maxLabelValueBytes)
        }
    }

    /// Server identity: NSID, CH TXT id.server/hostname.bind. Default: the host name.
    public var identity: String = ""
    /// CIDR → `region/zone/subzone`, longest prefix wins. Reloaded on SIGHUP.
    public var localities: Localities = .inline([])
    /// The locality of clients no entry matches; unset: they get every candidate. Reloaded on SIGHUP.
    public var defaultLocality: String?
    public var explain = Explain()
    public var upstream = Upstream()
    public var healthCheck = HealthCheck()
    public var limits = Limits()
    public var dns = DNS()
    public var zones = Zones()
    public var api = API()
    public var state = State()
    public var store = Store()
    public var replica = Replica()
    public var log = Log()
    public var metrics = Metrics()
    public var queryLog = QueryLog()
    public var lifecycle = Lifecycle()

    public init() {}
}

/// `lifecycle.onComponentFailure`: what a failure of the API listener, the health checker,
/// upstream resolution or the SIGHUP reloader does. The DNS listeners are the server itself:
/// they are never left behind. The store watch retries by itself under both (a restart would
/// not mend the store and would lose the plan being served).
public enum ComponentFailurePolicy: String, Sendable, Equatable, CaseIterable {
    /// Log it, report not ready on `/readyz`, and keep answering DNS from the last plan.
    case keepServing
    /// Log it, stop gracefully (drain TCP) and exit with code 3, for a supervisor to restart.
    case exit
}

public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    case logfmt
    case json
}

/// A configuration problem, naming the key path (and the file line when known).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String?
    public let line: Int?
    public let keyPath: String
    public let message: String

    public init(file: String? = nil, line: Int? = nil, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var where_ = ""
        if let file { where_ += file + ":" }
        if let line { where_ += "\(line):" }
        if !where_.isEmpty { where_ += " " }
        return "\(where_)\(keyPath.isEmpty ? "" : keyPath + ": ")\(message)"
    }
}

extension GlobalDNSConfiguration {
    /// Checks values that the YAML reader and command-line flags both feed, and resolves the
    /// listen addresses. Errors name the key path.
    public func validated() throws(ConfigurationError) -> (dns: DNSServerConfiguration, responder: ResponderConfiguration) {
        guard !dns.listen.isEmpty else {
            throw ConfigurationError(keyPath: "dns.listen", message: "at least one ADDR:PORT is required")
        }
        var addresses: [SocketAddress] = []
        for (i, text) in dns.listen.enumerated() {
            addresses.append(try parseListenAddress(text, keyPath: "dns.listen[\(i)]"))
        }
        guard (512...65535).contains(dns.udpPayloadSize) else {
            throw ConfigurationError(keyPath: "dns.udpPayloadSize", message: "must be between 512 and 65535, not \(dns.udpPayloadSize)")
        }
        guard dns.tcpIdleTimeoutSeconds > 0, dns.tcpIdleTimeoutSeconds <= 3600 else {
            throw ConfigurationError(keyPath: "dns.tcpIdleTimeoutSeconds", message: "must be in (0, 3600], not \(dns.tcpIdleTimeoutSeconds)")
        }
        guard dns.tcpMaxConnections >= 1 else {
            throw ConfigurationError(keyPath: "dns.tcpMaxConnections", message: "must be at least 1, not \(dns.tcpMaxConnections)")
        }
        guard dns.tcpMaxConnectionsPerClient >= 1 else {
            throw ConfigurationError(keyPath: "dns.tcpMaxConnectionsPerClient", message: "must be at least 1, not \(dns.tcpMaxConnectionsPerClient)")
        }
        guard dns.threads >= 0, dns.threads <= 256 else {
            throw ConfigurationError(keyPath: "dns.threads", message: "must be between 0 (one per core) and 256, not \(dns.threads)")
        }
        guard dns.drainTimeoutSeconds >= 0, dns.drainTimeoutSeconds <= 3600 else {
            throw ConfigurationError(keyPath: "dns.drainTimeoutSeconds", message: "must be between 0 and 3600, not \(dns.drainTimeoutSeconds)")
        }
        guard (1...64).contains(dns.maxCNAMEChain) else {
            throw ConfigurationError(keyPath: "dns.maxCNAMEChain", message: "must be between 1 and 64, not \(dns.maxCNAMEChain)")
        }
        let apiAddress = try parseListenAddress(api.listen, keyPath: "api.listen")
        if api.tokens.isEmpty && !isLoopback(apiAddress) {
            throw ConfigurationError(keyPath: "api.listen",
                                     message: "'\(api.listen)' is not a loopback address, and no API token is configured (api.tokens or GLOBALDNS_API_TOKEN): without a token the API only listens on loopback")
        }
        for (name, token) in api.tokens where token.count < 16 {
            throw ConfigurationError(keyPath: "api.tokens.\(name)", message: "a token must be at least 16 characters")
        }
        guard api.maxBodyBytes >= 1024 else {
            throw ConfigurationError(keyPath: "api.maxBodyBytes", message: "must be at least 1024, not \(api.maxBodyBytes)")
        }
        try validateAPILimits()
        guard !state.directory.isEmpty else {
            throw ConfigurationError(keyPath: "state.directory", message: "must not be empty")
        }
        try validateStore()
        if let d = defaultLocality {
            do { _ = try Locality(d) } catch {
                throw ConfigurationError(keyPath: "defaultLocality", message: error.message)
            }
        }
        do { _ = try CIDRSet(parsing: explain.allow, field: "explain.allow") } catch {
            let p = error.problems[0]
            throw ConfigurationError(keyPath: p.field, message: p.message)
        }
        for (i, r) in upstream.resolvers.enumerated() {
            _ = try parseResolverAddress(r, keyPath: "upstream.resolvers[\(i)]")
        }
        guard upstream.timeoutSeconds > 0, upstream.timeoutSeconds <= 60 else {
            throw ConfigurationError(keyPath: "upstream.timeoutSeconds", message: "must be in (0, 60], not \(upstream.timeoutSeconds)")
        }
        guard (1...10).contains(upstream.attempts) else {
            throw ConfigurationError(keyPath: "upstream.attempts", message: "must be between 1 and 10, not \(upstream.attempts)")
        }
        guard upstream.minRefreshSeconds >= 1, upstream.minRefreshSeconds <= 86400 else {
            throw ConfigurationError(keyPath: "upstream.minRefreshSeconds", message: "must be between 1 and 86400, not \(upstream.minRefreshSeconds)")
        }
        guard upstream.maxRefreshSeconds <= 86400 else {
            throw ConfigurationError(keyPath: "upstream.maxRefreshSeconds", message: "must be at most 86400, not \(upstream.maxRefreshSeconds)")
        }
        guard upstream.maxRefreshSeconds >= upstream.minRefreshSeconds else {
            throw ConfigurationError(keyPath: "upstream.maxRefreshSeconds", message: "must be at least upstream.minRefreshSeconds (\(upstream.minRefreshSeconds)), not \(upstream.maxRefreshSeconds)")
        }
        guard upstream.retryAfterFailureSeconds >= 1, upstream.retryAfterFailureSeconds <= 86400 else {
            throw ConfigurationError(keyPath: "upstream.retryAfterFailureSeconds", message: "must be between 1 and 86400, not \(upstream.retryAfterFailureSeconds)")
        }
        guard queryLog.sampleRate >= 0, queryLog.sampleRate <= 1 else {
            throw ConfigurationError(keyPath: "queryLog.sampleRate", message: "must be between 0 (off) and 1 (every query), not \(queryLog.sampleRate)")
        }
        let hc = healthCheck
        let minInterval = NameService.minProbeIntervalSeconds, minTimeout = NameService.minProbeTimeoutSeconds
        if !(hc.intervalSeconds >= minInterval && hc.intervalSeconds <= 3600) {
            throw ConfigurationError(keyPath: "healthCheck.intervalSeconds", message: "must be between \(minInterval.secondsText) and 3600, not \(hc.intervalSeconds.secondsText)")
        }
        if !(hc.timeoutSeconds >= minTimeout && hc.timeoutSeconds <= 3600) {
            throw ConfigurationError(keyPath: "healthCheck.timeoutSeconds", message: "must be between \(minTimeout.secondsText) and 3600, not \(hc.timeoutSeconds.secondsText)")
        }
        for (key, value) in [("failureThreshold", hc.failureThreshold), ("successThreshold", hc.successThreshold)] where value < 1 {
            throw ConfigurationError(keyPath: "healthCheck.\(key)", message: "must be at least 1, not \(value)")
        }
        if !(hc.initialDelaySeconds >= 0 && hc.initialDelaySeconds <= 3600) {
            throw ConfigurationError(keyPath: "healthCheck.initialDelaySeconds", message: "must be between 0 and 3600, not \(hc.initialDelaySeconds.secondsText)")
        }
        guard (1...1_048_576).contains(healthCheck.maxConcurrentProbes) else {
            throw ConfigurationError(keyPath: "healthCheck.maxConcurrentProbes",
                                     message: "must be between 1 and 1048576, not \(healthCheck.maxConcurrentProbes)")
        }
        guard (0...10_000_000).contains(healthCheck.maxProbedAddresses) else {
            throw ConfigurationError(keyPath: "healthCheck.maxProbedAddresses",
                                     message: "must be between 0 (probe nothing) and 10000000, not \(healthCheck.maxProbedAddresses)")
        }
        guard (0...1_048_576).contains(limits.fileDescriptorReserve) else {
            throw ConfigurationError(keyPath: "limits.fileDescriptorReserve",
                                     message: "must be between 0 and 1048576, not \(limits.fileDescriptorReserve)")
        }
        guard (1...64).contains(healthCheck.threads) else {
            throw ConfigurationError(keyPath: "healthCheck.threads", message: "must be between 1 and 64, not \(healthCheck.threads)")
        }
        if !(healthCheck.summarySeconds == 0 || (healthCheck.summarySeconds >= 1 && healthCheck.summarySeconds <= 86400)) {
            throw ConfigurationError(keyPath: "healthCheck.summarySeconds",
                                     message: "must be 0 (never) or between 1 and 86400, not \(healthCheck.summarySeconds.secondsText)")
        }
        for (key, value, ceiling) in limits.specLimits.entries {
            let least = key == "maxFailoverRules" || key == "maxLabels" ? 0 : 1
            guard value >= least, value <= ceiling else {
                throw ConfigurationError(keyPath: "limits.\(key)", message: "must be between \(least) and \(ceiling), not \(value)")
            }
        }
        guard limits.maxAddressesPerTarget <= limits.maxAddressesPerNameService else {
            throw ConfigurationError(keyPath: "limits.maxAddressesPerTarget",
                                     message: "must not be above limits.maxAddressesPerNameService (\(limits.maxAddressesPerNameService)), not \(limits.maxAddressesPerTarget)")
        }
        guard identity.utf8.count <= 255 else {
            throw ConfigurationError(keyPath: "identity", message: "must be at most 255 bytes")
        }
        var server = DNSServerConfiguration(
            listen: addresses,
            tcpIdleTimeout: .nanoseconds(Int64(dns.tcpIdleTimeoutSeconds * 1e9)),
            tcpMaxConnections: dns.tcpMaxConnections,
            drainTimeout: .nanoseconds(Int64(dns.drainTimeoutSeconds * 1e9)))
        // Above dns.tcpMaxConnections it means no cap of its own.
        server.tcpMaxConnectionsPerClient = min(dns.tcpMaxConnectionsPerClient, dns.tcpMaxConnections)
        let responder = ResponderConfiguration(identity: identity, maxUDPPayload: dns.udpPayloadSize,
                                               maxCNAMEChain: dns.maxCNAMEChain, countsQueries: metrics.enabled,
                                               queryLogSampleRate: queryLog.sampleRate)
        return (server, responder)
    }
}

/// `127.0.0.1:53`, `[::1]:53`, `0.0.0.0:8053`, `[::]:53`. Host names are not accepted: a listener
/// binds an address.
public func parseListenAddress(_ text: String, keyPath: String) throws(ConfigurationError) -> SocketAddress {
    let host: Substring
    let portText: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
            throw ConfigurationError(keyPath: keyPath, message: "'\(text)' is not [IPv6]:PORT")
        }
        host = text[text.index(after: text.startIndex)..<close]
        portText = text[text.index(close, offsetBy: 2)...]
    } else {
        guard let colon = text.lastIndex(of: ":") else {
            throw ConfigurationError(keyPath: keyPath, message: "'\(text)' is not ADDR:PORT")
        }
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
        guard !host.contains(":") else {
            throw ConfigurationError(keyPath: keyPath, message: "'\(text)': write IPv6 addresses as [ADDR]:PORT")
        }
    }
    guard let port = Int(portText), (0...65535).contains(port) else {
        throw ConfigurationError(keyPath: keyPath, message: "'\(portText)' is not a port (0-65535)")
    }
    do {
        return try SocketAddress(ipAddress: String(host), port: port)
    } catch {
        throw ConfigurationError(keyPath: keyPath, message: "'\(host)' is not an IPv4 or IPv6 address")
    }
}

/// An upstream resolver: `ADDR:PORT`, `[V6]:PORT`, or a bare address (port 53).
public func parseResolverAddress(_ text: String, keyPath: String) throws(ConfigurationError) -> SocketAddress {
    if !text.hasPrefix("["), text.filter({ $0 == ":" }).count != 1 {
        // A bare IPv4 or IPv6 address.
        do { return try SocketAddress(ipAddress: text, port: 53) } catch {
            throw ConfigurationError(keyPath: keyPath, message: "'\(text)' is not ADDR, ADDR:PORT or [IPv6]:PORT")
        }
    }
    return try parseListenAddress(text, keyPath: keyPath)
}

/// 127.0.0.0/8 or ::1.
public func isLoopback(_ address: SocketAddress) -> Bool {
    guard let ip = address.ipAddress else { return false }
    return ip.hasPrefix("127.") || ip == "::1"
}

extension GlobalDNSConfiguration {
    /// The `api.*` resource limits (issue 12). Every seconds value is bounded so that converting
    /// it to an integer duration cannot trap (NaN and infinities fail every comparison).
    func validateAPILimits() throws(ConfigurationError) {
        func check(_ ok: Bool, _ key: String, _ message: String) throws(ConfigurationError) {
            guard ok else { throw ConfigurationError(keyPath: key, message: message) }
        }
        try check((1...64).contains(api.threads), "api.threads", "must be between 1 and 64, not \(api.threads)")
        try check((0...19).contains(api.niceness), "api.niceness", "must be between 0 and 19, not \(api.niceness)")
        try check((1...1_000_000).contains(api.maxConnections), "api.maxConnections",
                  "must be between 1 and 1000000, not \(api.maxConnections)")
        try check((0...1_000_000).contains(api.maxConnectionsPerClient), "api.maxConnectionsPerClient",
                  "must be between 0 (no cap) and 1000000, not \(api.maxConnectionsPerClient)")
        try check((0...1_000_000).contains(api.maxRequestsInFlightPerClient), "api.maxRequestsInFlightPerClient",
                  "must be between 0 (no cap) and 1000000, not \(api.maxRequestsInFlightPerClient)")
        try check(api.overloadWaitSeconds >= 0 && api.overloadWaitSeconds <= 60, "api.overloadWaitSeconds",
                  "must be between 0 and 60 seconds, not \(api.overloadWaitSeconds)")
        try check((0...1_000_000).contains(api.maxListsInFlightPerClient), "api.maxListsInFlightPerClient",
                  "must be between 0 (no cap) and 1000000, not \(api.maxListsInFlightPerClient)")
        try check((0...1_000_000).contains(api.watch.maxPerClient), "api.watch.maxPerClient",
                  "must be between 0 (no cap) and 1000000, not \(api.watch.maxPerClient)")
        for (key, value, max) in [("api.idleTimeoutSeconds", api.idleTimeoutSeconds, 86400.0),
                                  ("api.headerTimeoutSeconds", api.headerTimeoutSeconds, 3600),
                                  ("api.bodyTimeoutSeconds", api.bodyTimeoutSeconds, 3600)] {
            try check(value > 0 && value <= max, key, "must be in (0, \(Int(max))] seconds, not \(value)")
        }
        try check((1024...(1 << 20)).contains(api.maxHeaderBytes), "api.maxHeaderBytes",
                  "must be between 1024 and 1048576, not \(api.maxHeaderBytes)")
        let rl = api.rateLimit
        try check(rl.requestsPerSecond >= 0 && rl.requestsPerSecond <= 1_000_000, "api.rateLimit.requestsPerSecond",
                  "must be between 0 (off) and 1000000, not \(rl.requestsPerSecond)")
        try check((1...1_000_000).contains(rl.burst), "api.rateLimit.burst", "must be between 1 and 1000000, not \(rl.burst)")
        try check((1...10_000_000).contains(rl.maxClients), "api.rateLimit.maxClients",
                  "must be between 1 and 10000000, not \(rl.maxClients)")
        try check((65536...(1 << 30)).contains(api.watch.maxBufferBytes), "api.watch.maxBufferBytes",
                  "must be between 65536 and 1073741824, not \(api.watch.maxBufferBytes)")
        try check((1...100_000).contains(api.maxListLimit), "api.maxListLimit",
                  "must be between 1 and 100000, not \(api.maxListLimit)")
        try check(api.writeTimeoutSeconds > 0 && api.writeTimeoutSeconds <= 3600, "api.writeTimeoutSeconds",
                  "must be in (0, 3600] seconds, not \(api.writeTimeoutSeconds)")
    }
}

/// What shapes answers, independent of sockets. Defaults follow Knot DNS.
public struct ResponderConfiguration: Sendable, Equatable {
    /// Server identity: CH TXT `id.server` / `hostname.bind` and the NSID option (RFC 5001).
    /// Empty: those queries are refused and NSID is not sent.
    public var identity: String
    /// The EDNS UDP payload size advertised, and the most a UDP reply may use (default 1232, the
    /// DNS Flag Day 2020 value; Knot's default too).
    public var maxUDPPayload: Int
    /// How many CNAMEs to follow inside a zone before answering with what was found.
    public var maxCNAMEChain: Int
    /// Whether each query is counted in `ResponderStats` (by transport, qtype, rcode, policy, reply
    /// size). Off (`metrics.enabled: false`) only to measure what counting costs.
    public var countsQueries: Bool
    /// The share of queries logged at info level through the responder's query logger: 0 (never,
    /// the default) … 1 (every query). Each responder draws from its own random source.
    public var queryLogSampleRate: Double

    public init(identity: String = "", maxUDPPayload: Int = 1232, maxCNAMEChain: Int = 8,
                countsQueries: Bool = true, queryLogSampleRate: Double = 0) {
        self.identity = identity
        self.maxUDPPayload = maxUDPPayload
        self.maxCNAMEChain = maxCNAMEChain
        self.countsQueries = countsQueries
        self.queryLogSampleRate = queryLogSampleRate
    }
}

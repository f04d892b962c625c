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

    public init(identity: String = "", maxUDPPayload: Int = 1232, maxCNAMEChain: Int = 8) {
        self.identity = identity
        self.maxUDPPayload = maxUDPPayload
        self.maxCNAMEChain = maxCNAMEChain
    }
}

/// Per-responder counters. Each event loop owns one responder, so these are plain integers; a
/// metrics exporter sums them across loops.
public struct ResponderStats: Sendable, Equatable {
    public var queries: UInt64 = 0
    /// Packets too short for a header, or that were responses: dropped without a reply.
    public var dropped: UInt64 = 0
    public var formErr: UInt64 = 0
    public var truncated: UInt64 = 0
    public var noError: UInt64 = 0
    public var nxDomain: UInt64 = 0
    public var refused: UInt64 = 0
    public var notImp: UInt64 = 0
    public var other: UInt64 = 0
    /// Explain queries (CH TXT for a global name) from clients outside the allow-list.
    public var explainRefused: UInt64 = 0

    public init() {}
}

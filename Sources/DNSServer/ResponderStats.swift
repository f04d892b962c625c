import Plan
import DNSWire

/// What the responders counted, as one value: a snapshot of one event loop's `QueryCounters`, or
/// their sum across loops (`DNSServerService.stats()`), which the server exports as Prometheus
/// metrics at scrape time.
///
/// Every series is indexed by a small fixed label set (the static arrays below give the label
/// values in index order), so the query path only increments integers it owns.
public struct ResponderStats: Sendable, Equatable {
    /// `protocol` label values, by `Transport.index`.
    public static let transports = ["udp", "tcp"]
    /// `qtype` label values: the types worth a series of their own, then every other type.
    public static let qtypes = ["A", "AAAA", "CNAME", "MX", "NS", "SOA", "TXT", "SRV", "PTR", "CAA", "HTTPS", "ANY", "other"]
    /// `rcode` label values; `dropped` is a packet that got no reply at all (unreadable header, a
    /// response, a FORMERR whose question does not fit).
    public static let rcodes = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other", "dropped"]
    /// `policy` label values: answers from zone data, then one per GSLB policy.
    public static let policies = NamePlan.policyLabels
    /// Upper bounds (`le`, bytes) of the reply-size histogram; one more bucket counts the rest.
    public static let responseSizeBounds = [64, 128, 256, 512, 1024, 1232, 2048, 4096, 8192, 16384, 65535]

    // The sizes of those label sets as literals, so the query path computes indices from constants
    // (a test checks they match the arrays).
    static let transportCount = 2
    static let qtypeCount = 13
    static let rcodeCount = 8
    static let policyCount = 4
    static let sizeBucketCount = 12
    static let droppedIndex = 7

    /// Queries by transport × qtype × rcode; read with `queries(transport:qtype:rcode:)`.
    public var queries: [UInt64]
    /// Queries answered from a zone (`static`) or by a global name's policy, by `policies`.
    public var answers: [UInt64]
    /// Replies sent with TC=1, by transport.
    public var truncated: [UInt64]
    /// Replies by size, per transport `responseSizeBounds.count + 1` counts (each bucket on its own,
    /// not cumulative); read with `responseSizes(transport:)`.
    public var responseSizeCounts: [UInt64]
    /// Bytes of all replies, by transport (the histogram's sum).
    public var responseBytes: [UInt64]
    /// Explain queries (CH TXT for a global name) from clients outside the allow-list.
    public var explainRefused: UInt64

    public init() {
        queries = Array(repeating: 0, count: Self.transportCount * Self.qtypeCount * Self.rcodeCount)
        answers = Array(repeating: 0, count: Self.policyCount)
        truncated = Array(repeating: 0, count: Self.transportCount)
        responseSizeCounts = Array(repeating: 0, count: Self.transportCount * Self.sizeBucketCount)
        responseBytes = Array(repeating: 0, count: Self.transportCount)
        explainRefused = 0
    }

    /// Index into `queries`.
    @inline(__always)
    static func queryIndex(transport: Int, qtype: Int, rcode: Int) -> Int {
        (transport * qtypeCount + qtype) * rcodeCount + rcode
    }

    public func queries(transport: Int, qtype: Int, rcode: Int) -> UInt64 {
        queries[Self.queryIndex(transport: transport, qtype: qtype, rcode: rcode)]
    }

    /// The non-cumulative bucket counts of one transport's reply sizes.
    public func responseSizes(transport: Int) -> ArraySlice<UInt64> {
        let n = Self.sizeBucketCount
        return responseSizeCounts[transport * n ..< (transport + 1) * n]
    }

    /// Every query counted.
    public var totalQueries: UInt64 { queries.reduce(0, &+) }

    /// Packets that got no reply.
    public var dropped: UInt64 {
        var total: UInt64 = 0
        for t in 0..<Self.transportCount {
            for q in 0..<Self.qtypeCount { total &+= queries(transport: t, qtype: q, rcode: Self.droppedIndex) }
        }
        return total
    }

    /// Adds `other`'s counts to these (summing event loops).
    public static func += (total: inout ResponderStats, other: ResponderStats) {
        func add(_ a: inout [UInt64], _ b: [UInt64]) {
            for i in a.indices { a[i] &+= b[i] }
        }
        add(&total.queries, other.queries)
        add(&total.answers, other.answers)
        add(&total.truncated, other.truncated)
        add(&total.responseSizeCounts, other.responseSizeCounts)
        add(&total.responseBytes, other.responseBytes)
        total.explainRefused &+= other.explainRefused
    }

    /// The `qtypes` index of a query type.
    @inline(__always)
    public static func qtypeIndex(_ qtype: UInt16) -> Int {
        switch qtype {
        case 1: 0       // A
        case 28: 1      // AAAA
        case 5: 2       // CNAME
        case 15: 3      // MX
        case 2: 4       // NS
        case 6: 5       // SOA
        case 16: 6      // TXT
        case 33: 7      // SRV
        case 12: 8      // PTR
        case 257: 9     // CAA
        case 65: 10     // HTTPS
        case 255: 11    // ANY
        default: 12
        }
    }

    /// The `rcodes` index of a reply's rcode (extended ones, BADVERS say, are `other`).
    @inline(__always)
    public static func rcodeIndex(_ rcode: Rcode) -> Int {
        rcode.rawValue <= 5 ? Int(rcode.rawValue) : 6
    }

    /// The histogram bucket of a reply of `length` bytes: the first bound it does not exceed.
    @inline(__always)
    public static func sizeBucket(_ length: Int) -> Int {
        if length <= 512 { return length <= 64 ? 0 : length <= 128 ? 1 : length <= 256 ? 2 : 3 }
        if length <= 2048 { return length <= 1024 ? 4 : length <= 1232 ? 5 : 6 }
        return length <= 4096 ? 7 : length <= 8192 ? 8 : length <= 16384 ? 9 : length <= 65535 ? 10 : 11
    }
}

extension Transport {
    /// The index of this transport in `ResponderStats.transports`.
    @inline(__always)
    public var index: Int { self == .udp ? 0 : 1 }
}

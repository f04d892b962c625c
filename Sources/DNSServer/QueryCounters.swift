import DNSWire

/// One responder's counters: a fixed block of plain integers laid out as `ResponderStats` is,
/// allocated once with the responder and incremented on its event loop only (no lock, no atomic,
/// no allocation per query). `snapshot()` copies them into a `ResponderStats`; it must run on the
/// same loop (`DNSServerService.stats()` submits it there).
struct QueryCounters {
    private typealias S = ResponderStats
    private static var answersAt: Int { S.transportCount * S.qtypeCount * S.rcodeCount }
    private static var truncatedAt: Int { answersAt + S.policyCount }
    private static var sizesAt: Int { truncatedAt + S.transportCount }
    private static var bytesAt: Int { sizesAt + S.transportCount * S.sizeBucketCount }
    private static var explainRefusedAt: Int { bytesAt + S.transportCount }
    private static var total: Int { explainRefusedAt + 1 }

    private let base: UnsafeMutablePointer<UInt64>

    init() {
        base = .allocate(capacity: Self.total)
        base.initialize(repeating: 0, count: Self.total)
    }

    func deallocate() { base.deallocate() }

    /// Counts one query: its transport, qtype and rcode (`nil`: no reply was sent), the reply's
    /// size and TC bit, and which policy answered it (-1: none).
    @inline(__always)
    func count(transport: Transport, qtype: UInt16, rcode: Rcode?, replyLength: Int, truncated: Bool, policy: Int) {
        let t = transport.index
        let r = rcode.map(S.rcodeIndex) ?? S.droppedIndex
        base[S.queryIndex(transport: t, qtype: S.qtypeIndex(qtype), rcode: r)] &+= 1
        if replyLength > 0 {
            base[Self.sizesAt + t * S.sizeBucketCount + S.sizeBucket(replyLength)] &+= 1
            base[Self.bytesAt + t] &+= UInt64(replyLength)
        }
        if truncated { base[Self.truncatedAt + t] &+= 1 }
        if policy >= 0 { base[Self.answersAt + policy] &+= 1 }
    }

    func countExplainRefused() { base[Self.explainRefusedAt] &+= 1 }

    func snapshot() -> ResponderStats {
        var s = ResponderStats()
        func copy(_ array: inout [UInt64], from start: Int) {
            for i in array.indices { array[i] = base[start + i] }
        }
        copy(&s.queries, from: 0)
        copy(&s.answers, from: Self.answersAt)
        copy(&s.truncated, from: Self.truncatedAt)
        copy(&s.responseSizeCounts, from: Self.sizesAt)
        copy(&s.responseBytes, from: Self.bytesAt)
        s.explainRefused = base[Self.explainRefusedAt]
        return s
    }
}

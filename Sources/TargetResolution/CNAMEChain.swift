import DNSWire

/// The CNAMEs followed while resolving one name for one type, across replies: which names were
/// visited (a loop is an error), how many hops were taken, and the smallest CNAME TTL.
struct CNAMEChain {
    enum Problem: Error {
        case tooLong
        case loop(DNSName)
        case badTarget(DNSName)
    }

    private var visited: Set<DNSName>
    private(set) var hops = 0
    /// The smallest TTL among the CNAMEs followed; nil before the first.
    private(set) var minTTL: UInt32?

    init(start: DNSName) { visited = [start] }

    /// Follows CNAMEs in `answers` from `name` (owner names compared case-insensitively, class IN)
    /// and returns where the chain ends in this reply: `name` itself when it has no CNAME.
    mutating func follow(from name: DNSName, in answers: [ResourceRecord]) throws(Problem) -> DNSName {
        var owner = name
        while let cname = answers.first(where: { $0.type == .cname && $0.rrClass == .in && $0.owner == owner }) {
            let target: DNSName
            do { target = try DNSName(wire: cname.rdata) } catch { throw .badTarget(owner) }
            hops += 1
            guard hops <= UpstreamResolver.maxCNAMEs else { throw .tooLong }
            guard visited.insert(target).inserted else { throw .loop(target) }
            minTTL = min(minTTL ?? cname.ttl, cname.ttl)
            owner = target
        }
        return owner
    }
}

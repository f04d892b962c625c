import DNSWire

/// A set of IPv4 and IPv6 prefixes answering "is this address inside one of them?", for
/// allow-lists such as who may ask the explain query. Built once; `contains` walks at most 32 or
/// 128 trie nodes and never allocates. IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, as a
/// dual-stack socket reports IPv4 peers) are matched against the IPv4 prefixes.
public struct CIDRSet: Sendable, CustomStringConvertible {
    private var v4 = BitTrie()
    private var v6 = BitTrie()
    public private(set) var prefixes: [CIDR] = []

    /// 127.0.0.0/8 and ::1/128.
    public static let loopback: CIDRSet = {
        var s = CIDRSet()
        s.insert(CIDR(address: .v4(IPv4Address(127, 0, 0, 0)), prefixLength: 8))
        s.insert(CIDR(address: .v6(IPv6Address(high: 0, low: 1)), prefixLength: 128))
        return s
    }()

    public init() {}

    public init(_ prefixes: [CIDR]) {
        for p in prefixes { insert(p) }
    }

    /// Parses every entry, reporting each problem with its `field[index]` path.
    public init(parsing texts: [String], field: String) throws(LocalityTableError) {
        var problems: [ValidationProblem] = []
        for (i, t) in texts.enumerated() {
            do { insert(try CIDR(t)) } catch {
                problems.append(ValidationProblem(field: "\(field)[\(i)]", message: error.message))
            }
        }
        guard problems.isEmpty else { throw LocalityTableError(problems: problems) }
    }

    public mutating func insert(_ cidr: CIDR) {
        let n = Int32(prefixes.count)
        let existing: Int32?
        switch cidr.address {
        case .v4(let a): existing = v4.insert(high: UInt64(a.value) << 32, low: 0, length: cidr.prefixLength, entry: n)
        case .v6(let a): existing = v6.insert(high: a.high, low: a.low, length: cidr.prefixLength, entry: n)
        }
        if existing == nil { prefixes.append(cidr) }
    }

    public var isEmpty: Bool { prefixes.isEmpty }

    public func contains(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let a):
            return v4.lookup(high: UInt64(a.value) << 32, low: 0, limit: 32).entry >= 0
        case .v6(let a):
            if a.high == 0, a.low >> 32 == 0xFFFF {
                return v4.lookup(high: (a.low & 0xFFFF_FFFF) << 32, low: 0, limit: 32).entry >= 0
            }
            return v6.lookup(high: a.high, low: a.low, limit: 128).entry >= 0
        }
    }

    public var description: String { prefixes.map(\.description).joined(separator: ",") }
}

import DNSWire

/// Maps client addresses to localities by longest-prefix match over IPv4 and IPv6 CIDRs.
///
/// Built once from the configuration's `localities` list (compile, then serve) into
/// two binary tries stored in flat arrays; `lookup` walks at most 32 or 128 nodes and never
/// allocates. Besides the match, a lookup computes the ECS scope: the widest prefix around the
/// address inside which every address gets the same lookup result (see `Match.scopePrefixLength`).
public struct LocalityTable: Sendable {
    /// One configuration line: `{cidr: 10.20.0.0/16, locality: us-west/us-west-1a}`.
    public struct Entry: Sendable, Hashable, Codable {
        public var cidr: String
        public var locality: String

        public init(cidr: String, locality: String) {
            self.cidr = cidr
            self.locality = locality
        }
    }

    /// The result of a lookup.
    public struct Match: Sendable, Hashable {
        /// The longest matching entry: its locality and prefix length; nil when no entry matches.
        public var entry: (locality: Locality, prefixLength: UInt8)? {
            guard let locality else { return nil }
            return (locality, prefixLength)
        }
        /// The matched entry's locality, nil when none matched.
        public let locality: Locality?
        /// The matched entry's prefix length (0 when none matched).
        public let prefixLength: UInt8
        /// The shortest prefix of the looked-up address such that every address sharing it (and
        /// looked up with the same limit) gets this same result. Always ≥ `prefixLength` when an
        /// entry matched (longer when a more specific entry lies inside the matched one), never
        /// more than the lookup's limit. This is the correct ECS scope for an answer that depends
        /// only on the lookup result.
        public let scopePrefixLength: UInt8

        public init(locality: Locality?, prefixLength: UInt8, scopePrefixLength: UInt8) {
            self.locality = locality
            self.prefixLength = prefixLength
            self.scopePrefixLength = scopePrefixLength
        }
    }

    private var v4 = BitTrie()
    private var v6 = BitTrie()
    private var localities: [Locality] = []
    private var prefixLengths: [UInt8] = []
    /// Non-fatal findings of `init(entries:)`, such as host bits set past the prefix (masked).
    public private(set) var warnings: [ValidationProblem] = []

    /// The number of entries.
    public var count: Int { localities.count }

    /// An empty table: every lookup misses with scope 0.
    public init() {}

    /// Builds from parsed pairs. Throws every duplicate prefix, with the index of both entries.
    public init(_ pairs: [(cidr: CIDR, locality: Locality)], field: String = "localities") throws(LocalityTableError) {
        var problems: [ValidationProblem] = []
        for (i, pair) in pairs.enumerated() {
            if let previous = insert(pair.cidr, pair.locality) {
                problems.append(ValidationProblem(
                    field: "\(field)[\(i)].cidr",
                    message: "\(pair.cidr) duplicates \(field)[\(previous)]; each prefix may name one locality"))
            }
        }
        guard problems.isEmpty else { throw LocalityTableError(problems: problems) }
    }

    /// Parses and builds from configuration entries, reporting every problem at once: unparseable
    /// CIDRs and localities and duplicate prefixes are errors (thrown together, each with its
    /// `field[index]` path); a CIDR with host bits set is masked and noted in `warnings`.
    public init(entries: [Entry], field: String = "localities") throws(LocalityTableError) {
        var problems: [ValidationProblem] = []
        var warnings: [ValidationProblem] = []
        var firstIndex: [Int: Int] = [:]  // entry number in the table -> index in `entries`
        for (i, e) in entries.enumerated() {
            var cidr: CIDR?
            var locality: Locality?
            do {
                let parsed = try CIDR.parse(e.cidr)
                cidr = parsed.cidr
                if parsed.hostBitsWereSet {
                    warnings.append(ValidationProblem(
                        field: "\(field)[\(i)].cidr",
                        message: "\"\(e.cidr)\" has bits set past the prefix length; it is read as \(parsed.cidr)"))
                }
            } catch {
                problems.append(ValidationProblem(field: "\(field)[\(i)].cidr", message: error.message))
            }
            do {
                locality = try Locality(e.locality)
            } catch {
                problems.append(ValidationProblem(field: "\(field)[\(i)].locality", message: error.message))
            }
            guard let cidr, let locality else { continue }
            if let previous = insert(cidr, locality) {
                let where_ = firstIndex[previous].map { "\(field)[\($0)]" } ?? "an earlier entry"
                problems.append(ValidationProblem(
                    field: "\(field)[\(i)].cidr",
                    message: "\(cidr) duplicates \(where_); each prefix may name one locality"))
            } else {
                firstIndex[localities.count - 1] = i
            }
        }
        guard problems.isEmpty else { throw LocalityTableError(problems: problems) }
        self.warnings = warnings
    }

    /// Inserts; returns the number of the existing entry when the prefix is already present.
    private mutating func insert(_ cidr: CIDR, _ locality: Locality) -> Int? {
        let entry = Int32(localities.count)
        let existing: Int32?
        switch cidr.address {
        case .v4(let a): existing = v4.insert(high: UInt64(a.value) << 32, low: 0, length: cidr.prefixLength, entry: entry)
        case .v6(let a): existing = v6.insert(high: a.high, low: a.low, length: cidr.prefixLength, entry: entry)
        }
        if let existing { return Int(existing) }
        localities.append(locality)
        prefixLengths.append(cidr.prefixLength)
        return nil
    }

    /// Longest-prefix match of `address`, considering only its first `limit` bits (an ECS source
    /// prefix length; nil for the whole address). Entries longer than the limit cannot match: the
    /// client did not say which of them it is in. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// as a dual-stack socket reports IPv4 peers) is looked up in the IPv4 table and its lengths
    /// are reported in IPv6 terms (+96). Does not allocate.
    public func lookup(_ address: IPAddress, limit: UInt8? = nil) -> Match {
        switch address {
        case .v4(let a):
            return result(v4.lookup(high: UInt64(a.value) << 32, low: 0, limit: min(limit ?? 32, 32)), offset: 0)
        case .v6(let a):
            let lim = min(limit ?? 128, 128)
            if a.high == 0, a.low >> 32 == 0xFFFF, lim >= 96 {
                return result(v4.lookup(high: (a.low & 0xFFFF_FFFF) << 32, low: 0, limit: lim - 96), offset: 96)
            }
            return result(v6.lookup(high: a.high, low: a.low, limit: lim), offset: 0)
        }
    }

    private func result(_ r: BitTrie.LookupResult, offset: UInt8) -> Match {
        guard r.entry >= 0 else { return Match(locality: nil, prefixLength: 0, scopePrefixLength: r.scope + offset) }
        let i = Int(r.entry)
        return Match(locality: localities[i], prefixLength: prefixLengths[i] + offset, scopePrefixLength: r.scope + offset)
    }
}

/// Every problem that kept a localities table from being built.
public struct LocalityTableError: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [ValidationProblem]

    public init(problems: [ValidationProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// An uncompressed binary trie over 128-bit keys (IPv4 keys use the top 32 bits), in one flat
/// array. Node 0 is the root (depth 0, the /0 prefix).
struct BitTrie: Sendable {
    struct Node: Sendable {
        var zero: Int32 = -1
        var one: Int32 = -1
        var entry: Int32 = -1
    }

    struct LookupResult {
        var entry: Int32
        var scope: UInt8
    }

    private(set) var nodes: [Node] = [Node()]

    @inline(__always)
    static func bit(_ high: UInt64, _ low: UInt64, _ i: Int) -> Bool {
        i < 64 ? (high >> UInt64(63 - i)) & 1 == 1 : (low >> UInt64(127 - i)) & 1 == 1
    }

    /// Returns the entry already at this prefix, or nil after inserting.
    mutating func insert(high: UInt64, low: UInt64, length: UInt8, entry: Int32) -> Int32? {
        var n = 0
        for depth in 0..<Int(length) {
            let b = BitTrie.bit(high, low, depth)
            let next = b ? nodes[n].one : nodes[n].zero
            if next >= 0 {
                n = Int(next)
            } else {
                nodes.append(Node())
                let created = Int32(nodes.count - 1)
                if b { nodes[n].one = created } else { nodes[n].zero = created }
                n = Int(created)
            }
        }
        if nodes[n].entry >= 0 { return nodes[n].entry }
        nodes[n].entry = entry
        return nil
    }

    /// Walks the key's path up to `limit` bits, remembering the deepest entry. The scope is where
    /// the answer stops depending on further bits: the walk ended at depth d because
    /// - d == limit: bits past the limit are not looked at → d;
    /// - the node at d has no children: nothing more specific exists below → d;
    /// - the node at d has only the child the key does not take: addresses sharing d + 1 bits
    ///   with the key all end here, those differing at bit d may not → d + 1.
    func lookup(high: UInt64, low: UInt64, limit: UInt8) -> LookupResult {
        var n = 0
        var depth = 0
        var best = nodes[0].entry
        let lim = Int(limit)
        while depth < lim {
            let next = BitTrie.bit(high, low, depth) ? nodes[n].one : nodes[n].zero
            guard next >= 0 else { break }
            n = Int(next)
            depth += 1
            if nodes[n].entry >= 0 { best = nodes[n].entry }
        }
        let isLeaf = nodes[n].zero < 0 && nodes[n].one < 0
        let scope = (depth == lim || isLeaf) ? depth : depth + 1
        return LookupResult(entry: best, scope: UInt8(scope))
    }
}

import DNSWire

/// The wire form of the answer plan: every served global name (a NameService's FQDN) with its
/// address records pre-rendered, plus the empty non-terminals those names create.
///
/// A global name is always answered for exactly the query name, so each record is rendered with
/// its owner already pointing at the question (`0xC00C`) and fixed-size RDATA (A: 16 bytes per
/// record, AAAA: 28): answering is a copy of a run of records, and a policy that picks a subset
/// copies records by index. The table is rebuilt whole on every plan change from entries the
/// compiler keeps rendered, so a change to one name re-renders only that name.
public final class GlobalNameTable: Sendable {
    /// One name's answer data, as the compiler hands it over.
    public struct Entry: Sendable, Hashable {
        public var fqdn: DNSName
        public var ttl: UInt32
        public var ipv4: [IPv4Address]
        public var ipv6: [IPv6Address]
        /// Which zone of the serving set this name belongs to (its origin).
        public var zone: DNSName

        public init(fqdn: DNSName, ttl: UInt32, ipv4: [IPv4Address], ipv6: [IPv6Address], zone: DNSName) {
            self.fqdn = fqdn
            self.ttl = ttl
            self.ipv4 = ipv4
            self.ipv6 = ipv6
            self.zone = zone
        }
    }

    /// Where one name's records are in the blob.
    public struct Rendered: Sendable, BitwiseCopyable {
        public var v4Offset: UInt32
        public var v4Count: UInt16
        public var v6Count: UInt16
        public var v6Offset: UInt32
        /// Index of an empty non-terminal entry (no records) or a real name.
        public var isEmptyNonTerminal: Bool
        /// The records' TTL (kept for a name without records too, to rebuild its entry).
        public var ttl: UInt32 = 0
    }

    public static let empty = GlobalNameTable(entries: [], emptyNonTerminals: [])

    /// Real names (entries `0..<count`); the names after them are empty non-terminals.
    public let count: Int
    @usableFromInline let names: NameTable
    @usableFromInline let rendered: FrozenBuffer<Rendered>
    @usableFromInline let blob: FrozenBuffer<UInt8>

    public static let ipv4RecordSize = 16
    public static let ipv6RecordSize = 28
    /// The most A / AAAA records one name renders: the same as `CandidateSet.maxAddresses` (a
    /// test checks it), what always fits in one TCP reply with the longest question, NSID, Client
    /// Subnet and a 64-hop CNAME chain in front.
    public static let maxIPv4Records = 2048
    public static let maxIPv6Records = 1536

    /// A table of `entries` and the empty non-terminals their names create between each FQDN
    /// and its zone (RFC 8020: NODATA, never NXDOMAIN). `entries` must have distinct FQDNs (the
    /// compiler guarantees it); each must lie inside its zone.
    public convenience init(entries: [Entry]) {
        var seen = Set(entries.map { $0.fqdn.lowercased() })
        var ents: [DNSName] = []
        for e in entries {
            var p = e.fqdn.lowercased()
            let zone = e.zone.lowercased()
            while let up = p.parent, up != zone, up.isSubdomain(of: zone) {
                if seen.insert(up).inserted { ents.append(up) }
                p = up
            }
        }
        self.init(entries: entries, emptyNonTerminals: ents)
    }

    /// A table of exactly these names: `entries` (distinct FQDNs) and `emptyNonTerminals`
    /// (lowercased, none of them an entry's FQDN). One shard of the served global names: the
    /// plan compiler decides which names and non-terminals each shard holds.
    public init(entries: [Entry], emptyNonTerminals: [DNSName]) {
        var names: [[UInt8]] = []
        var rendered: [Rendered] = []
        var blob: [UInt8] = []
        names.reserveCapacity(entries.count + emptyNonTerminals.count)
        rendered.reserveCapacity(entries.count + emptyNonTerminals.count)
        for e in entries {
            names.append(e.fqdn.lowercased().wire)
            var r = Rendered(v4Offset: UInt32(blob.count), v4Count: UInt16(min(e.ipv4.count, Self.maxIPv4Records)), v6Count: 0,
                             v6Offset: 0, isEmptyNonTerminal: false, ttl: e.ttl)
            for a in e.ipv4.prefix(Self.maxIPv4Records) {
                blob += [0xC0, 0x0C]
                blob.appendU16(RRType.a.rawValue)
                blob.appendU16(RRClass.in.rawValue)
                blob.appendU32(e.ttl)
                blob.appendU16(4)
                blob.appendU32(a.value)
            }
            r.v6Offset = UInt32(blob.count)
            r.v6Count = UInt16(min(e.ipv6.count, Self.maxIPv6Records))
            for a in e.ipv6.prefix(Self.maxIPv6Records) {
                blob += [0xC0, 0x0C]
                blob.appendU16(RRType.aaaa.rawValue)
                blob.appendU16(RRClass.in.rawValue)
                blob.appendU32(e.ttl)
                blob.appendU16(16)
                blob += a.bytes
            }
            rendered.append(r)
        }
        for up in emptyNonTerminals {
            names.append(up.wire)
            rendered.append(Rendered(v4Offset: 0, v4Count: 0, v6Count: 0, v6Offset: 0, isEmptyNonTerminal: true))
        }
        self.count = entries.count
        self.names = NameTable(names: names)
        self.rendered = FrozenBuffer(rendered)
        self.blob = FrozenBuffer(blob)
    }

    /// Entry `i` (`0..<count`) read back from the rendered form, lowercased; its `zone` is not
    /// kept (the root), nor records past the render ceiling. For rebuilding a shard.
    public func entry(at i: Int) -> Entry {
        let r = rendered[i]
        var ipv4: [IPv4Address] = []
        var ipv6: [IPv6Address] = []
        ipv4.reserveCapacity(Int(r.v4Count))
        ipv6.reserveCapacity(Int(r.v6Count))
        let b = blob.pointer
        func u32(_ p: UnsafePointer<UInt8>) -> UInt32 {
            UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
        }
        for k in 0..<Int(r.v4Count) {
            let rec = b + Int(r.v4Offset) + k * Self.ipv4RecordSize
            ipv4.append(IPv4Address(value: u32(rec + 12)))
        }
        for k in 0..<Int(r.v6Count) {
            let rec = b + Int(r.v6Offset) + k * Self.ipv6RecordSize
            ipv6.append(IPv6Address(bytes: UnsafeBufferPointer(start: rec + 12, count: 16)))
        }
        return Entry(fqdn: name(at: i), ttl: r.ttl, ipv4: ipv4, ipv6: ipv6, zone: .root)
    }

    /// The lowercased name of slot `i` (an entry or, past `count`, an empty non-terminal).
    public func name(at i: Int) -> DNSName {
        DNSName(trustedWire: names.bytes(at: i))
    }

    /// The empty non-terminals, lowercased.
    public var emptyNonTerminals: [DNSName] {
        (count..<names.count).map { name(at: $0) }
    }

    /// Every slot (entries and empty non-terminals).
    public var slotCount: Int { names.count }

    /// The hash names are placed by (FNV-1a over the lowercased wire bytes).
    @inlinable
    public static func hash(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt32 {
        nameHash(p, count)
    }

    /// The same with `hash(p, count)` already computed.
    @inlinable
    public func find(_ p: UnsafePointer<UInt8>, _ count: Int, hash: UInt32) -> Int {
        names.find(p, count, hash: hash)
    }

    /// The entry for exactly these bytes (a lowercased wire name), or -1.
    @inlinable
    public func find(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        names.find(p, count)
    }

    @inlinable public func rendered(_ i: Int) -> Rendered { rendered[i] }
    @inlinable public var blobPointer: UnsafePointer<UInt8> { blob.pointer }
}

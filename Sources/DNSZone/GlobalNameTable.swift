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
    }

    public static let empty = GlobalNameTable(entries: [])

    public let entries: [Entry]
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

    /// `entries` must have distinct FQDNs (the compiler guarantees it); each must lie inside its zone.
    public init(entries: [Entry]) {
        self.entries = entries
        var names: [[UInt8]] = []
        var rendered: [Rendered] = []
        var blob: [UInt8] = []
        var seen = Set<DNSName>()
        for e in entries {
            let key = e.fqdn.lowercased()
            seen.insert(key)
            names.append(key.wire)
            var r = Rendered(v4Offset: UInt32(blob.count), v4Count: UInt16(min(e.ipv4.count, Self.maxIPv4Records)), v6Count: 0,
                             v6Offset: 0, isEmptyNonTerminal: false)
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
        // Names between each FQDN and its zone exist too (RFC 8020): NODATA, never NXDOMAIN.
        for e in entries {
            var p = e.fqdn.lowercased()
            let zone = e.zone.lowercased()
            while let up = p.parent, up != zone, up.isSubdomain(of: zone) {
                if !seen.contains(up) {
                    seen.insert(up)
                    names.append(up.wire)
                    rendered.append(Rendered(v4Offset: 0, v4Count: 0, v6Count: 0, v6Offset: 0, isEmptyNonTerminal: true))
                }
                p = up
            }
        }
        self.names = NameTable(names: names)
        self.rendered = FrozenBuffer(rendered)
        self.blob = FrozenBuffer(blob)
    }

    public var count: Int { entries.count }

    /// The entry for exactly these bytes (a lowercased wire name), or -1.
    @inlinable
    public func find(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        names.find(p, count)
    }

    @inlinable public func rendered(_ i: Int) -> Rendered { rendered[i] }
    @inlinable public var blobPointer: UnsafePointer<UInt8> { blob.pointer }
}

import DNSWire
@testable import GSLB
import Testing

@Suite("Localities and CIDRs")
struct LocalityTests {
    @Test(arguments: [
        ("us-west", "us-west", nil, nil),
        ("us-west/us-west-1a", "us-west", "us-west-1a", nil),
        ("us-west/us-west-1a/rack7", "us-west", "us-west-1a", "rack7"),
    ] as [(String, String, String?, String?)])
    func parsesLocalities(_ text: String, _ region: String, _ zone: String?, _ subzone: String?) throws {
        let l = try Locality(text)
        #expect(l == Locality(region: region, zone: zone, subzone: subzone))
        #expect(l.description == text)
    }

    @Test(arguments: [
        ("", GSLBParseError.Code.emptySegment), ("/a", .emptySegment), ("a/", .emptySegment), ("a//b", .emptySegment),
        ("a/b/c/d", .tooManySegments), ("a b", .badCharacter), ("a/b\tc", .badCharacter),
    ])
    func rejectsLocalities(_ text: String, _ code: GSLBParseError.Code) {
        #expect(throws: GSLBParseError(code, "")) { try Locality(text) }
    }

    @Test(arguments: [
        ("r/z/s", "r/z/s", LocalityTier.sameSubzone),
        ("r/z/s", "r/z/t", .sameZone),
        ("r/z/s", "r/z", .sameZone),
        ("r/z", "r/z", .sameZone),
        ("r/z/s", "r/y/s", .sameRegion),  // same subzone name in another zone is not near
        ("r/z", "r", .sameRegion),
        ("r", "r", .sameRegion),
        ("r/z/s", "q/z/s", .otherRegion),
        ("r", "q", .otherRegion),
    ])
    func tiers(_ a: String, _ b: String, _ tier: LocalityTier) {
        #expect(loc(a).tier(to: loc(b)) == tier)
        #expect(loc(b).tier(to: loc(a)) == tier, "tier is symmetric")
    }

    @Test func tiersOrderNearestFirst() {
        #expect(LocalityTier.allCases.sorted() == [.sameSubzone, .sameZone, .sameRegion, .otherRegion])
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8", false),
        ("10.1.2.3/8", "10.0.0.0/8", true),
        ("0.0.0.0/0", "0.0.0.0/0", false),
        ("255.255.255.255/0", "0.0.0.0/0", true),
        ("192.0.2.1/32", "192.0.2.1/32", false),
        ("192.0.2.255/25", "192.0.2.128/25", true),
        ("2001:db8::/32", "2001:db8::/32", false),
        ("2001:db8:ffff::1/48", "2001:db8:ffff::/48", true),
        ("2001:db8::1/128", "2001:db8::1/128", false),
        ("::/0", "::/0", false),
        ("2001:db8::8000:0:0:1/65", "2001:db8:0:0:8000::/65", true),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", true),
    ])
    func parsesCIDRs(_ text: String, _ canonical: String, _ hostBits: Bool) throws {
        let parsed = try CIDR.parse(text)
        #expect(parsed.cidr.description == canonical)
        #expect(parsed.hostBitsWereSet == hostBits)
        #expect(try CIDR(text) == parsed.cidr)
    }

    @Test(arguments: [
        ("10.0.0.0", GSLBParseError.Code.missingPrefixLength), ("10.0.0.0/8/8", .missingPrefixLength),
        ("10.0.0/8", .badAddress), ("10.0.0.0/33", .badPrefixLength), ("10.0.0.0/", .badPrefixLength),
        ("10.0.0.0/-1", .badPrefixLength), ("10.0.0.0/+8", .badPrefixLength), ("::/129", .badPrefixLength),
        ("::/1000", .badPrefixLength), ("host/8", .badAddress),
    ])
    func rejectsCIDRs(_ text: String, _ code: GSLBParseError.Code) {
        #expect(throws: GSLBParseError(code, "")) { try CIDR(text) }
    }

    @Test func cidrContains() throws {
        let c = try CIDR("10.128.0.0/9")
        #expect(c.contains(ip("10.200.1.1")))
        #expect(!c.contains(ip("10.1.1.1")))
        #expect(!c.contains(ip("::ffff:10.200.1.1")), "families never mix")
        #expect(try CIDR("::/0").contains(ip("2001:db8::1")))
    }

    // MARK: longest-prefix match

    /// Nested prefixes in both families, including /0, /32 and /128.
    static let table: LocalityTable = {
        do {
            return try LocalityTable(entries: [
                .init(cidr: "0.0.0.0/0", locality: "world"),
                .init(cidr: "10.0.0.0/8", locality: "corp"),
                .init(cidr: "10.1.0.0/16", locality: "us-west/us-west-1a"),
                .init(cidr: "10.1.2.0/24", locality: "us-west/us-west-1a/rack2"),
                .init(cidr: "10.1.2.3/32", locality: "us-west/us-west-1a/host3"),
                .init(cidr: "192.168.0.0/16", locality: "lab"),
                .init(cidr: "2001:db8::/32", locality: "v6corp"),
                .init(cidr: "2001:db8:1::/48", locality: "us-east/us-east-1b"),
                .init(cidr: "2001:db8:1::1/128", locality: "us-east/us-east-1b/one"),
            ])
        } catch {
            fatalError("\(error)")
        }
    }()

    @Test(arguments: [
        // address, limit, locality, prefix, scope
        ("10.1.2.3", nil, "us-west/us-west-1a/host3", 32, 32),
        ("10.1.2.4", nil, "us-west/us-west-1a/rack2", 24, 30),  // 10.1.2.3/32 lies inside: scope must exclude it
        ("10.1.2.200", nil, "us-west/us-west-1a/rack2", 24, 25),
        ("10.1.3.1", nil, "us-west/us-west-1a", 16, 24),
        ("10.1.128.1", nil, "us-west/us-west-1a", 16, 17),
        ("10.2.0.1", nil, "corp", 8, 15),  // 10.2/15 holds no longer entry; 10.0/15 holds 10.1/16
        ("10.200.0.1", nil, "corp", 8, 9),
        ("11.0.0.1", nil, "world", 0, 8),
        ("192.168.7.7", nil, "lab", 16, 16),  // a leaf: the entry's own length
        ("128.0.0.1", nil, "world", 0, 2),  // first differs from 192.168/16 at bit 1
        // ECS limits: entries longer than the source prefix cannot match.
        ("10.1.2.0", 24, "us-west/us-west-1a/rack2", 24, 24),
        ("10.1.0.0", 16, "us-west/us-west-1a", 16, 16),
        ("10.0.0.0", 12, "corp", 8, 12),
        ("10.1.2.3", 31, "us-west/us-west-1a/rack2", 24, 31),
        ("10.1.2.3", 32, "us-west/us-west-1a/host3", 32, 32),
        // IPv6
        ("2001:db8:1::1", nil, "us-east/us-east-1b/one", 128, 128),
        ("2001:db8:1::2", nil, "us-east/us-east-1b", 48, 127),
        ("2001:db8:1:8000::", nil, "us-east/us-east-1b", 48, 49),
        ("2001:db8:2::1", nil, "v6corp", 32, 47),
        ("2001:db8:8000::", nil, "v6corp", 32, 33),
        ("2001:db8:1::", 56, "us-east/us-east-1b", 48, 56),
        // IPv4-mapped IPv6 uses the IPv4 table, lengths in IPv6 terms.
        ("::ffff:10.1.2.3", nil, "us-west/us-west-1a/host3", 128, 128),
        ("::ffff:192.168.1.1", nil, "lab", 112, 112),
    ] as [(String, UInt8?, String, UInt8, UInt8)])
    func longestPrefixMatch(_ address: String, _ limit: UInt8?, _ locality: String, _ prefix: UInt8, _ scope: UInt8) {
        let m = Self.table.lookup(ip(address), limit: limit)
        #expect(m == LocalityTable.Match(locality: loc(locality), prefixLength: prefix, scopePrefixLength: scope))
    }

    @Test(arguments: [
        ("2002::1", nil, 15),  // 0x2001 and 0x2002 first differ at bit 14
        ("3000::", nil, 4),
        ("8000::", nil, 1),
        ("2001:db9::1", nil, 32),
        ("2001:db8::", 16, 16),
        ("::", 0, 0),
    ] as [(String, UInt8?, UInt8)])
    func ipv6Misses(_ address: String, _ limit: UInt8?, _ scope: UInt8) {
        let m = Self.table.lookup(ip(address), limit: limit)
        #expect(m == LocalityTable.Match(locality: nil, prefixLength: 0, scopePrefixLength: scope))
    }

    /// The scope claim itself, checked by brute force on a small table: every address sharing the
    /// returned scope with the looked-up address gets the same result, and one bit less does not
    /// hold (the scope is as wide as correct allows).
    @Test func scopeIsCorrectAndTight() throws {
        let t = try LocalityTable(entries: [
            .init(cidr: "10.0.0.0/8", locality: "a"), .init(cidr: "10.1.0.0/16", locality: "b"),
            .init(cidr: "10.1.2.0/24", locality: "c"), .init(cidr: "10.1.2.128/25", locality: "d"),
        ])
        let networks: [UInt32] = [0x0A00_0000, 0x0A01_0000, 0x0A01_0200, 0x0A01_0280]
        // Addresses in 10.0.0.0-10.3.255.255, around every entry.
        var rng = SplitMix64(seed: 42)
        for i in 0..<300 {
            let v = switch i % 3 {
            case 0: UInt32(0x0A01_0200) | UInt32.random(in: 0...0xFF, using: &rng)
            case 1: UInt32(0x0A01_0000) | UInt32.random(in: 0...0xFFFF, using: &rng)
            default: UInt32(0x0A00_0000) | UInt32.random(in: 0...0x03_FFFF, using: &rng)
            }
            let m = t.lookup(.v4(IPv4Address(value: v)))
            let s = UInt32(m.scopePrefixLength)
            let mask: UInt32 = s == 0 ? 0 : ~0 << (32 - s)
            for _ in 0..<20 {
                let other = (v & mask) | (UInt32.random(in: 0...UInt32.max, using: &rng) & ~mask)
                #expect(t.lookup(.v4(IPv4Address(value: other))).locality == m.locality)
            }
            // The addresses most likely to break a too-wide scope: entry edges.
            for p in networks + [0x0A01_027F, 0x0A01_02FF, 0x0A01_FFFF, 0x0AFF_FFFF] where p & mask == v & mask {
                #expect(t.lookup(.v4(IPv4Address(value: p))).locality == m.locality)
            }
            if s > 0 {
                // Tight: one bit wider, some address answers differently. Witnesses: the address
                // with bit s-1 flipped, and every entry's network address.
                let wider: UInt32 = s == 1 ? 0 : ~0 << (33 - s)
                let probes = [v ^ (1 << (32 - s))] + networks
                let differs = probes.contains { p in
                    p & wider == v & wider && t.lookup(.v4(IPv4Address(value: p))).locality != m.locality
                }
                #expect(differs, "scope /\(s) for \(IPv4Address(value: v)) is not tight")
            }
        }
    }

    @Test func emptyTableMissesWithScopeZero() {
        let t = LocalityTable()
        #expect(t.lookup(ip("10.0.0.1")) == LocalityTable.Match(locality: nil, prefixLength: 0, scopePrefixLength: 0))
        #expect(t.lookup(ip("2001:db8::1")) == LocalityTable.Match(locality: nil, prefixLength: 0, scopePrefixLength: 0))
        #expect(t.count == 0)
    }

    @Test func v4OnlyTableMissesEveryV6AddressWithScopeZero() throws {
        let t = try LocalityTable(entries: [.init(cidr: "10.0.0.0/8", locality: "a")])
        #expect(t.lookup(ip("2001:db8::1")).scopePrefixLength == 0)
        #expect(t.lookup(ip("11.0.0.1")) == LocalityTable.Match(locality: nil, prefixLength: 0, scopePrefixLength: 8))
    }

    @Test func duplicatesAreErrorsWithBothIndices() {
        #expect {
            _ = try LocalityTable(entries: [
                .init(cidr: "10.0.0.0/8", locality: "a"),
                .init(cidr: "2001:db8::/32", locality: "b"),
                .init(cidr: "10.9.9.9/8", locality: "c"),          // same prefix once masked
                .init(cidr: "2001:DB8:0::/32", locality: "d"),
                .init(cidr: "bogus", locality: "e//f"),
            ])
        } throws: { error in
            guard let e = error as? LocalityTableError else { return false }
            return e.problems.map(\.description) == [
                "localities[2].cidr: 10.0.0.0/8 duplicates localities[0]; each prefix may name one locality",
                "localities[3].cidr: 2001:db8::/32 duplicates localities[1]; each prefix may name one locality",
                "localities[4].cidr: \"bogus\" is not a CIDR: write address/length, e.g. 10.0.0.0/8",
                "localities[4].locality: \"e//f\" has an empty zone; a locality is region[/zone[/subzone]] with non-empty segments",
            ]
        }
    }

    @Test func duplicatesFromParsedPairs() throws {
        #expect {
            _ = try LocalityTable([(try CIDR("10.0.0.0/8"), loc("a")), (try CIDR("10.0.0.0/8"), loc("b"))], field: "table")
        } throws: { error in
            (error as? LocalityTableError)?.problems.map(\.field) == ["table[1].cidr"]
        }
    }

    @Test func hostBitsAreMaskedAndWarned() throws {
        let t = try LocalityTable(entries: [.init(cidr: "10.1.2.3/16", locality: "a"), .init(cidr: "10.2.0.0/16", locality: "b")])
        #expect(t.warnings.map(\.description) == ["localities[0].cidr: \"10.1.2.3/16\" has bits set past the prefix length; it is read as 10.1.0.0/16"])
        #expect(t.lookup(ip("10.1.200.1")).locality == loc("a"))
        #expect(t.count == 2)
    }

    // MARK: the client context

    @Test(arguments: [
        // packet source, ECS (address/source), default → address used, source, locality, locality source, scope
        ("10.1.2.9", nil, nil, "10.1.2.9", "source", "us-west/us-west-1a/rack2", "matched /24", 0),
        ("10.1.2.9", "192.168.5.0/24", nil, "192.168.5.0", "ecs/24", "lab", "matched /16", 16),
        ("10.1.2.9", "10.1.0.0/0", nil, "10.1.2.9", "source", "us-west/us-west-1a/rack2", "matched /24", 0),  // source 0 → packet
        ("10.1.2.9", "10.1.2.0/24", nil, "10.1.2.0", "ecs/24", "us-west/us-west-1a/rack2", "matched /24", 24),
        ("10.1.2.9", "2001:db8:1::/56", nil, "2001:db8:1::", "ecs/56", "us-east/us-east-1b", "matched /48", 56),
        ("10.1.2.9", "2001:db8:100::/40", nil, "2001:db8:100::", "ecs/40", "v6corp", "matched /32", 40),
        ("10.1.2.9", "3000::/24", nil, "3000::", "ecs/24", nil, "none", 4),
        ("10.1.2.9", "3000::/24", "us-west/us-west-1a", "3000::", "ecs/24", "us-west/us-west-1a", "default", 4),
        ("::1", nil, "us-west", "::1", "source", "us-west", "default", 0),
    ] as [(String, String?, String?, String, String, String?, String, UInt8)])
    func clientContext(_ packet: String, _ ecs: String?, _ defaultLocality: String?, _ address: String, _ source: String,
                       _ locality: String?, _ localitySource: String, _ scope: UInt8) throws {
        let subnet = try ecs.map { text in
            let c = try CIDR(text)
            return ClientSubnet(address: c.address, sourcePrefix: c.prefixLength)
        }
        let c = ClientContext(packetSource: ip(packet), clientSubnet: subnet, table: Self.table,
                              defaultLocality: defaultLocality.map(loc))
        #expect(c.address.description == address)
        #expect(c.source.description == source)
        #expect(c.locality?.description == locality)
        #expect(c.localitySource.description == localitySource)
        #expect(c.localityScopePrefixLength == scope)
    }
}

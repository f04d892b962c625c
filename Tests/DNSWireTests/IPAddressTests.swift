import DNSWire
import Testing

@Suite("IP addresses")
struct IPAddressTests {
    @Test(arguments: ["0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.254"])
    func ipv4RoundTrip(_ text: String) throws {
        let a = try #require(IPv4Address(text))
        #expect(a.description == text)
        #expect(IPv4Address(a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]) == a)
    }

    @Test func ipv4Bytes() throws {
        #expect(try #require(IPv4Address("192.0.2.1")).bytes == [192, 0, 2, 1])
        #expect(try #require(IPv4Address("192.0.2.1")).value == 0xC000_0201)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.00", "1..2.3", ".1.2.3", "1.2.3.",
                      "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.-4", "+1.2.3.4", "1.2.3.4/24", "1111.2.3.4"])
    func ipv4Rejects(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    /// RFC 5952 §4: lower case, no leading zeros, `::` for the longest run of ≥ 2 zero groups (the
    /// first one on a tie), never for a single group.
    @Test(arguments: [
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:DB8::ABCD", "2001:db8::abcd"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("fe80::1:0:0:0", "fe80::1:0:0:0"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("64:ff9b::198.51.100.7", "64:ff9b::c633:6407"),
    ])
    func ipv6Canonical(input: String, canonical: String) throws {
        let a = try #require(IPv6Address(input))
        #expect(a.description == canonical)
        #expect(IPv6Address(canonical) == a)
        #expect(IPv6Address(bytes: a.bytes) == a)
    }

    @Test(arguments: ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8",
                      "12345::", "g::", ":1::", "1::2:", "::1.2.3", "1.2.3.4::", "1.2.3.4", "::1.2.3.4:5",
                      "2001:db8::1 ", "+1::", "-0::", "::ffff:256.0.0.1", "fe80::1%eth0"])
    func ipv6Rejects(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func ipv6Bytes() throws {
        let a = try #require(IPv6Address("2001:db8::102:304"))
        #expect(a.bytes == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
        // Fewer than 16 bytes are zero-padded on the right (Client Subnet addresses).
        #expect(IPv6Address(bytes: [0x20, 0x01, 0x0d, 0xb8]) == IPv6Address("2001:db8::"))
        #expect(IPv6Address("::1")! < IPv6Address("::2")!)
        #expect(IPv6Address("::ffff")! < IPv6Address("1::")!)
    }

    @Test func eitherFamily() {
        #expect(IPAddress("192.0.2.1") == .v4(IPv4Address(192, 0, 2, 1)))
        #expect(IPAddress("2001:db8::1") == .v6(IPv6Address("2001:db8::1")!))
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPAddress("example.com") == nil)
    }
}

@Suite("Client Subnet (RFC 7871)")
struct ClientSubnetTests {
    struct Row: CustomStringConvertible, Sendable {
        var name: String
        var data: [UInt8]
        var isQuery = true
        /// nil: valid.
        var error: DNSWireError.Code?
        var description: String { name }
    }

    static let v6full: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]

    static let rows: [Row] = [
        .init(name: "v4 /24", data: [0, 1, 24, 0, 192, 0, 2]),
        .init(name: "v4 /0, no address", data: [0, 1, 0, 0]),
        .init(name: "v4 /32", data: [0, 1, 32, 0, 192, 0, 2, 1]),
        .init(name: "v4 /25 with bit 25 set", data: [0, 1, 25, 0, 192, 0, 2, 0x80]),
        .init(name: "v6 /56", data: [0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 1]),
        .init(name: "v6 /128", data: [0, 2, 128, 0] + v6full),
        .init(name: "v6 /0", data: [0, 2, 0, 0]),
        .init(name: "response with scope", data: [0, 1, 24, 16, 192, 0, 2], isQuery: false),
        // §7.1.1: anything else is FORMERR.
        .init(name: "empty", data: [], error: .badOption),
        .init(name: "shorter than the fixed part", data: [0, 1, 24], error: .badOption),
        .init(name: "family 0", data: [0, 0, 0, 0], error: .badOption),
        .init(name: "family 3", data: [0, 3, 8, 0, 10], error: .badOption),
        .init(name: "family 256", data: [1, 0, 8, 0, 10], error: .badOption),
        .init(name: "v4 prefix 33", data: [0, 1, 33, 0, 192, 0, 2, 1, 0], error: .badOption),
        .init(name: "v6 prefix 129", data: [0, 2, 129, 0] + v6full + [0], error: .badOption),
        .init(name: "address longer than ceil(prefix/8)", data: [0, 1, 24, 0, 192, 0, 2, 0], error: .badOption),
        .init(name: "address shorter than ceil(prefix/8)", data: [0, 1, 24, 0, 192, 0], error: .badOption),
        .init(name: "address bytes with prefix 0", data: [0, 1, 0, 0, 0], error: .badOption),
        .init(name: "v6 address short", data: [0, 2, 64, 0, 0x20, 0x01, 0x0d, 0xb8], error: .badOption),
        .init(name: "bit set past prefix /23", data: [0, 1, 23, 0, 192, 0, 3], error: .badOption),
        .init(name: "bits set past prefix /20", data: [0, 1, 20, 0, 192, 0, 0x1F], error: .badOption),
        .init(name: "bit set past prefix /1", data: [0, 1, 1, 0, 0xC0], error: .badOption),
        .init(name: "v6 bit set past /127", data: [0, 2, 127, 0] + v6full.dropLast() + [13], error: .badOption),
        .init(name: "non-zero scope in a query", data: [0, 1, 24, 24, 192, 0, 2], error: .badOption),
        .init(name: "scope past the family", data: [0, 1, 24, 33, 192, 0, 2], isQuery: false, error: .badOption),
    ]

    @Test(arguments: rows)
    func validation(_ row: Row) throws {
        if let code = row.error {
            expectWireError(code, row.name) { _ = try ClientSubnet(optionData: row.data, isQuery: row.isQuery) }
        } else {
            let ecs = try ClientSubnet(optionData: row.data, isQuery: row.isQuery)
            #expect(ecs.optionData == row.data)
            #expect(Int(ecs.sourcePrefix) == Int(row.data[2]))
            #expect(ecs.addressBytes.count == (Int(ecs.sourcePrefix) + 7) / 8)
        }
    }

    @Test func clientSideConstructionClearsHostBits() throws {
        let v4 = ClientSubnet(address: .v4(IPv4Address(192, 0, 2, 255)), sourcePrefix: 25)
        #expect(v4.optionData == [0, 1, 25, 0, 192, 0, 2, 0x80])
        #expect(v4.address == .v4(IPv4Address(192, 0, 2, 128)))
        #expect(v4.description == "192.0.2.128/25/0")
        // What a client builds, a server accepts.
        #expect(try ClientSubnet(optionData: v4.optionData) == v4)
        let v6 = ClientSubnet(address: .v6(IPv6Address("2001:db8:ffff::1")!), sourcePrefix: 36)
        #expect(v6.optionData == [0, 2, 36, 0, 0x20, 0x01, 0x0d, 0xb8, 0xf0])
        #expect(v6.address == .v6(IPv6Address("2001:db8:f000::")!))
        #expect(try ClientSubnet(optionData: v6.optionData) == v6)
        let zero = ClientSubnet(address: .v4(IPv4Address(10, 1, 2, 3)), sourcePrefix: 0)
        #expect(zero.optionData == [0, 1, 0, 0])
    }
}

import DNSWire
import Testing
@testable import ZoneFile

/// Every line is parsed by ldns, converted to our `ResourceRecord`, and checked against ldns:
/// - our record printed by ldns (from our wire bytes) is exactly what ldns printed for its own parse;
/// - for the types DNSWire decodes, `RData.presentation` equals ldns's RDATA text, and re-encoding
///   gives the same wire;
/// - for the others, ldns parses our RFC 3597 presentation back to the same record;
/// - `ZoneFileParser` gives the same record as the direct ldns parse.
@Suite struct RoundTripTests {
    static let origin: DNSName = "example.com."

    static let lines: [String] = [
        // Types DNSWire decodes.
        "a 300 IN A 192.0.2.1",
        "a 300 IN AAAA 2001:db8::1",
        "a 300 IN AAAA ::ffff:192.0.2.1",
        "a 300 IN NS ns1.example.net.",
        "a 300 IN CNAME target",
        "4.2.0.192.in-addr.arpa. 300 IN PTR host.example.com.",
        "a 300 IN DNAME elsewhere.example.org.",
        "@ 300 IN SOA ns1 hostmaster.example.com. 2024060101 3600 600 1209600 60",
        "a 300 IN MX 10 mail",
        "a 300 IN MX 0 .",
        #"a 300 IN TXT "hello world""#,
        #"a 300 IN TXT "one" "two" "three""#,
        #"a 300 IN TXT "quote\" back\\ semi; tab\009 high\200""#,
        #"a 300 IN TXT """#,
        "a 300 IN TXT unquoted",
        "_sip._tcp 300 IN SRV 10 60 5060 sip.example.com.",
        #"a 300 IN CAA 0 issue "letsencrypt.org""#,
        #"a 300 IN CAA 128 tbs "Unknown""#,
        #"a 300 IN HINFO "PC-Intel-700mhz" "Linux""#,
        // Types carried opaquely (RFC 3597) by DNSWire.
        #"a 300 IN NAPTR 100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" ."#,
        "a 300 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
        "a 300 IN DNSKEY 256 3 8 AwEAAcNEU67LJI5GEgF9QLNqLO1SMq1EdoQ6E9f85ha0k0ewQGCblyW2836GiVsm6k8Kr5ECIoMJ6fZWf3CRSQE3QWjWOb0=",
        "a 300 IN RRSIG A 8 3 300 20240101000000 20231201000000 12345 example.com. AwEAAcNEU67LJI5GEgF9QLNqLO1SMq1EdoQ6E9f85ha0k0ewQGCb",
        "a 300 IN NSEC b.example.com. A AAAA RRSIG NSEC TYPE65534",
        "a 300 IN NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG",
        "@ 0 IN NSEC3PARAM 1 0 10 aabbccdd",
        "_443._tcp 300 IN TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
        "a 300 IN SSHFP 4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789",
        "a 300 IN LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
        "a 300 IN RP mbox.example.com. txt.example.com.",
        "a 300 IN AFSDB 1 afs.example.com.",
        "a 300 IN KX 10 kx.example.com.",
        "a 300 IN URI 10 1 \"https://www.example.com/path\"",
        #"a 300 IN SPF "v=spf1 -all""#,
        "a 300 IN OPENPGPKEY AQIDBAUGBwgJCgsMDQ4PEA==",
        "a 300 IN CDS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
        "a 300 IN CDNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
        "a 300 IN CSYNC 66 3 A NS AAAA",
        "a 300 IN EUI48 00-00-5e-00-53-2a",
        "a 300 IN EUI64 00-00-5e-ef-10-00-00-2a",
        "a 300 IN IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
        "a 300 IN L32 10 10.1.2.0",
        "a 300 IN L64 10 2001:0DB8:1140:1000",
        "a 300 IN LP 10 l64-subnet1.example.com.",
        "a 300 IN NID 10 0014:4fff:ff20:ee64",
        "a 300 IN CERT PGP 0 0 AQIDBAUGBwgJCgsMDQ4PEA==",
        "a 300 IN DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
        "a 300 IN RT 10 relay.example.com.",
        "a 300 IN PX 10 a.example.com. b.example.com.",
        "a 300 IN MINFO a.example.com. b.example.com.",
        "a 300 IN MB mb.example.com.",
        "a 300 IN MG mg.example.com.",
        "a 300 IN MR mr.example.com.",
        "a 300 IN X25 311061700956",
        "a 300 IN ISDN 150862028003217 004",
        "a 300 IN GPOS -32.6882 116.8652 10.0",
        "a 300 IN SVCB 1 . alpn=h2,h3 port=8443",
        "a 300 IN HTTPS 1 . alpn=h2",
        "a 300 IN ZONEMD 2018031500 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE",
        "a 300 IN NSAP 0x47000580005a0000000001e133ffffff00016100",
        "a 300 IN SMIMEA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
        "a 300 IN KEY 256 3 8 AQIDBAUGBwgJCgsMDQ4PEA==",
        "a 300 IN TALINK a.example.com. b.example.com.",
        "a 300 IN EID 12ab",
        "a 300 IN NIMLOC 12ab",
        "a 300 IN APL 1:192.0.2.0/24 !2:2001:db8::/32",
        "a 300 IN NULL \\# 3 010203",
        "a 300 IN TYPE65534 \\# 3 abcdef",
        "a 300 IN TYPE65280 \\# 0",
        "a\\046dotted 300 IN A 192.0.2.7",
        "*.wild 300 IN A 192.0.2.8",
    ]

    /// Lines where DNSWire and ldns print the same bytes differently and both are valid
    /// presentation; for these, ldns must read DNSWire's text back to the same RDATA.
    static let styleDifferences: [String: String] = [
        "a 300 IN AAAA ::ffff:192.0.2.1":
            "ldns prints an IPv4-mapped address as ::ffff:192.0.2.1 (RFC 5952 §5), DNSWire as ::ffff:c000:201",
        #"a 300 IN TXT "quote\" back\\ semi; tab\009 high\200""#:
            "ldns prints a TAB inside quotes raw, DNSWire as \\009",
    ]

    static let typed: Set<RRType> = [.a, .aaaa, .ns, .cname, .ptr, .dname, .soa, .mx, .txt, .srv, .caa, .hinfo]

    static func collapsed(_ s: String) -> String {
        s.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    @Test(arguments: lines)
    func roundTrip(_ line: String) throws {
        let parsed = try #require(LDNSPresentation.parse(line, origin: Self.origin), "ldns refused: \(LDNSPresentation.error(line, origin: Self.origin) ?? "?")")
        let record = parsed.record
        let ldnsFields = parsed.ldnsText.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        try #require(ldnsFields.count >= 4)
        let ldnsRData = ldnsFields.count == 5 ? ldnsFields[4] : ""

        // Owner, TTL, class and type as ldns prints them.
        #expect(record.owner.description.lowercased() == ldnsFields[0].lowercased())
        #expect(String(record.ttl) == ldnsFields[1])
        #expect(record.rrClass.description == ldnsFields[2])

        // Our wire bytes, handed back to ldns, print as ldns's own parse (blanks collapsed: ldns
        // spaces APL items differently when it reads wire).
        #expect(LDNSPresentation.render(record).map(Self.collapsed) == Self.collapsed(parsed.ldnsText))

        // The zone file parser agrees with the direct parse.
        let viaParser = try ZoneFileParser(origin: Self.origin).parse(text: line + "\n")
        #expect(viaParser.map(\.record) == [record])

        let data = record.data
        #expect(data.wire() == record.rdata)
        if Self.typed.contains(record.type) {
            #expect(RRType(mnemonic: ldnsFields[3]) == record.type)
            if case .unknown = data { Issue.record("\(record.type) should decode to a typed RData") }
            if let why = Self.styleDifferences[line] {
                #expect(data.presentation != ldnsRData, "no longer differs (\(why)): drop it from styleDifferences")
                let ours = "\(record.owner) \(record.ttl) IN \(record.type) \(data.presentation)"
                let back = try #require(LDNSPresentation.parse(ours, origin: .root), "ldns refused \(ours)")
                #expect(back.record == record, "\(why)")
            } else {
                #expect(data.presentation == ldnsRData, "DNSWire presentation differs from ldns for \(line)")
            }
        } else {
            // RFC 3597 form: ldns reads our generic presentation back to the same bytes.
            let generic = "\(record.owner) \(record.ttl) IN TYPE\(record.type.rawValue) \(data.presentation)"
            let back = try #require(LDNSPresentation.parse(generic, origin: .root), "ldns refused \(generic)")
            #expect(back.record == record)
        }
    }

    @Test func manyTypesAreCovered() {
        let covered = Set(Self.lines.compactMap { LDNSPresentation.parse($0, origin: Self.origin)?.record.type })
        #expect(covered.count >= 60)
    }
}

import DNSWire
import Testing

/// One sample RDATA for every type the codec has a layout or a typed view for, plus opaque types.
enum Samples {
    static func n(_ s: String) -> DNSName { DNSName(stringLiteral: s) }
    static func cs(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }

    /// Every `RData` case except `.unknown`, with names under example.com so they can compress.
    static let typed: [RData] = [
        .a(IPv4Address(192, 0, 2, 1)),
        .aaaa(IPv6Address("2001:db8::53")!),
        .ns(n("ns1.example.com.")),
        .cname(n("www.example.com.")),
        .ptr(n("host.example.com.")),
        .dname(n("target.example.com.")),
        .soa(.init(mname: n("ns1.example.com."), rname: n("hostmaster.example.com."), serial: 2024010101,
                   refresh: 7200, retry: 3600, expire: 1209600, minimum: 300)),
        .mx(preference: 10, exchange: n("mail.example.com.")),
        .txt([Array("v=spf1 -all".utf8), [], Array(repeating: 0x78, count: 255), [0, 0xFF, 0x22, 0x5C]]),
        .srv(priority: 10, weight: 60, port: 5060, target: n("sip.example.com.")),
        .caa(flags: 128, tag: Array("issue".utf8), value: Array("ca.example.net; account=1".utf8)),
        .hinfo(cpu: Array("PDP-11".utf8), os: Array("UNIX".utf8)),
    ]

    /// RDATA for every type `RDataSchema.fields` knows, built by hand.
    static let schema: [(RRType, [UInt8])] = [
        (.a, [192, 0, 2, 1]),
        (.aaaa, IPv6Address("2001:db8::53")!.bytes),
        (.ns, n("ns1.example.com.").wire),
        (.md, n("md.example.com.").wire),
        (.mf, n("mf.example.com.").wire),
        (.cname, n("www.example.com.").wire),
        (.mb, n("mb.example.com.").wire),
        (.mg, n("mg.example.com.").wire),
        (.mr, n("mr.example.com.").wire),
        (.ptr, n("host.example.com.").wire),
        (.dname, n("target.example.com.").wire),
        (.soa, n("ns1.example.com.").wire + n("hostmaster.example.com.").wire + [UInt8](1...20)),
        (.minfo, n("rmail.example.com.").wire + n("email.example.com.").wire),
        (.mx, [0, 10] + n("mail.example.com.").wire),
        (.rp, n("admin.example.com.").wire + n("info.example.com.").wire),
        (.afsdb, [0, 1] + n("afs.example.com.").wire),
        (.kx, [0, 5] + n("kx.example.com.").wire),
        (.hinfo, cs("PDP-11") + cs("UNIX")),
        (.txt, cs("hello") + cs("") + cs("world")),
        (.spf, cs("v=spf1 -all")),
        (.srv, [0, 10, 0, 60, 0x13, 0xC4] + n("sip.example.com.").wire),
        (.naptr, [0, 100, 0, 10] + cs("U") + cs("E2U+sip") + cs("!^.*$!sip:info@example.com!")
            + n("naptr.example.com.").wire),
    ]

    /// Types whose names RFC 3597 §4 allows compressing on output (the RFC 1035 ones).
    static let compressible: Set<RRType> = [.ns, .md, .mf, .cname, .mb, .mg, .mr, .ptr, .soa, .minfo, .mx]
}

@Suite("RDATA codec")
struct RDataCodecTests {
    @Test(arguments: Samples.typed)
    func typedRoundTrip(_ data: RData) throws {
        let wire = data.wire()
        #expect(try RData(type: data.type, rdata: wire) == data)
        let rr = ResourceRecord(owner: "x.example.com.", ttl: 60, data)
        #expect(rr.type == data.type)
        #expect(rr.rdata == wire)
        #expect(rr.data == data)
        // The schema agrees with the typed codec on where the names are.
        let ranges = try RDataSchema.nameRanges(type: data.type, rdata: wire)
        for r in ranges { #expect(try DNSName(wire: Array(wire[r.range])).wire == Array(wire[r.range])) }
    }

    @Test func schemaCoversExactlyTheSamples() {
        var known: Set<UInt16> = []
        for t in 0...UInt16.max where RDataSchema.fields(of: RRType(t)) != nil { known.insert(t) }
        #expect(known == Set(Samples.schema.map(\.0.rawValue)), "a type was added to RDataSchema: add a sample")
    }

    @Test(arguments: Samples.schema.map { $0.0.rawValue })
    func schemaRoundTrip(_ raw: UInt16) throws {
        let type = RRType(raw)
        let rdata = try #require(Samples.schema.first { $0.0 == type }?.1)
        let ranges = try RDataSchema.nameRanges(type: type, rdata: rdata)
        let expectedNames = RDataSchema.fields(of: type)!.filter { if case .name = $0 { true } else { false } }.count
        #expect(ranges.count == expectedNames)
        for r in ranges { #expect(r.compressible == Samples.compressible.contains(type)) }
        // Typed when there is a typed case, opaque otherwise; bytes survive either way.
        let data = try RData(type: type, rdata: rdata)
        #expect(data.type == type)
        #expect(data.wire() == rdata)
        // Any cut of the RDATA (or an extra byte) is rejected by the schema, except for the
        // character-string lists, where a cut on a string boundary is still well formed.
        guard type != .txt && type != .spf else { return }
        for cut in 0..<rdata.count {
            #expect(throws: DNSWireError.self) { _ = try RDataSchema.nameRanges(type: type, rdata: Array(rdata[0..<cut])) }
        }
        #expect(throws: DNSWireError.self) { _ = try RDataSchema.nameRanges(type: type, rdata: rdata + [0]) }
    }

    @Test func unknownTypesAreOpaque() throws {
        // Bytes that look like a compressed name stay exactly as they are (RFC 3597).
        let bytes: [UInt8] = [3, 0x77, 0x77, 0x77, 0xC0, 0x0C, 0xFF]
        for raw: UInt16 in [0, 65280, 65535, RRType.caa.rawValue - 1, RRType.nsec.rawValue, RRType.svcb.rawValue] {
            let d = try RData(type: RRType(raw), rdata: bytes)
            #expect(d == .unknown(RRType(raw), bytes))
            #expect(d.wire() == bytes)
            #expect(try RDataSchema.nameRanges(type: RRType(raw), rdata: bytes).isEmpty)
        }
        #expect(RData.unknown(RRType(65280), [1, 2, 0xAB]).presentation == "\\# 3 0102ab")
        #expect(RData.unknown(RRType(65280), []).presentation == "\\# 0")
    }

    @Test(arguments: [
        (RRType.a, [UInt8]([1, 2, 3])),
        (.a, [1, 2, 3, 4, 5]),
        (.aaaa, [UInt8](repeating: 0, count: 15)),
        (.ns, [3, 0x61, 0x62]),
        (.ns, [0xC0, 0x0C]),
        (.ns, [0, 0]),
        (.mx, [0]),
        (.mx, [0, 1]),
        (.soa, [0, 0] + [UInt8](repeating: 0, count: 19)),
        (.txt, []),
        (.txt, [5, 0x61]),
        (.srv, [0, 1, 0, 2, 0, 3]),
        (.hinfo, [1, 0x61]),
        (.caa, [0]),
        (.caa, [0, 9, 0x61]),
    ])
    func typedDecoderRejects(type: RRType, rdata: [UInt8]) {
        #expect(throws: DNSWireError.self) { _ = try RData(type: type, rdata: rdata) }
    }

    @Test func presentation() {
        #expect(RData.mx(preference: 10, exchange: "mail.example.com.").presentation == "10 mail.example.com.")
        #expect(RData.txt([Array("a \"b\"".utf8), [7]]).presentation == "\"a \\\"b\\\"\" \"\\007\"")
        #expect(RData.caa(flags: 0, tag: Array("issue".utf8), value: Array("ca.net".utf8)).presentation == "0 issue \"ca.net\"")
        #expect(RData.srv(priority: 1, weight: 2, port: 3, target: "t.example.").presentation == "1 2 3 t.example.")
    }

    @Test func typeMnemonics() {
        #expect(RRType(mnemonic: "aaaa") == .aaaa)
        #expect(RRType(mnemonic: "TYPE65534") == RRType(65534))
        #expect(RRType(mnemonic: "type1") == .a)
        #expect(RRType(mnemonic: "TYPE") == nil)
        #expect(RRType(mnemonic: "TYPE65536") == nil)
        #expect(RRType(mnemonic: "NOPE") == nil)
        #expect(RRType(65534).description == "TYPE65534")
        #expect(RRType.naptr.description == "NAPTR")
        #expect(RRType.opt.isMetaOrQType && RRType.any.isMetaOrQType && RRType(128).isMetaOrQType)
        #expect(!RRType.a.isMetaOrQType && !RRType.caa.isMetaOrQType)
        #expect(RRClass(3).description == "CH" && RRClass(42).description == "CLASS42")
        #expect(Rcode(16).description == "BADVERS" && Rcode(23).description == "RCODE23")
    }
}

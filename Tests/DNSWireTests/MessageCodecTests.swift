import DNSWire
import Testing

/// The size a message would have with every name written in full.
func uncompressedSize(_ m: DNSMessage) -> Int {
    var n = 12
    for q in m.questions { n += q.name.wire.count + 4 }
    for rr in m.answers + m.authority + m.additional { n += rr.owner.wire.count + 10 + rr.rdata.count }
    if let e = m.edns { n += 11 + e.options.reduce(0) { $0 + 4 + $1.data.count } }
    return n
}

@Suite("Message codec")
struct MessageCodecTests {
    static let q: DNSName = "example.com."

    /// A response holding one record of every sample, typed and schema-only, plus an opaque type.
    static func everything() -> DNSMessage {
        var m = DNSMessage.query(q, .any, id: 0x5151, edns: EDNS(udpPayloadSize: 4096, dnssecOK: true,
                                                                   options: [EDNSOption(code: 3, data: Array("ns1".utf8))]))
        m.header.qr = true
        m.header.aa = true
        m.answers = Samples.typed.map { ResourceRecord(owner: "a.example.com.", ttl: 300, $0) }
        m.authority = Samples.schema.map { ResourceRecord(owner: "b.example.com.", type: $0.0, ttl: 60, rdata: $0.1) }
        m.additional = [
            ResourceRecord(owner: "c.example.com.", type: RRType(65280), ttl: 1, rdata: [3, 0x77, 0x77, 0x77, 0xC0, 0x0C]),
            ResourceRecord(owner: "c.example.com.", type: RRType(65281), ttl: UInt32.max, rdata: []),
            ResourceRecord(owner: "C.EXAMPLE.COM.", type: .a, rrClass: .ch, ttl: 0, rdata: [1, 2, 3, 4]),
        ]
        return m
    }

    @Test func everyTypeRoundTripsThroughACompressedMessage() throws {
        let m = Self.everything()
        let wire = m.encode()
        let back = try DNSMessage(decoding: wire)
        #expect(back == m.counted)
        #expect(back.answers.map(\.data) == Samples.typed)
        #expect(back.authority.map(\.rdata) == Samples.schema.map(\.1))
        #expect(back.additional[0].rdata == [3, 0x77, 0x77, 0x77, 0xC0, 0x0C])
        #expect(wire.count < uncompressedSize(m), "compression saved nothing: \(wire.count) bytes")
        #expect(uncompressedSize(m) - wire.count > 300)
        // Header counts are recomputed from the sections.
        #expect(back.header.anCount == UInt16(Samples.typed.count))
        #expect(back.header.nsCount == UInt16(Samples.schema.count))
        #expect(back.header.arCount == 4)
        // Encoding is deterministic.
        #expect(back.encode() == wire)
    }

    /// RFC 3597 §4: only the RFC 1035 types compress the names in their RDATA; SRV (RFC 2782), DNAME,
    /// RP, AFSDB, KX and NAPTR write them in full even when a pointer was possible.
    @Test(arguments: Samples.schema.filter { RDataSchema.nameCount(of: $0.0) > 0 }.map { $0.0.rawValue })
    func rdataNamesCompressOnlyWhereAllowed(_ raw: UInt16) throws {
        let type = RRType(raw)
        let rdata = try #require(Samples.schema.first { $0.0 == type }?.1)
        var m = DNSMessage.query(Self.q, type)
        m.header.qr = true
        m.answers = [ResourceRecord(owner: "host.example.com.", type: type, ttl: 60, rdata: rdata)]
        let wire = m.encode()
        // header + question + owner ("host" + pointer) + type/class/TTL.
        let rdlenAt = 12 + Self.q.wire.count + 4 + (1 + 4 + 2) + 8
        let rdlen = Int(wire[rdlenAt]) << 8 | Int(wire[rdlenAt + 1])
        #expect(rdlenAt + 2 + rdlen == wire.count)
        let written = Array(wire[(rdlenAt + 2)...])
        if Samples.compressible.contains(type) {
            #expect(rdlen < rdata.count, "\(type) RDATA names should be compressed")
            #expect(written.count(of: 0xC0) > 0)
        } else {
            #expect(written == rdata, "\(type) RDATA must be written uncompressed")
        }
        #expect(try DNSMessage(decoding: wire) == m.counted)
    }

    @Test func srvAndDNAMETargetsStayUncompressedAfterTheSameName() throws {
        let target: DNSName = "mail.example.com."
        var m = DNSMessage.query(Self.q, .any)
        m.header.qr = true
        m.answers = [
            ResourceRecord(owner: target, ttl: 60, .a(IPv4Address(192, 0, 2, 25))),
            ResourceRecord(owner: "_smtp._tcp.example.com.", ttl: 60, .srv(priority: 0, weight: 0, port: 25, target: target)),
            ResourceRecord(owner: "d.example.com.", ttl: 60, .dname(target)),
            ResourceRecord(owner: "mx.example.com.", ttl: 60, .mx(preference: 1, exchange: target)),
        ]
        let wire = m.encode()
        let srvRDATA = [0, 0, 0, 0, 0, 25] + target.wire
        #expect(wire.contains(run: srvRDATA))
        #expect(wire.contains(run: [UInt8(0), UInt8(target.wire.count)] + target.wire), "DNAME RDATA in full")
        // The MX exchange is one pointer: RDLENGTH 4.
        #expect(wire.contains(run: [0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 1, 0xC0]))
        #expect(try DNSMessage(decoding: wire) == m.counted)
    }

    @Test func compressionBeyond16KiB() throws {
        // Offsets past 0x3FFF cannot be pointed at; names there are written in full or point back.
        var m = DNSMessage.query(Self.q, .txt)
        m.header.qr = true
        for i in 0..<100 {
            m.answers.append(ResourceRecord(owner: "t.example.com.", ttl: 60,
                                            .txt([[UInt8](repeating: UInt8(i), count: 200)])))
        }
        for i in 0..<20 {
            m.additional.append(ResourceRecord(owner: try DNSName("late\(i).example.com."), ttl: 60,
                                               .cname(try DNSName("x.late\(i).example.com."))))
            m.additional.append(ResourceRecord(owner: try DNSName("x.late\(i).example.com."), ttl: 60,
                                               .ns(try DNSName("y.x.late\(i).example.com."))))
        }
        let wire = m.encode()
        #expect(wire.count > 0x4000)
        #expect(wire.count < uncompressedSize(m))
        #expect(try DNSMessage(decoding: wire) == m.counted)
    }

    @Test func headerFlagsAndEDNS() throws {
        var m = DNSMessage.query("www.example.com.", .a, id: 0xFFFF, recursionDesired: true)
        m.header.qr = true; m.header.aa = true; m.header.tc = true; m.header.ra = true
        m.header.ad = true; m.header.cd = true
        m.header.opcode = .notify
        m.header.rcodeLow = 0
        var e = EDNS(udpPayloadSize: 512, version: 0, dnssecOK: true,
                     options: [EDNSOption(code: 3, data: []),
                               EDNSOption(code: 8, data: ClientSubnet(address: IPAddress("192.0.2.1")!, sourcePrefix: 24).optionData),
                               EDNSOption(code: 65001, data: [1, 2, 3])])
        e.extendedRcodeHigh = 1
        m.edns = e
        let back = try DNSMessage(decoding: m.encode())
        #expect(back == m.counted)
        #expect(back.header.flags == 0x8000 | 0x2000 | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0020 | 0x0010)
        #expect(back.header.opcode == .notify)
        #expect(back.rcode == .badVers)
        #expect(back.edns?.option(8)?.data == [0, 1, 24, 0, 192, 0, 2])
        #expect(back.edns?.option(9) == nil)
        m.header.rcodeLow = 3
        m.edns = nil
        #expect(try DNSMessage(decoding: m.encode()).rcode == .nxDomain)
    }

    @Test func decompressesPointersInsideRDATA() throws {
        // NS RDATA = "ns1" + pointer to the question name.
        let bytes = header(flags: 0x8400, qd: 1, an: 1) + Self.q.wire + [0, 2, 0, 1]
            + [0xC0, 0x0C, 0, 2, 0, 1, 0, 0, 0, 60, 0, 6, 3] + Array("ns1".utf8) + [0xC0, 0x0C]
        let m = try DNSMessage(decoding: bytes)
        #expect(m.answers == [ResourceRecord(owner: Self.q, ttl: 60, .ns("ns1.example.com."))])
        #expect(m.answers[0].rdata == DNSName("ns1.example.com.").wire)
    }
}

@Suite("Message decoder rejects")
struct MessageDecoderRejectTests {
    static let qtail: [UInt8] = [0, 1, 0, 1]
    static let www = DNSName("www.example.com.").wire

    static func opt(owner: [UInt8] = [0], rdata: [UInt8] = [], rdlen: Int? = nil) -> [UInt8] {
        var o = owner + [0, 41, 0x04, 0xD0, 0, 0, 0, 0]
        o.appendU16(UInt16(rdlen ?? rdata.count))
        return o + rdata
    }

    /// A chain of `n` questions, each named by a pointer to the previous question's name.
    static func pointerChain(_ n: Int) -> [UInt8] {
        var b = header(qd: UInt16(n + 1)) + [0] + qtail
        var prev = 12
        for _ in 0..<n {
            let here = b.count
            b += [0xC0 | UInt8(prev >> 8), UInt8(prev & 0xFF)] + qtail
            prev = here
        }
        return b
    }

    static let cases: [(String, [UInt8], DNSWireError.Code)] = [
        ("empty", [], .truncated),
        ("11-byte header", Array(header(qd: 0)[0..<11]), .truncated),
        ("forward pointer", header(qd: 1) + [0xC0, 14] + qtail, .badPointer),
        ("self pointer", header(qd: 1) + [0xC0, 12] + qtail, .badPointer),
        ("pointer past the end", header(qd: 1) + [0xC0, 0xFF] + qtail, .badPointer),
        ("pointer cut", header(qd: 1) + [0xC0], .truncated),
        ("label then pointer to its own start", header(qd: 1) + [1, 0x61, 0xC0, 12] + qtail, .badPointer),
        ("pointer loop between two names",
         header(qd: 2) + [1, 0x61, 0xC0, 18] + qtail + [1, 0x62, 0xC0, 12] + qtail, .badPointer),
        ("label type 0x40", header(qd: 1) + [0x41] + [UInt8](repeating: 0x61, count: 0x41) + [0] + qtail, .badLabel),
        ("label type 0x80", header(qd: 1) + [0x81] + [UInt8](repeating: 0x61, count: 0x81) + [0] + qtail, .badLabel),
        ("name over 255 bytes", header(qd: 1) + label(63) + label(63) + label(63) + label(62) + [0] + qtail, .nameTooLong),
        ("name over 255 bytes through a pointer",
         header(qd: 2) + label(63) + label(63) + label(63) + label(58) + [0] + qtail + label(10) + [0xC0, 12] + qtail,
         .nameTooLong),
        ("question name cut", header(qd: 1) + Array(www.dropLast()), .truncated),
        ("question type cut", header(qd: 1) + www + [0, 1], .truncated),
        ("QDCOUNT past the question", header(qd: 2) + www + qtail, .truncated),
        ("ANCOUNT with no answer", header(qd: 1, an: 1) + www + qtail, .truncated),
        ("NSCOUNT with no authority", header(qd: 1, ns: 1) + www + qtail, .truncated),
        ("ARCOUNT with no additional", header(qd: 1, ar: 1) + www + qtail, .truncated),
        ("record fixed part cut", header(qd: 1, an: 1) + www + qtail + [0xC0, 12, 0, 1, 0, 1, 0], .truncated),
        ("RDLENGTH past the end", header(qd: 1, an: 1) + www + qtail + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2], .truncated),
        ("trailing byte", header(qd: 1) + www + qtail + [0], .trailingData),
        ("trailing bytes with QDCOUNT 0", header(qd: 0) + www, .trailingData),
        ("two OPT records", header(qd: 1, ar: 2) + www + qtail + opt() + opt(), .badEDNS),
        ("OPT with a non-root owner", header(qd: 1, ar: 1) + www + qtail + opt(owner: [1, 0x61, 0]), .badEDNS),
        ("OPT option past RDATA", header(qd: 1, ar: 1) + www + qtail + opt(rdata: [0, 3, 0, 9, 1]), .badEDNS),
        ("OPT option header cut", header(qd: 1, ar: 1) + www + qtail + opt(rdata: [0, 3, 0]), .badEDNS),
        ("OPT RDLENGTH past the end", header(qd: 1, ar: 1) + www + qtail + opt(rdata: [0, 3], rdlen: 4), .truncated),
        ("CNAME target runs past RDLENGTH",
         header(qd: 1, an: 1) + www + qtail + [0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 1, 0x61, 0], .badRData),
        ("MX shorter than its preference",
         header(qd: 1, an: 1) + www + qtail + [0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 1, 0, 1, 0], .badRData),
        ("SOA missing its counters",
         header(qd: 1, an: 1) + www + qtail + [0xC0, 12, 0, 6, 0, 1, 0, 0, 0, 1, 0, 6, 0xC0, 12, 0xC0, 12, 0, 0], .badRData),
        ("NS RDATA with a forward pointer",
         header(qd: 1, an: 1) + www + qtail + [0xC0, 12, 0, 2, 0, 1, 0, 0, 0, 1, 0, 2, 0xC0, 0x30], .badPointer),
        ("NS RDATA with a 0x40 label",
         header(qd: 1, an: 1) + www + qtail + [0xC0, 12, 0, 2, 0, 1, 0, 0, 0, 1, 0, 2, 0x40, 0], .badLabel),
    ]

    @Test(arguments: cases.indices)
    func rejects(_ i: Int) {
        let (what, bytes, code) = Self.cases[i]
        expectWireError(code, what) { _ = try DNSMessage(decoding: bytes) }
    }

    @Test func longPointerChainsStop() throws {
        // 100 hops is fine, and every name decodes to the root.
        let ok = try DNSMessage(decoding: Self.pointerChain(100))
        #expect(ok.questions.count == 101)
        #expect(ok.questions.allSatisfy { $0.name == .root })
        // Past 127 hops the decoder gives up.
        expectWireError(.pointerLoop) { _ = try DNSMessage(decoding: Self.pointerChain(130)) }
    }

    /// RFC 6891 §6.1.1: OPT lives in the additional section only (DNSWireError.badEDNS says so).
    @Test func optOutsideTheAdditionalSection() {
        expectWireError(.badEDNS, "answer") {
            _ = try DNSMessage(decoding: header(qd: 1, an: 1) + Self.www + Self.qtail + Self.opt())
        }
        expectWireError(.badEDNS, "authority") {
            _ = try DNSMessage(decoding: header(qd: 1, ns: 1) + Self.www + Self.qtail + Self.opt())
        }
    }
}

extension RDataSchema {
    /// How many names `type`'s RDATA holds (0 when opaque).
    static func nameCount(of type: RRType) -> Int {
        fields(of: type)?.filter { if case .name = $0 { true } else { false } }.count ?? 0
    }
}

// libFuzzer entry point for GlobalDNS: every input is one DNS message as a client would send it.
//
// Each input goes through
//   1. `QueryResponder` over UDP and over TCP, into a 65535-byte buffer. A reply must be a
//      well-formed DNS message (`DNSMessage(decoding:)`), carry the query's ID and QR=1, echo at
//      most the one question exactly as sent, and over UDP fit the size the query allowed
//      (512 without EDNS, else min(max(512, EDNS size), max(512, server maximum))).
//   2. The message codec: when the bytes decode, `encode()` then decode again gives the same
//      message (names compared case-insensitively, as compression may borrow another name's case),
//      and every RRset's typed view re-renders its RDATA byte for byte.
// Any violation is a `precondition` failure, which libFuzzer reports as a crash.

import DNSServer
import DNSWire
import DNSZone
import GSLB

private let maxUDP = 1232

private func zoneRecords() -> [ResourceRecord] {
    func n(_ s: String) -> DNSName { DNSName(stringLiteral: s) }
    func rr(_ owner: String, _ ttl: UInt32, _ d: RData) -> ResourceRecord {
        ResourceRecord(owner: n(owner), ttl: ttl, d)
    }
    var out: [ResourceRecord] = [
        rr("example.com.", 3600, .soa(.init(mname: n("ns1.example.com."), rname: n("hostmaster.example.com."),
                                            serial: 2024010101, refresh: 7200, retry: 3600, expire: 1209600,
                                            minimum: 300))),
        rr("example.com.", 3600, .ns(n("ns1.example.com."))),
        rr("example.com.", 3600, .ns(n("ns2.other.net."))),
        rr("example.com.", 3600, .mx(preference: 10, exchange: n("mail.example.com."))),
        rr("example.com.", 3600, .txt([Array("v=spf1 -all".utf8)])),
        rr("example.com.", 3600, .caa(flags: 0, tag: Array("issue".utf8), value: Array("ca.example".utf8))),
        rr("ns1.example.com.", 3600, .a(IPv4Address(192, 0, 2, 1))),
        rr("ns1.example.com.", 3600, .aaaa(IPv6Address("2001:db8::1")!)),
        rr("mail.example.com.", 3600, .a(IPv4Address(192, 0, 2, 25))),
        rr("www.example.com.", 300, .a(IPv4Address(192, 0, 2, 80))),
        rr("www.example.com.", 300, .a(IPv4Address(192, 0, 2, 81))),
        rr("www.example.com.", 300, .aaaa(IPv6Address("2001:db8::80")!)),
        rr("alias.example.com.", 300, .cname(n("www.example.com."))),
        rr("chain1.example.com.", 300, .cname(n("chain2.example.com."))),
        rr("chain2.example.com.", 300, .cname(n("www.example.com."))),
        rr("loop1.example.com.", 300, .cname(n("loop2.example.com."))),
        rr("loop2.example.com.", 300, .cname(n("loop1.example.com."))),
        rr("dangling.example.com.", 300, .cname(n("nothere.example.com."))),
        rr("outside.example.com.", 300, .cname(n("www.example.net."))),
        rr("*.wild.example.com.", 60, .a(IPv4Address(192, 0, 2, 99))),
        rr("*.wild.example.com.", 60, .mx(preference: 5, exchange: n("mail.example.com."))),
        rr("*.cwild.example.com.", 60, .cname(n("www.example.com."))),
        rr("deep.ent.x.example.com.", 300, .a(IPv4Address(192, 0, 2, 7))),
        rr("sub.example.com.", 3600, .ns(n("ns.sub.example.com."))),
        rr("sub.example.com.", 3600, .ns(n("ns.elsewhere.org."))),
        rr("ns.sub.example.com.", 3600, .a(IPv4Address(192, 0, 2, 53))),
        rr("_sip._tcp.example.com.", 300, .srv(priority: 10, weight: 60, port: 5060, target: n("mail.example.com."))),
        rr("txt.example.com.", 300, .txt([Array("hello".utf8), Array("world".utf8)])),
        rr("hinfo.example.com.", 300, .hinfo(cpu: Array("PDP-11".utf8), os: Array("UNIX".utf8))),
        rr("opaque.example.com.", 300, .unknown(RRType(65280), [1, 2, 3, 4])),
        rr("ptr.example.com.", 300, .ptr(n("www.example.com."))),
    ]
    // A large RRset, so that UDP replies truncate and TCP replies are big.
    for i in 0..<120 {
        out.append(rr("big.example.com.", 300, .a(IPv4Address(198, 51, 100, UInt8(i)))))
        out.append(rr("big.example.com.", 300, .txt([Array(repeating: UInt8(ascii: "x"), count: 200), [UInt8(i)]])))
    }
    return out
}

private func makeResponder() -> QueryResponder {
    var zones: [Zone] = []
    for (origin, records) in [("example.com.", zoneRecords()),
                              ("example.org.", [
                                  ResourceRecord(owner: "example.org.", ttl: 60, .soa(.init(
                                      mname: "ns.example.org.", rname: "h.example.org.", serial: 1, refresh: 2,
                                      retry: 3, expire: 4, minimum: 5))),
                                  ResourceRecord(owner: "example.org.", ttl: 60, .ns("ns.example.org.")),
                                  ResourceRecord(owner: "ns.example.org.", ttl: 60, .a(IPv4Address(203, 0, 113, 1))),
                              ])] {
        var b = ZoneBuilder(origin: DNSName(stringLiteral: origin))
        do {
            try b.add(contentsOf: records)
            zones.append(try b.build())
        } catch {
            fatalError("fuzz zone does not build: \(error)")
        }
    }
    // Global names (compiled NameServices) too: a Locality name over IPv4+IPv6 (with a localities
    // table, so ECS and source-address lookups run), a Ratio name, an IPv6-only name that creates
    // an empty non-terminal, and one with many addresses (truncation over UDP).
    let specs = [
        NameServiceSpec(fqdn: "checkout.example.com.", policy: .locality, failover: [FailoverRule(from: "us-west", to: "us-east")],
                        targets: [Target(name: "w", addresses: ["10.0.0.1", "2001:db8::7"], locality: "us-west/us-west-1a"),
                                  Target(name: "e", addresses: ["10.0.0.2"], locality: "us-east/us-east-1a/r1")]),
        NameServiceSpec(fqdn: "ratio.example.com.", policy: .ratio, maxAnswers: 2,
                        targets: [Target(name: "a", addresses: ["10.0.1.1", "10.0.1.2"], ratio: 9),
                                  Target(name: "b", addresses: ["10.0.1.3"], ratio: 1),
                                  Target(name: "s", addresses: ["10.0.1.4"], ratio: 0)]),
        NameServiceSpec(fqdn: "api.apps.example.com.", ttl: 20, targets: [Target(name: "a", addresses: ["2001:db8::9"])]),
        NameServiceSpec(fqdn: "many.example.com.", ttl: 5, targets: (0..<200).map { i in
            Target(name: "t\(i)", addresses: ["10.1.0.\(i)"] + (i < 100 ? ["2001:db8::\(String(i, radix: 16))"] : []))
        }),
    ]
    var entries: [GlobalNameTable.Entry] = []
    var plans: [NamePlan] = []
    for spec in specs {
        let plan = NamePlan(spec: spec)!
        plans.append(plan)
        entries.append(plan.tableEntry(fqdn: DNSName(stringLiteral: spec.fqdn), ttl: UInt32(spec.ttl), zone: "example.com."))
    }
    let table: LocalityTable
    do {
        table = try LocalityTable(entries: [
            .init(cidr: "10.10.0.0/16", locality: "us-west/us-west-1a"), .init(cidr: "10.20.0.0/16", locality: "us-east/us-east-1a/r1"),
            .init(cidr: "10.20.128.0/17", locality: "us-east"), .init(cidr: "127.0.0.0/8", locality: "us-west"),
            .init(cidr: "2001:db8:10::/48", locality: "us-west/us-west-1a"), .init(cidr: "::/0", locality: "eu"),
        ])
    } catch {
        fatalError("fuzz localities do not build: \(error)")
    }
    let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: zones), globals: GlobalNames(entries: entries, plans: plans),
                                                  clients: ClientMapping(table: table, defaultLocality: nil),
                                                 generation: 1))
    return QueryResponder(holder: holder,
                          configuration: ResponderConfiguration(identity: "fuzz.ns1.example", maxUDPPayload: maxUDP))
}

// Built once, on the first input (global initialisers are lazy). libFuzzer runs inputs one at a
// time on one thread, which is the responder's contract.
nonisolated(unsafe) private let responder = makeResponder()
nonisolated(unsafe) private let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)

/// Lowercases every byte of RDATA for types that carry names, so a round trip through compression
/// (which may point at a differently-cased copy of a name) compares equal.
private func folded(_ m: DNSMessage) -> DNSMessage {
    func fold(_ rr: ResourceRecord) -> ResourceRecord {
        var r = rr
        if let f = RDataSchema.fields(of: r.type), f.contains(where: { if case .name = $0 { true } else { false } }) {
            r.rdata = r.rdata.map(DNSName.lower)
        }
        r.owner = r.owner.lowercased()
        return r
    }
    var m = m
    m.answers = m.answers.map(fold)
    m.authority = m.authority.map(fold)
    m.additional = m.additional.map(fold)
    return m
}

/// Presentation format round trip: what `description` prints parses back to the same bytes.
private func checkPresentation(_ name: DNSName) {
    do {
        let again = try DNSName(name.description)
        precondition(again.wire == name.wire, "\(name) does not parse back to the same bytes")
    } catch {
        preconditionFailure("\(name) does not parse back: \(error)")
    }
}

private func checkCodec(_ bytes: [UInt8]) -> DNSMessage? {
    guard let m = try? DNSMessage(decoding: bytes) else { return nil }
    let again: DNSMessage
    do {
        again = try DNSMessage(decoding: m.encode())
    } catch {
        preconditionFailure("re-encoded message does not decode: \(error)")
    }
    precondition(folded(again) == folded(m), "codec round trip changed the message")
    for rr in m.answers + m.authority + m.additional {
        if let typed = try? RData(type: rr.type, rdata: rr.rdata) {
            precondition(typed.wire() == rr.rdata, "RData \(rr.type) does not re-render its bytes")
            if case .aaaa(let a) = typed {
                precondition(IPv6Address(a.description) == a, "IPv6 text does not parse back")
            }
        }
        checkPresentation(rr.owner)
    }
    for q in m.questions { checkPresentation(q.name) }
    return m
}

private func checkReply(query: [UInt8], decodedQuery: DNSMessage?, transport: Transport, length n: Int) {
    guard n > 0 else { return }
    precondition(n >= 12 && n <= 65535, "reply length \(n)")
    let reply = Array(UnsafeRawBufferPointer(rebasing: output[0..<n]))
    precondition(reply[0] == query[0] && reply[1] == query[1], "reply ID differs from the query's")
    precondition(reply[2] & 0x80 != 0, "reply without QR")
    let m: DNSMessage
    do {
        m = try DNSMessage(decoding: reply)
    } catch {
        preconditionFailure("reply does not decode: \(error)")
    }
    precondition(m.questions.count <= 1, "reply with \(m.questions.count) questions")
    if let q = m.questions.first {
        // The question is echoed byte for byte (its case included) from the start of the query.
        let echoed = reply[12..<(12 + q.name.wire.count + 4)]
        precondition(query.count >= 12 + echoed.count && Array(query[12..<(12 + echoed.count)]) == Array(echoed),
                     "echoed question differs from the query's")
    }
    if transport == .udp {
        var limit = max(512, maxUDP)
        if let dq = decodedQuery {
            limit = dq.edns.map { min(max(512, Int($0.udpPayloadSize)), max(512, maxUDP)) } ?? 512
        }
        precondition(n <= limit, "UDP reply of \(n) bytes over the limit \(limit)")
    }
    _ = checkCodec(reply)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let query = Array(UnsafeBufferPointer(start: data, count: size))
    let decoded = checkCodec(query)
    // The source address varies with the input: loopback (allowed to explain), a mapped table
    // address, an IPv6 one, and one outside the explain allow-list.
    let sources: [IPAddress] = [.v4(IPv4Address(127, 0, 0, 1)), .v4(IPv4Address(10, 20, 200, 1)),
                                .v6(IPv6Address(high: 0x2001_0db8_0010_0000, low: 1)), .v4(IPv4Address(192, 0, 2, 1))]
    let source = sources[size > 1 ? Int(data[1] & 3) : 0]
    for transport in [Transport.udp, .tcp] {
        let n = query.withUnsafeBytes { responder.respond(to: $0, transport: transport, source: source, into: output) }
        checkReply(query: query, decodedQuery: decoded, transport: transport, length: n)
    }
    return 0
}

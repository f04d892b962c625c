import DNSServer
import DNSWire
import DNSZone
import Testing

/// One row of the answering table: a question and everything the reply must say.
struct AnswerCase: CustomStringConvertible, Sendable {
    var qname: String
    var qtype: RRType
    var rcode: Rcode
    var aa: Bool = true
    /// Records as `owner ttl type rdata` in presentation format, in order.
    var answer: [String] = []
    var authority: [String] = []
    var additional: [String] = []
    var description: String { "\(qname)/\(qtype)" }
}

let origin: DNSName = "example.com."
let soaNeg = "example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"

let answerCases: [AnswerCase] = [
    // Exact match, with the RRset in zone order.
    .init(qname: "www.example.com.", qtype: .a, rcode: .noError,
          answer: ["www.example.com. 300 A 192.0.2.80", "www.example.com. 300 A 192.0.2.81"]),
    .init(qname: "www.example.com.", qtype: .aaaa, rcode: .noError, answer: ["www.example.com. 300 AAAA 2001:db8::80"]),
    // Apex NS: additional addresses for the in-zone server only.
    .init(qname: "example.com.", qtype: .ns, rcode: .noError,
          answer: ["example.com. 3600 NS ns1.example.com.", "example.com. 3600 NS ns2.other.net."],
          additional: ["ns1.example.com. 3600 A 192.0.2.1", "ns1.example.com. 3600 AAAA 2001:db8::1"]),
    .init(qname: "example.com.", qtype: .mx, rcode: .noError, answer: ["example.com. 3600 MX 10 mail.example.com."],
          additional: ["mail.example.com. 3600 A 192.0.2.25"]),
    .init(qname: "example.com.", qtype: .soa, rcode: .noError,
          answer: ["example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"]),
    .init(qname: "_sip._tcp.example.com.", qtype: .srv, rcode: .noError,
          answer: ["_sip._tcp.example.com. 300 SRV 10 60 5060 mail.example.com."],
          additional: ["mail.example.com. 3600 A 192.0.2.25"]),
    .init(qname: "txt.example.com.", qtype: .txt, rcode: .noError, answer: ["txt.example.com. 300 TXT \"hello\" \"world\""]),
    // NODATA: SOA in authority with TTL = min(SOA TTL, MINIMUM) (RFC 2308 §3).
    .init(qname: "www.example.com.", qtype: .mx, rcode: .noError, authority: [soaNeg]),
    // NXDOMAIN.
    .init(qname: "nope.example.com.", qtype: .a, rcode: .nxDomain, authority: [soaNeg]),
    .init(qname: "a.b.nope.example.com.", qtype: .a, rcode: .nxDomain, authority: [soaNeg]),
    // Empty non-terminals exist: NODATA, not NXDOMAIN (RFC 8020).
    .init(qname: "ent.x.example.com.", qtype: .a, rcode: .noError, authority: [soaNeg]),
    .init(qname: "x.example.com.", qtype: .a, rcode: .noError, authority: [soaNeg]),
    .init(qname: "deep.ent.x.example.com.", qtype: .a, rcode: .noError, answer: ["deep.ent.x.example.com. 300 A 192.0.2.7"]),
    // CNAME chains inside the zone.
    .init(qname: "alias.example.com.", qtype: .a, rcode: .noError,
          answer: ["alias.example.com. 300 CNAME www.example.com.", "www.example.com. 300 A 192.0.2.80",
                   "www.example.com. 300 A 192.0.2.81"]),
    .init(qname: "chain1.example.com.", qtype: .aaaa, rcode: .noError,
          answer: ["chain1.example.com. 300 CNAME chain2.example.com.", "chain2.example.com. 300 CNAME www.example.com.",
                   "www.example.com. 300 AAAA 2001:db8::80"]),
    .init(qname: "alias.example.com.", qtype: .cname, rcode: .noError, answer: ["alias.example.com. 300 CNAME www.example.com."]),
    // CNAME to a name that does not exist: NXDOMAIN with the chain (RFC 6604).
    .init(qname: "dangling.example.com.", qtype: .a, rcode: .nxDomain,
          answer: ["dangling.example.com. 300 CNAME nothere.example.com."], authority: [soaNeg]),
    // CNAME to a name this server is not authoritative for: the CNAME alone.
    .init(qname: "outside.example.com.", qtype: .a, rcode: .noError, answer: ["outside.example.com. 300 CNAME www.example.net."]),
    // A CNAME loop stops without repeating records.
    .init(qname: "loop1.example.com.", qtype: .a, rcode: .noError,
          answer: ["loop1.example.com. 300 CNAME loop2.example.com.", "loop2.example.com. 300 CNAME loop1.example.com."]),
    // CNAME at NODATA target: chain, then SOA.
    .init(qname: "alias.example.com.", qtype: .mx, rcode: .noError,
          answer: ["alias.example.com. 300 CNAME www.example.com."], authority: [soaNeg]),
    // Wildcards (RFC 4592): synthesized with the query name as owner.
    .init(qname: "anything.wild.example.com.", qtype: .a, rcode: .noError, answer: ["anything.wild.example.com. 60 A 192.0.2.99"]),
    .init(qname: "a.b.wild.example.com.", qtype: .a, rcode: .noError, answer: ["a.b.wild.example.com. 60 A 192.0.2.99"]),
    .init(qname: "x.wild.example.com.", qtype: .mx, rcode: .noError, answer: ["x.wild.example.com. 60 MX 5 mail.example.com."],
          additional: ["mail.example.com. 3600 A 192.0.2.25"]),
    .init(qname: "x.wild.example.com.", qtype: .aaaa, rcode: .noError, authority: [soaNeg]),
    // The wildcard's parent itself is an ENT, and `*` matches itself.
    .init(qname: "wild.example.com.", qtype: .a, rcode: .noError, authority: [soaNeg]),
    .init(qname: "*.wild.example.com.", qtype: .a, rcode: .noError, answer: ["*.wild.example.com. 60 A 192.0.2.99"]),
    // Wildcard CNAME, followed.
    .init(qname: "q.cwild.example.com.", qtype: .a, rcode: .noError,
          answer: ["q.cwild.example.com. 60 CNAME www.example.com.", "www.example.com. 300 A 192.0.2.80",
                   "www.example.com. 300 A 192.0.2.81"]),
    // Delegation: referral with AA clear, NS in authority, glue in additional.
    .init(qname: "sub.example.com.", qtype: .a, rcode: .noError, aa: false,
          authority: ["sub.example.com. 3600 NS ns.sub.example.com.", "sub.example.com. 3600 NS ns.elsewhere.org."],
          additional: ["ns.sub.example.com. 3600 A 192.0.2.53"]),
    .init(qname: "host.deep.sub.example.com.", qtype: .aaaa, rcode: .noError, aa: false,
          authority: ["sub.example.com. 3600 NS ns.sub.example.com.", "sub.example.com. 3600 NS ns.elsewhere.org."],
          additional: ["ns.sub.example.com. 3600 A 192.0.2.53"]),
    // Glue is not authoritative data: a query for it is referred too.
    .init(qname: "ns.sub.example.com.", qtype: .a, rcode: .noError, aa: false,
          authority: ["sub.example.com. 3600 NS ns.sub.example.com.", "sub.example.com. 3600 NS ns.elsewhere.org."],
          additional: ["ns.sub.example.com. 3600 A 192.0.2.53"]),
    // DS belongs to the parent side of the cut: NODATA from here (no DS in this zone).
    .init(qname: "sub.example.com.", qtype: .ds, rcode: .noError, authority: [soaNeg]),
    // Out of every zone: REFUSED, not authoritative.
    .init(qname: "www.example.org.", qtype: .a, rcode: .refused, aa: false),
    .init(qname: ".", qtype: .ns, rcode: .refused, aa: false),
    // Case-insensitive matching.
    .init(qname: "WwW.ExAmPlE.CoM.", qtype: .a, rcode: .noError,
          answer: ["www.example.com. 300 A 192.0.2.80", "www.example.com. 300 A 192.0.2.81"]),
]

@Suite struct AnswerTests {
    let responder: QueryResponder

    init() throws {
        responder = makeResponder([try makeZone(exampleZoneText, origin: origin)])
    }

    @Test(arguments: answerCases)
    func answers(_ c: AnswerCase) throws {
        let reply = try responder.ask(try DNSName(c.qname), c.qtype)
        #expect(reply.rcode == c.rcode)
        #expect(reply.header.aa == c.aa)
        #expect(reply.header.qr)
        #expect(!reply.header.tc)
        #expect(reply.questions.count == 1)
        #expect(reply.answers.map(render) == c.answer)
        #expect(reply.authority.map(render) == c.authority)
        #expect(reply.additional.map(render) == c.additional)
    }

    @Test func questionEchoedWithOriginalCase() throws {
        let reply = try responder.ask("WwW.ExAmPlE.CoM.", .a)
        #expect(reply.questions.first?.name.wire == DNSName("WwW.ExAmPlE.CoM.").wire)
        // Owners point at the question, so they carry its case too (as Knot's do).
        #expect(reply.answers.first?.owner.wire == DNSName("WwW.ExAmPlE.CoM.").wire)
    }

    @Test func anyIsMinimalOverUDPAndTCP() throws {
        for transport in [Transport.udp, .tcp] {
            let reply = try responder.ask("www.example.com.", .any, transport: transport)
            #expect(reply.rcode == .noError)
            #expect(reply.header.aa)
            #expect(reply.answers.map(\.type) == [.a, .a])
        }
        // An empty non-terminal has nothing to show: NODATA.
        let ent = try responder.ask("x.example.com.", .any)
        #expect(ent.answers.isEmpty && ent.authority.map(\.type) == [.soa])
    }

    @Test func chaosIdentity() throws {
        for n: DNSName in ["id.server.", "hostname.bind.", "ID.SERVER."] {
            let reply = try responder.ask(n, .txt, qclass: .ch)
            #expect(reply.rcode == .noError)
            #expect(reply.answers.map(\.data) == [.txt([Array("ns1.test".utf8)])])
            #expect(reply.answers.first?.rrClass == .ch)
        }
        #expect(try responder.ask("version.bind.", .txt, qclass: .ch).rcode == .refused)
        let anonymous = makeResponder([], identity: "")
        #expect(try anonymous.ask("id.server.", .txt, qclass: .ch).rcode == .refused)
    }

    /// HS and the other classes are REFUSED; QCLASS ANY is answered with the IN data, as Knot does
    /// (issue 14).
    @Test func otherClassesAreRefusedAndAnyIsIN() throws {
        #expect(try responder.ask("www.example.com.", .a, qclass: .hs).rcode == .refused)
        let any = try responder.ask("www.example.com.", .a, qclass: .any)
        #expect(any.rcode == .noError && !any.answers.isEmpty)
    }

    @Test func transfersAndMetaTypes() throws {
        #expect(try responder.ask("example.com.", .axfr).rcode == .notAuth)
        #expect(try responder.ask("example.com.", .ixfr).rcode == .notAuth)
        #expect(try responder.ask("example.com.", .maila).rcode == .notImp)
    }
}

/// `owner ttl TYPE rdata`, lowercased owner (case is checked separately).
func render(_ rr: ResourceRecord) -> String {
    "\(rr.owner.lowercased()) \(rr.ttl) \(rr.type) \(rr.data.presentation)"
}

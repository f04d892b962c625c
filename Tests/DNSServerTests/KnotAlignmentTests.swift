import DNSServer
import DNSWire
import Testing

/// Details where the responder follows Knot DNS (the reference of the integration tests'
/// differential test, which checks the same cases against a real knotd): CD cleared in every
/// reply, ANY at a CNAME owner, QCLASS ANY, and the CH identity answers' flags.
@Suite("QueryResponder as Knot: CD, ANY at a CNAME, QCLASS ANY, CH identity")
struct KnotAlignmentTests {
    static func withCD(_ m: DNSMessage, rd: Bool = false) -> DNSMessage {
        var m = m
        m.header.cd = true
        m.header.rd = rd
        return m
    }

    // MARK: - CD (RFC 4035 §3.1.6: an authoritative server SHOULD clear it)

    @Test(arguments: [Transport.udp, .tcp])
    func cdIsClearedOnEveryKindOfAnswer(transport: Transport) throws {
        let r = try ServerZone.responder()
        let cases: [(DNSMessage, Rcode, aa: Bool)] = [
            (.query("www.example.com.", .a), .noError, true),
            (.query("nope.example.com.", .a), .nxDomain, true),
            (.query("www.example.com.", .mx), .noError, true),  // NODATA
            (.query("alias.example.com.", .a), .noError, true),  // CNAME followed
            (.query("host.sub.example.com.", .a), .noError, false),  // referral
            (.query("www.example.org.", .a), .refused, false),  // not ours
            (.query("example.com.", .axfr), .notAuth, false),
            (.query("id.server.", .txt, qclass: .ch), .noError, false),
            (.query("www.example.com.", .a, edns: EDNS(version: 1)), .badVers, false),
        ]
        for (query, rcode, aa) in cases {
            for rd in [false, true] {
                let (m, _) = try r.ask(Self.withCD(query, rd: rd), transport: transport)
                let q = query.questions[0]
                #expect(m.rcode == rcode, "\(q.name) \(q.type)")
                #expect(!m.header.cd, "CD copied into the reply to \(q.name) \(q.type)")
                #expect(m.header.rd == rd, "RD is echoed (\(q.name) \(q.type))")
                #expect(m.header.aa == aa, "\(q.name) \(q.type)")
                #expect(m.header.qr)
            }
        }
    }

    @Test func cdIsClearedOnFormErrAndNotImp() throws {
        let r = try ServerZone.responder()
        // Trailing bytes after the question: FORMERR.
        var bytes = Self.withCD(.query("www.example.com.", .a)).encode()
        bytes += [0, 0]
        let formErr = try DNSMessage(decoding: try #require(r.respond(to: bytes)))
        #expect(formErr.rcode == .formErr && !formErr.header.cd)
        // Opcode STATUS (2): NOTIMP.
        var status = Self.withCD(.query("www.example.com.", .a))
        status.header.opcode = Opcode(rawValue: 2)
        let notImp = try DNSMessage(decoding: try #require(r.respond(to: status.encode())))
        #expect(notImp.rcode == .notImp && !notImp.header.cd)
        #expect(notImp.header.opcode == Opcode(rawValue: 2), "the opcode is still echoed")
    }

    // MARK: - ANY at a CNAME owner (RFC 8482: the CNAME alone)

    @Test(arguments: [Transport.udp, .tcp])
    func anyAtACNAMEOwnerIsTheCNAMEAlone(transport: Transport) throws {
        let r = try ServerZone.responder()
        let (m, _) = try r.ask(.query("alias.example.com.", .any), transport: transport)
        #expect(m.rcode == .noError && m.header.aa)
        #expect(m.answers.count == 1)
        #expect(m.answers.first?.owner == "alias.example.com.")
        #expect(m.answers.first?.data == .cname("www.example.com."))
        #expect(m.authority.isEmpty && m.additional.isEmpty)
        // Any other type still follows the chain.
        let (a, _) = try r.ask(.query("alias.example.com.", .a), transport: transport)
        #expect(a.answers.map(\.type) == [.cname, .a, .a])
        // ANY at the target is unchanged: one RRset of the name.
        let (target, _) = try r.ask(.query("www.example.com.", .any), transport: transport)
        #expect(!target.answers.isEmpty && target.answers.allSatisfy { $0.owner == "www.example.com." })
    }

    // MARK: - QCLASS ANY (255): answered as IN

    @Test func qclassAnyIsAnsweredAsIN() throws {
        let r = try ServerZone.responder()
        for type in [RRType.a, .aaaa, .mx, .txt, .any] {
            for name: DNSName in ["www.example.com.", "example.com.", "alias.example.com.", "nope.example.com.",
                                  "host.sub.example.com.", "foo.wild.example.com.", "www.example.org."] {
                let (asIN, inBytes) = try r.ask(.query(name, type))
                let (asAny, anyBytes) = try r.ask(.query(name, type, qclass: .any))
                #expect(asAny.questions.first?.qclass == .any, "the question is echoed as asked")
                #expect(asAny.rcode == asIN.rcode && asAny.header.flags == asIN.header.flags, "\(name) \(type)")
                // The same reply but for the class echoed in the question.
                #expect(anyBytes.count == inBytes.count, "\(name) \(type)")
                #expect(asAny.answers == asIN.answers && asAny.authority == asIN.authority
                        && asAny.additional == asIN.additional, "\(name) \(type)")
            }
        }
        let (www, _) = try r.ask(.query("www.example.com.", .a, qclass: .any))
        #expect(www.rcode == .noError && www.header.aa && www.answers.count == 2)
        #expect(www.answers.allSatisfy { $0.rrClass == .in })
        let (axfr, _) = try r.ask(.query("example.com.", .axfr, qclass: .any))
        #expect(axfr.rcode == .notAuth)
    }

    @Test func otherClassesStayRefused() throws {
        let r = try ServerZone.responder()
        for qclass in [RRClass.hs, .none, RRClass(2), RRClass(42)] {
            let (m, _) = try r.ask(.query("www.example.com.", .a, qclass: qclass))
            #expect(m.rcode == .refused && !m.header.aa && m.answers.isEmpty, "\(qclass)")
        }
        // The CH identity is not answered under QCLASS ANY (as Knot).
        let (ch, _) = try r.ask(.query("id.server.", .txt, qclass: .any))
        #expect(ch.rcode == .refused && ch.answers.isEmpty)
    }

    // MARK: - CH identity: AA clear, TXT only

    @Test func chIdentityIsNotAuthoritative() throws {
        let r = try ServerZone.responder(identity: "ns1.test")
        for name: DNSName in ["id.server.", "hostname.bind.", "ID.Server.", "HOSTNAME.BIND."] {
            for transport in [Transport.udp, .tcp] {
                let (m, _) = try r.ask(.query(name, .txt, qclass: .ch), transport: transport)
                #expect(m.rcode == .noError, "\(name)")
                #expect(!m.header.aa, "AA set on \(name) CH TXT")
                #expect(m.answers.count == 1)
                #expect(m.answers.first?.rrClass == .ch && m.answers.first?.ttl == 0)
                #expect(m.answers.first?.data == .txt([Array("ns1.test".utf8)]))
            }
            // Other types at the identity names, ANY included, are REFUSED (as Knot).
            for type in [RRType.any, .a, .aaaa] {
                let (m, _) = try r.ask(.query(name, type, qclass: .ch))
                #expect(m.rcode == .refused && m.answers.isEmpty && !m.header.aa, "\(name) CH \(type)")
            }
        }
        let silent = try ServerZone.responder(identity: "")
        let (s, _) = try silent.ask(.query("id.server.", .txt, qclass: .ch))
        #expect(s.rcode == .refused && !s.header.aa)
    }
}

import DNSServer
import DNSWire
import Testing

/// Tests/Fixtures/malformed/*.bin (written by generate.py there, described in its README) against
/// the responder: each must be dropped or answered with exactly the documented error, and the
/// responder must answer a valid query correctly right afterwards.
@Suite("Malformed query corpus")
struct MalformedCorpusTests {
    enum Outcome: Equatable {
        case drop
        /// An error reply: rcode, whether the question is echoed, whether OPT is present.
        case error(Rcode, echo: Bool, opt: Bool = false)
    }

    static let formErrNone = Outcome.error(.formErr, echo: false)
    static let formErrEcho = Outcome.error(.formErr, echo: true)

    /// The expected outcome of every corpus file (the same table as the corpus README).
    static let expected: [String: Outcome] = [
        "empty.bin": .drop,
        "short-11-bytes.bin": .drop,
        "response-qr1.bin": .drop,
        "response-qr1-formerr-shape.bin": .drop,
        "header-only-qdcount-0.bin": formErrNone,
        "qdcount-0-with-question.bin": formErrNone,
        "qdcount-2.bin": formErrNone,
        "qname-compression-pointer.bin": formErrNone,
        "qname-pointer-loop.bin": formErrNone,
        "label-length-64.bin": formErrNone,
        "label-type-0x40.bin": formErrNone,
        "label-type-0x80.bin": formErrNone,
        "name-over-255.bin": formErrNone,
        "truncated-question-name.bin": formErrNone,
        "truncated-question-type.bin": formErrNone,
        "truncated-opt.bin": formErrEcho,
        "opt-rdlength-past-end.bin": formErrEcho,
        "two-opt.bin": formErrEcho,
        "opt-non-root-owner.bin": formErrEcho,
        "opt-owner-pointer.bin": formErrEcho,
        "opt-option-past-rdata.bin": formErrEcho,
        "opt-option-header-cut.bin": formErrEcho,
        "ecs-family-0.bin": formErrEcho,
        "ecs-family-3.bin": formErrEcho,
        "ecs-v4-prefix-33.bin": formErrEcho,
        "ecs-v6-prefix-129.bin": formErrEcho,
        "ecs-address-too-long.bin": formErrEcho,
        "ecs-address-too-short.bin": formErrEcho,
        "ecs-bits-past-prefix.bin": formErrEcho,
        "ecs-v6-bits-past-prefix.bin": formErrEcho,
        "ecs-scope-nonzero.bin": formErrEcho,
        "ecs-option-too-short.bin": formErrEcho,
        "ecs-twice.bin": formErrEcho,
        "trailing-garbage.bin": formErrEcho,
        "trailing-garbage-after-opt.bin": formErrEcho,
        "ancount-missing-records.bin": formErrEcho,
        "nscount-missing-records.bin": formErrEcho,
        "arcount-missing-records.bin": formErrEcho,
        "answer-rdlength-past-end.bin": formErrEcho,
        "answer-owner-forward-pointer.bin": formErrEcho,
        "answer-owner-label-0x40.bin": formErrEcho,
        "answer-owner-over-255.bin": formErrEcho,
        "opt-in-answer-section.bin": formErrEcho,
        "edns-version-1.bin": .error(.badVers, echo: true, opt: true),
        "opcode-update-no-question.bin": .error(.notImp, echo: false),
    ]

    @Test func everyCorpusFileHasAnExpectation() throws {
        let names = try Fixtures.files(in: "malformed").map(\.name)
        #expect(names.count >= 40)
        #expect(Set(names) == Set(Self.expected.keys))
    }

    @Test(arguments: try Fixtures.files(in: "malformed").map(\.name), [Transport.udp, .tcp])
    func outcome(_ file: String, transport: Transport) throws {
        let bytes = try #require(try Fixtures.files(in: "malformed").first { $0.name == file }?.bytes)
        let expected = try #require(Self.expected[file], "no expectation for \(file)")
        let responder = try ServerZone.responder()
        let reply = responder.respond(to: bytes, transport: transport)
        switch expected {
        case .drop:
            #expect(reply == nil, "\(file) must be dropped")
            #expect(responder.stats.dropped == 1)
        case .error(let rcode, let echo, let opt):
            let r = try #require(reply, "\(file) must be answered")
            #expect(responder.stats.totalQueries == 1 && responder.stats.dropped == 0)
            #expect(Array(r[0..<2]) == Array(bytes[0..<2]), "the reply carries the query's ID")
            let m = try DNSMessage(decoding: r)
            #expect(m.header.qr)
            #expect(!m.header.aa && !m.header.tc)
            #expect(m.header.opcode == Opcode(rawValue: (bytes[2] >> 3) & 0xF))
            #expect(m.header.rd == (bytes[2] & 1 != 0))
            #expect(m.rcode == rcode, "\(file): \(m.rcode)")
            #expect(m.answers.isEmpty && m.authority.isEmpty && m.additional.isEmpty)
            #expect((m.edns != nil) == opt)
            if echo {
                try #require(m.questions.count == 1)
                let qlen = m.questions[0].name.wire.count + 4
                #expect(Array(r[12..<(12 + qlen)]) == Array(bytes[12..<(12 + qlen)]), "question echoed as sent")
            } else {
                #expect(m.questions.isEmpty)
                #expect(r.count == 12)
            }
        }
        try responder.expectHealthy()
    }

    /// Valid queries that look like the malformed ones: what must still be answered normally.
    @Test func nearMissesAreAnswered() throws {
        let responder = try ServerZone.responder()
        // 63-byte label and a 255-byte name are legal (and not in the zone: NXDOMAIN).
        let long = try DNSName(String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 63) + "."
                               + String(repeating: "c", count: 63) + "." + String(repeating: "d", count: 49) + ".example.com.")
        #expect(long.wire.count == 255)
        let (m, _) = try responder.ask(.query(long, .a))
        #expect(m.rcode == .nxDomain)
        #expect(m.questions.first?.name == long)
        // An answer section with a well-formed (even compressed) record is ignored.
        var withAnswer = DNSMessage.query("www.example.com.", .a)
        withAnswer.answers = [ResourceRecord(owner: "www.example.com.", ttl: 1, .a(IPv4Address(10, 0, 0, 1)))]
        let (m2, _) = try responder.ask(withAnswer)
        #expect(m2.rcode == .noError && m2.answers.count == 2)
        // ECS /0 and unknown EDNS options are fine.
        let (m3, _) = try responder.ask(.query("www.example.com.", .a, edns: EDNS(options: [
            EDNSOption(code: 8, data: [0, 1, 0, 0]), EDNSOption(code: 65001, data: [1, 2, 3])])))
        #expect(m3.rcode == .noError)
        #expect(m3.edns?.option(8)?.data == [0, 1, 0, 0])
    }
}

import DNSServer
import DNSWire
import Testing

/// TSIG must be the last record, in the additional section (RFC 8945 §5.1); no keys are configured,
/// so a well-placed TSIG gets NOTAUTH (as Knot answers an unknown key) and a misplaced one FORMERR.
@Suite struct TSIGPlacementTests {
    static let tsig = ResourceRecord(owner: "key.example.", type: .tsig, rrClass: .any, ttl: 0,
                                     rdata: Array(repeating: 0, count: 16))
    static let other = ResourceRecord(owner: "www.example.com.", type: .a, rrClass: .in, ttl: 0,
                                      rdata: [192, 0, 2, 1])

    func ask(_ m: DNSMessage) throws -> Rcode {
        let responder = try ServerZone.responder()
        guard let reply = responder.respond(to: m.encode()) else { throw TestFailure("dropped") }
        return try DNSMessage(decoding: reply).rcode
    }

    @Test func lastInAdditionalIsNotAuth() throws {
        var m = DNSMessage.query("www.example.com.", .a)
        m.additional = [Self.other, Self.tsig]
        #expect(try ask(m) == .notAuth)
    }

    @Test func notLastIsFormErr() throws {
        var m = DNSMessage.query("www.example.com.", .a)
        m.additional = [Self.tsig, Self.other]
        #expect(try ask(m) == .formErr)
    }

    @Test func inAnswerOrAuthorityIsFormErr() throws {
        var m = DNSMessage.query("www.example.com.", .a)
        m.answers = [Self.tsig]
        #expect(try ask(m) == .formErr)
        m.answers = []
        m.authority = [Self.tsig]
        #expect(try ask(m) == .formErr)
    }
}

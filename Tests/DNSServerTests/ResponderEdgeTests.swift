import DNSServer
import DNSWire
import Testing

@Suite("QueryResponder edges")
struct ResponderEdgeTests {
    /// RFC 7871 §7.1.1 through the responder: every malformed Client Subnet is FORMERR; a valid one
    /// is echoed with SCOPE PREFIX-LENGTH 0 (static data).
    @Test(arguments: [
        ([UInt8]([0, 1, 24, 0, 192, 0, 2]), Rcode.noError),
        ([0, 1, 0, 0], .noError),
        ([0, 1, 32, 0, 192, 0, 2, 1], .noError),
        ([0, 1, 25, 0, 192, 0, 2, 0x80], .noError),
        ([0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 1], .noError),
        ([0, 2, 128, 0, 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], .noError),
        ([], .formErr),
        ([0, 1, 24], .formErr),
        ([0, 0, 0, 0], .formErr),
        ([0, 3, 8, 0, 10], .formErr),
        ([0, 1, 33, 0, 192, 0, 2, 1, 0], .formErr),
        ([0, 2, 129, 0, 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0], .formErr),
        ([0, 1, 24, 0, 192, 0, 2, 0], .formErr),
        ([0, 1, 24, 0, 192, 0], .formErr),
        ([0, 1, 0, 0, 0], .formErr),
        ([0, 1, 23, 0, 192, 0, 3], .formErr),
        ([0, 1, 20, 0, 192, 0, 0x1F], .formErr),
        ([0, 2, 127, 0, 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13], .formErr),
        ([0, 1, 24, 24, 192, 0, 2], .formErr),
    ])
    func clientSubnet(data: [UInt8], rcode: Rcode) throws {
        let responder = try ServerZone.responder()
        let (m, _) = try responder.ask(.query("www.example.com.", .a, id: .ecs,
                                              edns: EDNS(options: [EDNSOption(code: 8, data: data)])))
        #expect(m.header.id == 0x0EC5)
        #expect(m.rcode == rcode)
        if rcode == .noError {
            #expect(m.answers.count == 2)
            var echoed = data
            echoed[3] = 0
            #expect(m.edns?.option(8)?.data == echoed)
            // The echoed option is itself valid as a response's.
            #expect(try ClientSubnet(optionData: try #require(m.edns?.option(8)?.data), isQuery: false).scopePrefix == 0)
        } else {
            #expect(m.answers.isEmpty)
            #expect(m.edns == nil)
            #expect(m.questions.count == 1)
        }
        try responder.expectHealthy()
    }

    @Test func udpLimitsAndTruncation() throws {
        let responder = try ServerZone.responder(maxUDP: 1232)
        // No EDNS: 512 bytes, TC, whole RRsets only.
        let (a, ra) = try responder.ask(.query("big.example.com.", .a))
        #expect(ra.count <= 512)
        #expect(a.header.tc)
        #expect(a.answers.isEmpty)
        // EDNS 4096 is capped at the server's 1232: 60 × 16 bytes fit.
        let (b, rb) = try responder.ask(.query("big.example.com.", .a, edns: EDNS(udpPayloadSize: 4096)))
        #expect(rb.count <= 1232)
        #expect(!b.header.tc && b.answers.count == 60)
        #expect(b.edns?.udpPayloadSize == 1232)
        // EDNS below 512 counts as 512.
        let (c, rc) = try responder.ask(.query("big.example.com.", .a, edns: EDNS(udpPayloadSize: 100)))
        #expect(rc.count <= 512 && c.header.tc)
        // TCP: no limit short of 65535.
        let (d, _) = try responder.ask(.query("big.example.com.", .a), transport: .tcp)
        #expect(!d.header.tc && d.answers.count == 60)
    }

    /// The OPT record (NSID + Client Subnet) must fit the client's limit too, however long the
    /// identity and the question are: the reply may never exceed 512 bytes for a 512-byte client.
    @Test func optWithLongIdentityStaysWithinTheLimit() throws {
        let identity = String(repeating: "n", count: 255)
        let responder = try ServerZone.responder(identity: identity)
        let long = try DNSName(String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 63) + "."
                               + String(repeating: "c", count: 63) + "." + String(repeating: "d", count: 49) + ".example.com.")
        let ecs = ClientSubnet(address: IPAddress("2001:db8::1")!, sourcePrefix: 128)
        let q = DNSMessage.query(long, .a, edns: EDNS(udpPayloadSize: 512, options: [
            EDNSOption(code: 3, data: []), EDNSOption(code: 8, data: ecs.optionData)]))
        let reply = try #require(responder.respond(to: q.encode(), transport: .udp))
        #expect(reply.count <= 512, "UDP reply of \(reply.count) bytes for a 512-byte client")
        let m = try DNSMessage(decoding: reply)
        #expect(m.header.id == q.header.id)
        #expect(m.rcode == .nxDomain && m.questions.first?.name == long)
        #expect(m.edns?.option(8) != nil, "Client Subnet is still echoed")
        // With a short question the long NSID fits and is sent.
        let (short, shortReply) = try responder.ask(.query("www.example.com.", .a, edns: EDNS(udpPayloadSize: 512, options: [
            EDNSOption(code: 3, data: []), EDNSOption(code: 8, data: ecs.optionData)])))
        #expect(shortReply.count <= 512)
        #expect(short.edns?.option(3)?.data == Array(identity.utf8))
        // And a 512-byte output buffer is never overrun.
        var out = [UInt8](repeating: 0, count: 512)
        let n = q.encode().withUnsafeBytes { p in out.withUnsafeMutableBytes { responder.respond(to: p, transport: .udp, source: .v4(IPv4Address(127, 0, 0, 1)), into: $0) } }
        #expect(n > 0 && n <= 512)
    }

    @Test func identityChaosAndNSID() throws {
        let responder = try ServerZone.responder(identity: "ns1.test")
        let (m, _) = try responder.ask(.query("id.server.", .txt, qclass: .ch))
        #expect(m.rcode == .noError && m.answers.first?.data == .txt([Array("ns1.test".utf8)]))
        let (v, _) = try responder.ask(.query("version.bind.", .txt, qclass: .ch))
        #expect(v.rcode == .refused)
        let (n, _) = try responder.ask(.query("www.example.com.", .a, edns: EDNS(options: [EDNSOption(code: 3, data: [])])))
        #expect(n.edns?.option(3)?.data == Array("ns1.test".utf8))
        let silent = try ServerZone.responder(identity: "")
        let (s, _) = try silent.ask(.query("www.example.com.", .a, edns: EDNS(options: [EDNSOption(code: 3, data: [])])))
        #expect(s.edns != nil && s.edns?.option(3) == nil)
    }

    @Test func tooSmallOutputBufferIsADrop() throws {
        let responder = try ServerZone.responder()
        let q = DNSMessage.query("www.example.com.", .a).encode()
        var out = [UInt8](repeating: 0, count: 511)
        let n = q.withUnsafeBytes { p in out.withUnsafeMutableBytes { responder.respond(to: p, transport: .udp, source: .v4(IPv4Address(127, 0, 0, 1)), into: $0) } }
        #expect(n == 0)
    }
}

private extension UInt16 {
    // Readable ID for the ECS table.
    static let ecs: UInt16 = 0x0EC5
}

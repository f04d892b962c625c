import Foundation
import Testing

/// One query of the fixture zone and what any correct authoritative server answers.
struct AnswerCase: Sendable, CustomStringConvertible {
    var label: String
    var name: String
    var type: String
    var status: String
    var aa: Bool
    /// Exactly these records (as sets; case-insensitive names).
    var answer: [String] = []
    /// Exactly these records.
    var authority: [String] = []
    /// At least these records (glue); the additional section may hold more.
    var additionalContains: [String] = []

    var description: String { "\(label) (\(name) \(type))" }
}

/// The negative-answer SOA: its TTL is min(SOA TTL 3600, MINIMUM 300) = 300 (RFC 2308 §3).
let negativeSOA = "g.example.com. 300 IN SOA ns1.g.example.com. hostmaster.g.example.com. 2024010101 7200 3600 1209600 300"
let wwwA = ["www.g.example.com. 3600 IN A 192.0.2.1", "www.g.example.com. 3600 IN A 192.0.2.2"]

let standardCases: [AnswerCase] = [
    AnswerCase(label: "A", name: "www.g.example.com.", type: "A", status: "NOERROR", aa: true, answer: wwwA),
    AnswerCase(label: "AAAA", name: "www.g.example.com.", type: "AAAA", status: "NOERROR", aa: true,
               answer: ["www.g.example.com. 3600 IN AAAA 2001:db8::1"]),
    AnswerCase(label: "MX", name: "g.example.com.", type: "MX", status: "NOERROR", aa: true,
               answer: ["g.example.com. 3600 IN MX 10 mail.g.example.com.",
                        "g.example.com. 3600 IN MX 20 mail2.example.net."]),
    AnswerCase(label: "TXT with two strings", name: "www.g.example.com.", type: "TXT", status: "NOERROR", aa: true,
               answer: ["www.g.example.com. 300 IN TXT \"hello world\" \"second string\""]),
    AnswerCase(label: "CNAME chain", name: "chain1.g.example.com.", type: "A", status: "NOERROR", aa: true,
               answer: ["chain1.g.example.com. 3600 IN CNAME chain2.g.example.com.",
                        "chain2.g.example.com. 3600 IN CNAME www.g.example.com."] + wwwA),
    AnswerCase(label: "wildcard", name: "foo.wild.g.example.com.", type: "A", status: "NOERROR", aa: true,
               answer: ["foo.wild.g.example.com. 3600 IN A 192.0.2.100"]),
    AnswerCase(label: "wildcard CNAME", name: "x.wcname.g.example.com.", type: "A", status: "NOERROR", aa: true,
               answer: ["x.wcname.g.example.com. 3600 IN CNAME www.g.example.com."] + wwwA),
    AnswerCase(label: "delegation referral", name: "host.sub.g.example.com.", type: "A", status: "NOERROR", aa: false,
               authority: ["sub.g.example.com. 3600 IN NS ns.sub.g.example.com.",
                           "sub.g.example.com. 3600 IN NS ns.other.example.net."],
               additionalContains: ["ns.sub.g.example.com. 3600 IN A 192.0.2.200",
                                    "ns.sub.g.example.com. 3600 IN AAAA 2001:db8::200"]),
    AnswerCase(label: "empty non-terminal NODATA", name: "b.ent.g.example.com.", type: "A", status: "NOERROR",
               aa: true, authority: [negativeSOA]),
    AnswerCase(label: "NODATA at an existing name", name: "www.g.example.com.", type: "MX", status: "NOERROR",
               aa: true, authority: [negativeSOA]),
    AnswerCase(label: "NXDOMAIN", name: "nope.g.example.com.", type: "A", status: "NXDOMAIN", aa: true,
               authority: [negativeSOA]),
    AnswerCase(label: "out of zone", name: "www.example.org.", type: "A", status: "REFUSED", aa: false),
]

/// Checks one message against one case, recording every mismatch.
func expectAnswer(_ message: DigMessage, _ c: AnswerCase, via: String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    let context = "\(c) via \(via); the client printed:\n\(message)"
    #expect(message.status == c.status, "status \(message.status), expected \(c.status): \(context)",
            sourceLocation: sourceLocation)
    #expect(message.aa == c.aa, "aa \(message.aa), expected \(c.aa): \(context)", sourceLocation: sourceLocation)
    #expect(!message.tc, "tc set: \(context)", sourceLocation: sourceLocation)
    let answer = normalizedSet(message.answer), expectedAnswer = records(c.answer)
    #expect(answer == expectedAnswer,
            "answer section:\n    \(show(answer))\nexpected:\n    \(show(expectedAnswer))\n\(context)",
            sourceLocation: sourceLocation)
    let authority = normalizedSet(message.authority), expectedAuthority = records(c.authority)
    #expect(authority == expectedAuthority,
            "authority section:\n    \(show(authority))\nexpected:\n    \(show(expectedAuthority))\n\(context)",
            sourceLocation: sourceLocation)
    let additional = normalizedSet(message.additional), glue = records(c.additionalContains)
    #expect(glue.isSubset(of: additional),
            "additional section lacks:\n    \(show(glue.subtracting(additional)))\n\(context)",
            sourceLocation: sourceLocation)
}

extension IntegrationSuite {
    @Suite("Queries")
    struct Queries {
        @Test("A/AAAA/MX/TXT/CNAME/wildcard/referral/NODATA/NXDOMAIN/REFUSED",
              arguments: DNSClient.allCases, Transport.allCases)
        func standardAnswers(client: DNSClient, transport: Transport) async throws {
            try await withGlobalDNS { server in
                for c in standardCases {
                    let message = try await server.querier.query(c.name, c.type, ["+norec"], client: client,
                                                                 transport: transport)
                    expectAnswer(message, c, via: "\(client) over \(transport)")
                }
            }
        }

        @Test("IPv6 listener answers over UDP and TCP", arguments: Transport.allCases)
        func ipv6(transport: Transport) async throws {
            try await withGlobalDNS { server in
                let message = try await server.querierIPv6.query("www.g.example.com.", "A", ["+norec"],
                                                                 transport: transport)
                expectAnswer(message, standardCases[0], via: "dig @::1 over \(transport)")
            }
        }

        @Test("EDNS Client Subnet is echoed with scope 0", arguments: DNSClient.allCases)
        func clientSubnet(client: DNSClient) async throws {
            try await withGlobalDNS { server in
                let message = try await server.querier.query("www.g.example.com.", "A",
                                                             ["+norec", "+subnet=10.1.2.0/24"], client: client)
                #expect(message.edns?.clientSubnet == "10.1.2.0/24/0", "\(client) printed:\n\(message)")
                expectAnswer(message, standardCases[0], via: "\(client) +subnet")
            }
        }

        @Test("NSID carries the identity", arguments: DNSClient.allCases, Transport.allCases)
        func nsid(client: DNSClient, transport: Transport) async throws {
            try await withGlobalDNS { server in
                let message = try await server.querier.query("www.g.example.com.", "A", ["+norec", "+nsid"],
                                                             client: client, transport: transport)
                #expect(message.edns?.nsid == Fixture.identity, "\(client) printed:\n\(message)")
                #expect(message.status == "NOERROR")
            }
        }

        @Test("CH TXT id.server and hostname.bind answer the identity", arguments: DNSClient.allCases)
        func chaosIdentity(client: DNSClient) async throws {
            try await withGlobalDNS { server in
                for name in ["id.server.", "hostname.bind."] {
                    let message = try await server.querier.query(name, "TXT", ["CH", "+norec"], client: client)
                    #expect(message.status == "NOERROR", "\(client) \(name):\n\(message)")
                    let expected = [PrintedRecord(name: name, ttl: 0, rrClass: "CH", type: "TXT",
                                                  rdata: "\"\(Fixture.identity)\"")]
                    // TTL 0 is what Knot sends; compare everything but the TTL
                    #expect(message.answer.map { var r = $0; r.ttl = 0; return r.normalized } == expected,
                            "\(client) \(name):\n\(message)")
                }
            }
        }

        @Test("a big RRset is truncated at 512 bytes and complete over TCP")
        func truncation() async throws {
            try await withGlobalDNS { server in
                let q = server.querier
                for client in DNSClient.allCases {
                    let truncated = try await q.query("big.g.example.com.", "TXT", ["+norec", "+bufsize=512", "+ignore"],
                                                      client: client)
                    #expect(truncated.tc, "\(client) +bufsize=512 +ignore, no TC:\n\(truncated)")
                    #expect(truncated.status == "NOERROR", "\(client):\n\(truncated)")
                }
                // no EDNS at all: the 512-byte limit of RFC 1035 applies
                let plain = try await q.query("big.g.example.com.", "TXT", ["+norec", "+noedns", "+ignore"])
                #expect(plain.tc, "no EDNS, no TC:\n\(plain)")
                #expect(plain.edns == nil, "OPT in the answer to a query without EDNS:\n\(plain)")

                let overTCP = try await q.query("big.g.example.com.", "TXT", ["+norec"], transport: .tcp)
                #expect(!overTCP.tc, "TC over TCP:\n\(overTCP)")
                #expect(overTCP.answer.count == 8, "expected the 8 TXT records over TCP:\n\(overTCP)")

                // dig itself retries over TCP on TC
                let retried = try await q.run(.dig, ["big.g.example.com.", "TXT", "+norec", "+bufsize=512"])
                #expect(retried.notes.contains { $0.contains("Truncated") }, "dig did not see TC:\n\(retried)")
                #expect(try retried.message().answer.count == 8, "after the TCP retry:\n\(retried)")

                // the same RRset fits the default 1232
                let fits = try await q.query("big.g.example.com.", "TXT", ["+norec", "+ignore"])
                #expect(!fits.tc && fits.answer.count == 8, "with +bufsize=1232:\n\(fits)")
            }
        }

        @Test("EDNS version 1 gets BADVERS with an OPT of version 0", arguments: DNSClient.allCases)
        func badvers(client: DNSClient) async throws {
            try await withGlobalDNS { server in
                // dig retries with version 0 after BADVERS unless told not to
                let options = client == .dig ? ["+norec", "+edns=1", "+noednsnegotiation"] : ["+norec", "+edns=1"]
                let message = try await server.querier.query("www.g.example.com.", "A", options, client: client)
                #expect(message.status == "BADVERS", "\(client):\n\(message)")
                #expect(message.edns?.version == 0, "\(client):\n\(message)")
                #expect(message.answer.isEmpty, "\(client):\n\(message)")
            }
        }

        /// GlobalDNS has no secondary zones, so NOTIFY is not implemented (RFC 1996 leaves it to the
        /// server). Knot answers NOTAUTH here instead: the one deliberate difference from Knot.
        @Test("opcode NOTIFY gets NOTIMP", arguments: Transport.allCases)
        func notifyIsNotImplemented(transport: Transport) async throws {
            try await withGlobalDNS { server in
                let message = try await server.querier.query("g.example.com.", "SOA", ["+norec", "+opcode=notify"],
                                                             transport: transport)
                #expect(message.opcode == "NOTIFY", "\(message)")
                #expect(message.status == "NOTIMP", "\(message)")
            }
        }

        @Test("a query of class CH for a name of an IN zone is refused", arguments: DNSClient.allCases)
        func otherClassRefused(client: DNSClient) async throws {
            try await withGlobalDNS { server in
                let message = try await server.querier.query("www.g.example.com.", "A", ["CH", "+norec"], client: client)
                #expect(message.status == "REFUSED", "\(client):\n\(message)")
                #expect(message.answer.isEmpty, "\(client):\n\(message)")
            }
        }

        @Test("the question echoes the case of the query name", arguments: Transport.allCases)
        func caseIsEchoed(transport: Transport) async throws {
            try await withGlobalDNS { server in
                let message = try await server.querier.query("WwW.G.ExAmPlE.CoM.", "A", ["+norec"], transport: transport)
                #expect(message.question.first?.hasPrefix("WwW.G.ExAmPlE.CoM. ") == true,
                        "question not echoed byte for byte:\n\(message)")
                expectAnswer(message, standardCases[0], via: "mixed case over \(transport)")
            }
        }
    }
}

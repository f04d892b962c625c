import Foundation
import Testing

extension IntegrationSuite {
    @Suite("TCP connections")
    struct TCPConnections {
        @Test("three framed queries in one write get three answers on the same connection")
        func pipelining() async throws {
            try await withGlobalDNS { server in
                let client = try RawTCPClient(port: server.address.port)
                defer { client.close() }
                let queries: [(UInt16, String, UInt16)] = [
                    (0x1111, "www.g.example.com", 1), (0x2222, "mail.g.example.com", 28), (0x3333, "nope.g.example.com", 1),
                ]
                try client.send(queries.flatMap { WireQuery.framed(WireQuery.make(id: $0.0, name: $0.1, type: $0.2)) })
                let responses = try client.readMessages(3, timeout: .seconds(5)).map(WireQuery.header)
                #expect(Set(responses.map(\.id)) == [0x1111, 0x2222, 0x3333], "\(responses)")
                for response in responses {
                    #expect(response.isResponse && response.aa && response.qdcount == 1, "\(response)")
                    switch response.id {
                    case 0x1111: #expect(response.rcode == 0 && response.ancount == 2, "www A: \(response)")
                    case 0x2222: #expect(response.rcode == 0 && response.ancount == 1, "mail AAAA: \(response)")
                    default: #expect(response.rcode == 3 && response.ancount == 0 && response.nscount == 1,
                                     "nope A (NXDOMAIN): \(response)")
                    }
                }
            }
        }

        @Test("kdig +keepopen sends several queries over one TCP connection")
        func kdigKeepOpen() async throws {
            try await withGlobalDNS { server in
                let output = try await server.querier.run(.kdig, [
                    "+tcp", "+keepopen", "+norec", "www.g.example.com.", "A", "mail.g.example.com.", "AAAA",
                    "nope.g.example.com.", "A",
                ])
                #expect(output.messages.map(\.status) == ["NOERROR", "NOERROR", "NXDOMAIN"], "\(output)")
                #expect(output.messages.map(\.answer.count) == [2, 1, 0], "\(output)")
            }
        }

        @Test("a client that sends half a frame and stalls is disconnected after the idle timeout")
        func stalledClientIsDisconnected() async throws {
            let options = try GlobalDNSOptions(extraArguments: ["--tcp-idle-timeout", "2"])
            try await withGlobalDNS(options) { server in
                // the length prefix and half of the message, then silence
                let query = WireQuery.make(id: 7, name: "www.g.example.com", type: 1)
                let half = WireQuery.framed(query).prefix(2 + query.count / 2)
                let opened = ContinuousClock.now
                let stalled = try RawTCPClient(port: server.address.port)
                defer { stalled.close() }
                try stalled.send(Array(half))
                // and a connection that never sends anything
                let silent = try RawTCPClient(port: server.address.port)
                defer { silent.close() }

                let stalledClosed = stalled.waitForClose(timeout: .seconds(8))
                #expect(stalledClosed != nil, "a half-sent query kept the connection open for 8 s (idle timeout 2 s)")
                let silentClosed = silent.waitForClose(timeout: .seconds(8) - (ContinuousClock.now - opened))
                #expect(silentClosed != nil, "a silent connection stayed open 8 s (idle timeout 2 s)")
                if let silentClosed {
                    // not at once: the configured 2 s apply (with slack for a loaded machine)
                    #expect(silentClosed - opened >= .milliseconds(1500),
                            "a silent connection was closed after \(silentClosed - opened), before the 2 s idle timeout")
                }

                // the server is fine afterwards, over both transports
                for transport in Transport.allCases {
                    let message = try await server.querier.query("www.g.example.com.", "A", ["+norec"],
                                                                 transport: transport)
                    expectAnswer(message, standardCases[0], via: "dig over \(transport) after the stalled client")
                }
            }
        }
    }
}

import DNSWire
import NIOCore
import NIOPosix
import Testing
@testable import TargetResolution

/// `UpstreamResolver` against a real knotd on loopback.
@Suite struct UpstreamResolverTests {
    private func resolver(_ servers: [SocketAddress], timeout: Duration = .seconds(1), attempts: Int = 1) -> UpstreamResolver {
        UpstreamResolver(configuration: UpstreamConfiguration(servers: servers, timeout: timeout, attempts: attempts),
                         group: MultiThreadedEventLoopGroup.singleton)
    }

    private func addresses(_ texts: String...) -> [IPAddress] { texts.map { IPAddress($0)! } }

    @Test func aAndAAAAAreResolvedSortedAndDeduplicated() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let resolver = resolver([knot.address])
            let www = try await resolver.resolve("www.up.test.").get()
            #expect(www == ResolvedAddresses(addresses: addresses("192.0.2.10", "192.0.2.11", "2001:db8::9", "2001:db8::10"), ttl: 300))
            #expect(www.addresses == addresses("192.0.2.10", "192.0.2.11", "2001:db8::9", "2001:db8::10"))
            // Asked again: the same value, whatever order the server used.
            #expect(try await resolver.resolve("WWW.Up.Test.").get() == www)
            // NODATA for one family is fine when the other has addresses.
            #expect(try await resolver.resolve("v4only.up.test.").get().addresses == addresses("192.0.2.20"))
            #expect(try await resolver.resolve("v6only.up.test.").get().addresses == addresses("2001:db8::20"))
        }
    }

    @Test func cnameChainsAreFollowed() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let resolver = resolver([knot.address])
            // alias (120) → alias2 (60) → www (300), all in the answer section: the smallest TTL wins.
            let alias = try await resolver.resolve("alias.up.test.").get()
            #expect(alias.addresses == addresses("192.0.2.10", "192.0.2.11", "2001:db8::9", "2001:db8::10"))
            #expect(alias.ttl == 60)
            // out (300) → target.other.test. (30): knotd answers with the CNAME only, so the target
            // is asked for in turn.
            let out = try await resolver.resolve("out.up.test.").get()
            #expect(out == ResolvedAddresses(addresses: addresses("203.0.113.5", "2001:db8::5"), ttl: 30))
            // A loop is refused.
            let loop = await resolver.resolve("loop1.up.test.")
            #expect(loop.failure?.code == .tooManyCNAMEs)
            #expect(loop.failure?.message.hasPrefix("CNAME loop at loop1.up.test.") == true)
        }
    }

    @Test func negativeAnswersNameTheServer() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let resolver = resolver([knot.address])
            let nx = await resolver.resolve("nope.up.test.")
            #expect(nx.failure?.code == .nxDomain)
            #expect(nx.failure?.message == "NXDOMAIN from \(knot.hostAndPort)")

            let noData = await resolver.resolve("txtonly.up.test.")
            #expect(noData.failure?.code == .noData)
            #expect(noData.failure?.message == "NODATA from \(knot.hostAndPort): no A or AAAA records")

            let dangling = await resolver.resolve("dangling.up.test.")
            #expect(dangling.failure?.code == .nxDomain)
            #expect(dangling.failure?.message
                == "NXDOMAIN for missing.up.test. (CNAME target of dangling.up.test.) from \(knot.hostAndPort)")

            // knotd refuses names outside its zones: the RCODE is the code, the server is named.
            let refused = await resolver.resolve("www.example.com.")
            #expect(refused.failure?.code == .serverFailure(.refused))
            #expect(refused.failure?.code.rcode == .refused)
            #expect(refused.failure?.message == "REFUSED from \(knot.hostAndPort)")
        }
    }

    @Test func truncatedReplyIsRetriedOverTCP() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            // 100 A records do not fit in 1232 bytes: knotd sets TC=1 on UDP; TCP carries them all.
            let big = try await resolver([knot.address]).resolve("big.up.test.").get()
            #expect(big.addresses == (1...100).map { IPAddress.v4(IPv4Address(198, 51, 100, UInt8($0))) })

            // Through a relay that only speaks UDP, the TCP retry is what fails: proof that TC=1
            // led to TCP on the same server.
            let relay = try await QueryCountingRelay.start(upstream: knot.address)
            let viaRelay = await resolver([relay.address]).resolve("big.up.test.")
            relay.stop()
            #expect(viaRelay.failure?.code == .unreachable)
            #expect(viaRelay.failure?.message == "A: cannot reach 127.0.0.1:\(relay.address.port!) over TCP: connection refused")
        }
    }

    @Test func deadServerTimesOutAndTheNextServerAnswers() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let silent = try await SilentServer.start()
            defer { silent.stop() }
            let clock = ContinuousClock()

            let start = clock.now
            let fellBack = try await resolver([silent.address, knot.address], timeout: .milliseconds(300))
                .resolve("www.up.test.").get()
            let fallbackTime = clock.now - start
            #expect(fellBack.addresses.count == 4)
            #expect(fallbackTime >= .milliseconds(300))
            // Generous: the suite shares two cores; what matters is one 300 ms timeout, not many.
            #expect(fallbackTime < .seconds(5))

            // Alone, two rounds: a timeout naming the server, after both rounds.
            let start2 = clock.now
            let dead = await resolver([silent.address], timeout: .milliseconds(300), attempts: 2).resolve("www.up.test.")
            let deadTime = clock.now - start2
            #expect(dead.failure?.code == .timeout)
            #expect(dead.failure?.message == "timeout: no reply from \(silent.hostAndPort) within 300 ms")
            #expect(deadTime >= .milliseconds(600))
            // Generous as above: two rounds of 300 ms, not a wait per attempt of seconds (2.8 s
            // was seen with the whole suite on two cores).
            #expect(deadTime < .seconds(5))

            // Several servers failing: each one's last failure, in server order; the code is the last one's.
            let both = await resolver([silent.address, knot.address], timeout: .milliseconds(300))
                .resolve("www.example.com.")
            #expect(both.failure?.code == .serverFailure(.refused))
            #expect(both.failure?.message
                == "timeout: no reply from \(silent.hostAndPort) within 300 ms; REFUSED from \(knot.hostAndPort)")
        }
    }

    @Test func closedPortIsUnreachableAndSkippedAtOnce() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let closedPort = try freePort()  // nothing listens there: ICMP port unreachable
            let closed = try SocketAddress(ipAddress: "127.0.0.1", port: Int(closedPort))
            let clock = ContinuousClock()
            let start = clock.now
            let fellBack = try await resolver([closed, knot.address], timeout: .seconds(10)).resolve("www.up.test.").get()
            #expect(fellBack.addresses.count == 4)
            // Well under the 10 s timeout (generous: the suite shares two cores).
            #expect(clock.now - start < .seconds(5), "the refused server was waited on, not skipped")

            let alone = await resolver([closed], timeout: .seconds(10)).resolve("www.up.test.")
            #expect(alone.failure?.code == .unreachable)
            #expect(alone.failure?.message == "cannot reach 127.0.0.1:\(closedPort): connection refused")
        }
    }

    @Test func refusedByOneServerAnsweredByTheNext() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            try await withKnot(zones: ["other.test.": TestZones.other]) { otherOnly in
                let www = try await resolver([otherOnly.address, knot.address]).resolve("www.up.test.").get()
                #expect(www.addresses.count == 4)
            }
        }
    }

    @Test func ipv6LoopbackServer() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let resolver = resolver([knot.addressIPv6])
            let www = try await resolver.resolve("www.up.test.").get()
            #expect(www.addresses.count == 4)
            let nx = await resolver.resolve("nope.up.test.")
            #expect(nx.failure?.message == "NXDOMAIN from [::1]:\(knot.port)")
        }
    }

    @Test func cancellingAResolutionEndsItAtOnce() async throws {
        let silent = try await SilentServer.start()
        defer { silent.stop() }
        let resolver = resolver([silent.address], timeout: .seconds(10))
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task { await resolver.resolve("www.up.test.") }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = await task.value
        #expect(result.failure?.code == .cancelled)
        // Well before the 10 s timeout (generous: the suite shares two cores).
        #expect(clock.now - start < .seconds(5))
    }

    @Test func noServers() async {
        let result = await resolver([]).resolve("www.up.test.")
        #expect(result.failure?.code == .noServers)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

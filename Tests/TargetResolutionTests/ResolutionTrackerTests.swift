import DNSWire
import Logging
import NIOCore
import NIOPosix
import Testing
import TargetResolution

/// `ResolutionTracker` against a real knotd (through a relay that counts the queries per name).
@Suite struct ResolutionTrackerTests {
    /// TTL-1 names re-resolved every second; errors retried after a second.
    private func fastConfiguration(_ server: SocketAddress) -> UpstreamConfiguration {
        UpstreamConfiguration(servers: [server], timeout: .seconds(1), attempts: 1,
                              minRefresh: .seconds(1), maxRefresh: .seconds(300), retryAfterFailure: .seconds(1))
    }

    private func addresses(_ result: Result<ResolvedAddresses, ResolutionError>?) -> [String]? {
        guard case .success(let resolved)? = result else { return nil }
        return resolved.addresses.map(\.description)
    }

    @Test func zoneChangeYieldsExactlyOneUpdateAndUnchangedAnswersNone() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let relay = try await QueryCountingRelay.start(upstream: knot.address)
            defer { relay.stop() }
            try await withTracker(fastConfiguration(relay.address)) { tracker, log in
                let moving: DNSName = "moving.up.test.", steady: DNSName = "steady.up.test."
                await tracker.setNames([moving, steady])
                let first = await log.wait(forCount: 2)
                try #require(first.count == 2)
                #expect(addresses(await log.updates(for: moving).first?.result) == ["192.0.2.30"])
                #expect(addresses(await log.updates(for: steady).first?.result) == ["192.0.2.40"])

                try await knot.replaceZone("up.test.", with: TestZones.up(serial: 2, moving: "192.0.2.31"))
                let second = await log.wait(forCount: 3)
                try #require(second.count == 3)
                #expect(second[2].name == moving)
                #expect(addresses(second[2].result) == ["192.0.2.31"])
                #expect(addresses(await tracker.current(moving)) == ["192.0.2.31"])

                // Both names keep being asked every second; the answers no longer change.
                let askedBefore = relay.queries(for: steady)
                let deadline = ContinuousClock.now + .seconds(6)  // generous: two shared cores
                while relay.queries(for: steady) <= askedBefore && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(relay.queries(for: steady) > askedBefore)
                #expect(await log.updates.count == 3)
            }
        }
    }

    @Test func removedNamesAreNoLongerAsked() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let relay = try await QueryCountingRelay.start(upstream: knot.address)
            defer { relay.stop() }
            try await withTracker(fastConfiguration(relay.address)) { tracker, log in
                let steady: DNSName = "steady.up.test.", gone: DNSName = "gone.up.test."
                await tracker.setNames([steady, gone])
                try #require(await log.wait(forCount: 2).count == 2)

                await tracker.setNames([steady])
                #expect(await tracker.current(gone) == nil)
                try await Task.sleep(for: .milliseconds(200))  // a query already sent may still land
                let goneAsked = relay.queries(for: gone), steadyAsked = relay.queries(for: steady)
                try await Task.sleep(for: .milliseconds(2200))
                #expect(relay.queries(for: gone) == goneAsked)
                #expect(relay.queries(for: steady) >= steadyAsked + 2)  // A and AAAA at least once more
                #expect(await log.updates.count == 2)
                #expect(await tracker.current(gone) == nil)
            }
        }
    }

    @Test func errorsAreOutcomesTooAndRepeatingOneYieldsNothing() async throws {
        try await withKnot(zones: TestZones.both) { knot in
            let relay = try await QueryCountingRelay.start(upstream: knot.address)
            defer { relay.stop() }
            try await withTracker(fastConfiguration(relay.address)) { tracker, log in
                let later: DNSName = "later.up.test."
                await tracker.setNames([later])
                let first = await log.wait(forCount: 1)
                try #require(first.count == 1)
                guard case .failure(let error) = first[0].result else {
                    Issue.record("expected NXDOMAIN, got \(first[0].result)")
                    return
                }
                #expect(error.code == .nxDomain)
                #expect(error.message == "NXDOMAIN from 127.0.0.1:\(relay.address.port!)")

                // Retried after a second, still NXDOMAIN: nothing new.
                let asked = relay.queries(for: later)
                let deadline = ContinuousClock.now + .seconds(6)  // generous: two shared cores
                while relay.queries(for: later) <= asked && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(relay.queries(for: later) > asked)
                #expect(await log.updates.count == 1)

                try await knot.replaceZone("up.test.", with: TestZones.up(serial: 2, withLater: true))
                let second = await log.wait(forCount: 2)
                try #require(second.count == 2)
                #expect(addresses(second[1].result) == ["192.0.2.60"])
            }
        }
    }

    @Test func cancellingRunStopsResolutionsUnderWay() async throws {
        let silent = try await SilentServer.start()
        defer { silent.stop() }
        let configuration = UpstreamConfiguration(servers: [silent.address], timeout: .seconds(30), attempts: 1)
        let resolver = UpstreamResolver(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
        let tracker = ResolutionTracker(resolver: resolver, configuration: configuration, logger: Logger(label: "test"))
        let clock = ContinuousClock()
        let loop = Task { await tracker.run() }
        await tracker.setNames(["a.up.test.", "b.up.test."])
        try await Task.sleep(for: .milliseconds(200))
        let start = clock.now
        loop.cancel()
        await loop.value
        // Well before the 30 s timeout (generous: the suite shares two cores; 5.2 s was seen).
        #expect(clock.now - start < .seconds(12))
        // The stream is finished and nothing was yielded: the resolutions were cut short, not failed.
        var yielded = 0
        for await _ in tracker.updates { yielded += 1 }
        #expect(yielded == 0)
        #expect(await tracker.current("a.up.test.") == nil)
    }

    @Test func concurrencyIsBounded() async throws {
        let silent = try await SilentServer.start()
        defer { silent.stop() }
        // Each name takes one 300 ms timeout (A and AAAA in parallel); one name at a time.
        let configuration = UpstreamConfiguration(servers: [silent.address], timeout: .milliseconds(300), attempts: 1,
                                                  retryAfterFailure: .seconds(60), maxConcurrentResolutions: 1)
        let clock = ContinuousClock()
        try await withTracker(configuration) { tracker, log in
            let start = clock.now
            await tracker.setNames(["a.up.test.", "b.up.test.", "c.up.test."])
            // The bound is the lower one (one name at a time: at least 3 × 300 ms); the wait is long
            // because a full suite run on two loaded cores has starved this tracker for 10 s.
            let updates = await log.wait(forCount: 3, timeout: .seconds(40))
            let elapsed = clock.now - start
            #expect(updates.count == 3)
            #expect(elapsed >= .milliseconds(900))
            for update in updates {
                guard case .failure(let error) = update.result else {
                    Issue.record("expected a timeout for \(update.name)")
                    continue
                }
                #expect(error.code == .timeout)
                #expect(error.message == "timeout: no reply from \(silent.hostAndPort) within 300 ms")
            }
        }
    }
}

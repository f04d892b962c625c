import DNSWire
import NIOCore
import NIOPosix
import Testing
@testable import HealthCheck

/// `HealthChecker` probing real sockets on loopback (127.0.0.1 and ::1 only).
@Suite struct LiveProbeTests {
    @Test func listenerUpThenClosedDownThenBackUp() async throws {
        let timing = ProbeTiming(interval: .milliseconds(250), timeout: .milliseconds(200), failureThreshold: 2, successThreshold: 1)
        var listener = try await CountingListener.start()
        let target = loopback(listener.port, timing: timing)
        try await withChecker { checker, log in
            await checker.setTargets([target])
            #expect(await checker.health(of: target)?.verdict == .unknown)
            let up = await log.wait(for: target, to: .up)
            #expect(up?.transition.previous == .unknown)
            #expect(up?.transition.health.lastLatency != nil)

            // Closed: connection refused, down within interval × failureThreshold + timeout + 1 s.
            try await listener.stop()
            let closedAt = ContinuousClock.now
            let down = try #require(await log.wait(for: target, to: .down))
            let detection = down.at - closedAt
            print("HealthCheck: down detected after \(detection) (bound 2.7 s)")
            // The bound is + 1 s; one more second of slack for two loaded, shared cores.
            #expect(detection <= .milliseconds(250 * 2 + 200 + 2000))
            #expect(down.transition.previous == .up)
            #expect(down.transition.health.lastError?.message == "connection refused")
            #expect(down.transition.health.consecutiveFailures == 2)

            // Listening again on the same port: up after one success.
            let index = await log.count
            listener = try await CountingListener.start(port: target.port)
            let reopenedAt = ContinuousClock.now
            let back = try #require(await log.wait(for: target, to: .up, after: index))
            print("HealthCheck: up again after \(back.at - reopenedAt) (bound 1.25 s)")
            #expect(back.at - reopenedAt <= .milliseconds(250 + 1000))
            #expect(back.transition.previous == .down)
            #expect(await checker.health(of: target)?.lastError == nil)

            let metrics = await checker.metrics()
            #expect(metrics.targetsUp == 1 && metrics.targetsDown == 0)
            #expect(metrics.probes.refused >= 2)
            #expect(metrics.probes.success >= 2)
            #expect(metrics.latency.count == metrics.probes.success)
            #expect(metrics.scheduleDrift.count == metrics.probes.total + metrics.probes.skippedOverlap)
            print("HealthCheck: schedule drift max \(metrics.scheduleDrift.max), latency max \(metrics.latency.max)")
        }
        try await listener.stop()
    }

    @Test func closedPortIsRefused() async throws {
        let port = try closedPort()
        let target = loopback(port, timing: ProbeTiming(interval: .milliseconds(200), timeout: .seconds(1), failureThreshold: 1))
        try await withChecker { checker, log in
            await checker.setTargets([target])
            let down = try #require(await log.wait(for: target, to: .down))
            #expect(down.transition.previous == .unknown)
            #expect(down.transition.health.lastError?.code == .refused)
            #expect(down.transition.health.lastError?.message == "connection refused")
            #expect(await checker.metrics().targetsDown == 1)
        }
    }

    @Test func blackholeTimesOut() async throws {
        let hole = try Blackhole.start()
        defer { hole.close() }
        let timing = ProbeTiming(interval: .seconds(2), timeout: .seconds(1), failureThreshold: 1)
        let target = loopback(hole.port, timing: timing)
        try await withChecker { checker, log in
            let start = ContinuousClock.now
            await checker.setTargets([target])
            let down = try #require(await log.wait(for: target, to: .down))
            print("HealthCheck: blackhole down after \(down.at - start)")
            #expect(down.at - start >= .seconds(1))
            // interval × failureThreshold + timeout + 1 s; unloaded it takes the timeout, ≈ 1.0 s.
            #expect(down.at - start < .seconds(4))
            #expect(down.transition.health.lastError?.code == .timeout)
            #expect(down.transition.health.lastError?.message == "timed out after 1s")
        }
    }

    @Test func probesOfOneTargetNeverOverlap() async throws {
        let hole = try Blackhole.start()
        defer { hole.close() }
        // Timeout longer than the interval: probe times that find a probe in flight start nothing.
        let target = loopback(hole.port, timing: ProbeTiming(interval: .milliseconds(100), timeout: .milliseconds(450),
                                                             failureThreshold: 1))
        try await withChecker { checker, log in
            await checker.setTargets([target])
            #expect(await log.wait(for: target, to: .down) != nil)
            try await Task.sleep(for: .milliseconds(500))
            let m = await checker.metrics()
            #expect(m.probes.timeout >= 2)
            // Each probe takes 450 ms, probe times come every 100 ms: about four skips per probe.
            #expect(m.probes.skippedOverlap >= 3 * m.probes.timeout)
            #expect(await checker.health(of: target)?.lastError?.message == "timed out after 450ms")
        }
    }

    @Test func ipv6Loopback() async throws {
        let timing = ProbeTiming(interval: .milliseconds(200), timeout: .milliseconds(150), failureThreshold: 1)
        let listener = try await CountingListener.start(host: "::1")
        let up = loopback(listener.port, ipv6: true, timing: timing)
        let refused = loopback(try closedPort(ipv6: true), ipv6: true, timing: timing)
        let hole = try Blackhole.start(ipv6: true)
        defer { hole.close() }
        let silent = loopback(hole.port, ipv6: true, timing: timing)
        try await withChecker { checker, log in
            await checker.setTargets([up, refused, silent])
            #expect(await log.wait(for: up, to: .up) != nil)
            #expect(await log.wait(for: refused, to: .down)?.transition.health.lastError?.message == "connection refused")
            #expect(await log.wait(for: silent, to: .down)?.transition.health.lastError?.message == "timed out after 150ms")
            #expect(up.description == "[::1]:\(listener.port)")
        }
        try await listener.stop()
    }

    @Test func identicalTargetsAreProbedOnce() async throws {
        let listener = try await CountingListener.start()
        let timing = ProbeTiming(interval: .milliseconds(200), timeout: .milliseconds(150), failureThreshold: 1)
        // Two NameServices wanting the same address, port and timing: one ProbeTarget.
        let first = loopback(listener.port, timing: timing)
        let second = ProbeTarget(address: IPAddress("127.0.0.1")!, port: listener.port,
                                 timing: ProbeTiming(interval: .milliseconds(200), timeout: .milliseconds(150), failureThreshold: 1))
        let wanted: Set<ProbeTarget> = [first, second]
        #expect(wanted.count == 1)
        try await withChecker { checker, _ in
            await checker.setTargets(wanted)
            while listener.connects == 0 { try await Task.sleep(for: .milliseconds(5)) }
            let first = listener.connects
            let clock = ContinuousClock()
            let start = clock.now
            try await Task.sleep(for: .milliseconds(1000))
            await checker.setTargets(wanted)  // wanting it again changes nothing
            let connects = listener.connects - first
            // Probe times every 200 ms: one per 200 ms slept (a loaded machine sleeps longer than
            // asked); twice as many if probed twice.
            let slots = Int((clock.now - start) / .milliseconds(200))
            #expect((2...slots + 1).contains(connects), "\(connects) connects in \(slots) intervals")
            let m = await checker.metrics()
            #expect(m.probes.success <= listener.connects + 1)  // the last accept may lag its connect
        }
        try await listener.stop()
    }

    @Test func removedTargetsAreNoLongerProbed() async throws {
        let listener = try await CountingListener.start()
        let timing = ProbeTiming(interval: .milliseconds(100), timeout: .milliseconds(80), failureThreshold: 1)
        let kept = loopback(listener.port, timing: ProbeTiming(interval: .seconds(10), timeout: .milliseconds(80)))
        let removed = loopback(listener.port, timing: timing)
        try await withChecker { checker, log in
            await checker.setTargets([kept, removed])
            #expect(await log.wait(for: removed, to: .up) != nil)
            try await Task.sleep(for: .milliseconds(300))
            await checker.setTargets([kept])
            #expect(await checker.health(of: removed) == nil)
            #expect(await checker.health(of: kept) != nil)
            try await Task.sleep(for: .milliseconds(100))  // a probe in flight may still land
            let after = listener.connects
            #expect(after >= 4)
            try await Task.sleep(for: .milliseconds(500))
            #expect(listener.connects == after)
        }
        try await listener.stop()
    }
}

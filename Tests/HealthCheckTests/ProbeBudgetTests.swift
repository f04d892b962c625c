import DNSWire
import Foundation
import Logging
import Testing
@testable import HealthCheck

#if canImport(Glibc)
import Glibc
#endif

/// A switch the `openSocket` hook reads on the prober thread: while on, `socket()` "fails".
final class ShortOfSockets: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var on: Bool {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

/// The prober's file-descriptor budget (`maxConcurrentProbes`): it never holds more probe sockets
/// than its share, and probes past it wait (late), never fail. Loopback only.
@Suite struct ProbeBudgetTests {
    @Test func budgetIsSharedOverThreads() {
        let c = HealthCheckerConfiguration(threads: 3, maxConcurrentProbes: 10)
        #expect((0..<3).map { c.probeBudget(ofThread: $0) } == [4, 3, 3])
        let tiny = HealthCheckerConfiguration(threads: 4, maxConcurrentProbes: 2)
        #expect((0..<4).map { tiny.probeBudget(ofThread: $0) } == [1, 1, 1, 1])  // at least 1 each
        #expect(HealthCheckerConfiguration(maxConcurrentProbes: 0).maxConcurrentProbes == 1)
        #expect(HealthCheckerConfiguration().maxConcurrentProbes == 1024)
    }

    @Test func localResourceErrnosAreNotVerdicts() {
        for e in [EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL, EAGAIN] { #expect(ProbeLoop.isLocalResourceError(e)) }
        for e in [ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, EACCES, EPERM, EINVAL] {
            #expect(!ProbeLoop.isLocalResourceError(e))
        }
    }

    /// A budget of 2 sockets, 8 blackholed targets (each probe holds its socket until its 200 ms
    /// timeout) and 30 listening ones, all due at once (no stagger): never more than 2 sockets
    /// open; the listening targets wait behind the blackholed ones, are reported late (delayed),
    /// and every one of them comes up without a single failure (failure threshold 1).
    @Test func probesPastTheBudgetWaitAndNeverFail() async throws {
        let blackhole = try Blackhole.start()
        defer { blackhole.close() }
        let listener = try await CountingListener.start()
        let held = (0..<8).map {
            loopback(blackhole.port, timing: ProbeTiming(interval: .milliseconds(1000 + $0), timeout: .milliseconds(200),
                                                         failureThreshold: 1))
        }
        let fine = (0..<30).map {
            loopback(listener.port, timing: ProbeTiming(interval: .milliseconds(1000 + $0), timeout: .milliseconds(900),
                                                        failureThreshold: 1))
        }
        let configuration = HealthCheckerConfiguration(jitter: 0, seed: 1, batchDelay: .milliseconds(2), threads: 1,
                                                       maxConcurrentProbes: 2)
        try await withChecker(configuration) { checker, log in
            await checker.setTargets(Set(held + fine))
            for target in fine { #expect(await log.wait(for: target, to: .up, timeout: .seconds(20)) != nil) }
            for target in held { #expect(await log.wait(for: target, to: .down, timeout: .seconds(20)) != nil) }
            let m = await checker.metrics()
            #expect(m.probeSocketsHighWater == 2, "high water \(m.probeSocketsHighWater)")
            #expect(m.probes.delayed > 0)
            #expect(m.probes.refused == 0 && m.probes.other == 0 && m.probes.localResourceFailures == 0)
            #expect(m.probes.timeout >= held.count)  // only the blackholed targets ever failed
            for target in fine { #expect(await checker.health(of: target)?.consecutiveFailures == 0) }
            // The wait shows as drift: the last of 38 probes due together started ≥ 4 × 200 ms late.
            #expect(m.scheduleDrift.max >= .milliseconds(600))
        }
        try await listener.stop()
    }

    /// Without a budget problem the cap costs nothing: 30 listening targets, budget 1024.
    @Test func underTheBudgetNothingWaits() async throws {
        let listener = try await CountingListener.start()
        let targets = (0..<30).map {
            loopback(listener.port, timing: ProbeTiming(interval: .milliseconds(200 + $0), timeout: .milliseconds(150),
                                                        failureThreshold: 1))
        }
        try await withChecker { checker, log in
            await checker.setTargets(Set(targets))
            for target in targets { #expect(await log.wait(for: target, to: .up, timeout: .seconds(20)) != nil) }
            let m = await checker.metrics()
            #expect(m.probes.delayed == 0)
            #expect(m.probeSocketsHighWater >= 1 && m.probeSocketsHighWater <= 30)
        }
        try await listener.stop()
    }
}

/// `updateTargets(adding:removing:)`: what the server uses, O(changed targets); the targets it
/// does not name keep probing with their state.
@Suite struct IncrementalTargetTests {
    @Test func updatesTouchOnlyTheNamedTargets() async throws {
        let listener = try await CountingListener.start()
        let timing = ProbeTiming(interval: .milliseconds(50), timeout: .milliseconds(40), failureThreshold: 1)
        let x = loopback(listener.port, timing: timing)
        let y = loopback(listener.port, timing: ProbeTiming(interval: .milliseconds(51), timeout: .milliseconds(40),
                                                            failureThreshold: 1))
        try await withChecker { checker, log in
            await checker.updateTargets(adding: [x], removing: [])
            #expect(await log.wait(for: x, to: .up) != nil)
            let before = try #require(await checker.health(of: x))
            await checker.updateTargets(adding: [y, x], removing: [])  // x again: not restarted
            #expect(await log.wait(for: y, to: .up) != nil)
            let after = try #require(await checker.health(of: x))
            #expect(after.verdict == .up && after.lastTransition == before.lastTransition)
            #expect(await log.count == 2)
            await checker.updateTargets(adding: [], removing: [x])
            #expect(await checker.health(of: x) == nil)
            #expect(await checker.health(of: y)?.verdict == .up)
            #expect(await checker.allHealth().count == 1)
        }
        try await listener.stop()
    }
}

import DNSWire
import Foundation
import GSLB
import Testing
@testable import HealthCheck

/// The hysteresis core and the wall clock: pure, no I/O.
@Suite struct TargetHealthTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var failureThreshold: Int
        var successThreshold: Int
        /// `S` success, `F` failure.
        var outcomes: String
        /// The verdict after each outcome: `?` unknown, `U` up, `D` down.
        var verdicts: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "1/1: first success up, first failure down", failureThreshold: 1, successThreshold: 1,
             outcomes: "SFSSFF", verdicts: "UDUUDD"),
        Case(name: "1/1: first outcome a failure", failureThreshold: 1, successThreshold: 1,
             outcomes: "FS", verdicts: "DU"),
        Case(name: "3/2: down after three failures in a row", failureThreshold: 3, successThreshold: 2,
             outcomes: "FFFF", verdicts: "??DD"),
        Case(name: "3/2: up after two successes in a row, from unknown", failureThreshold: 3, successThreshold: 2,
             outcomes: "SSS", verdicts: "?UU"),
        Case(name: "3/2: back up after two successes", failureThreshold: 3, successThreshold: 2,
             outcomes: "SSFFFSFSS", verdicts: "?UUUDDDDU"),
        Case(name: "3/2: a failure run broken by a success starts again", failureThreshold: 3, successThreshold: 2,
             outcomes: "SSFFSFFSFFF", verdicts: "?UUUUUUUUUD"),
        Case(name: "3/1: flapping never goes down", failureThreshold: 3, successThreshold: 1,
             outcomes: "FSFSFSFSFSFS", verdicts: "?UUUUUUUUUUU"),
        Case(name: "3/1: flapping from unknown starting with failures", failureThreshold: 3, successThreshold: 1,
             outcomes: "FFSFFS", verdicts: "??UUUU"),
        Case(name: "2/3: flapping down never comes back up", failureThreshold: 2, successThreshold: 3,
             outcomes: "FFSFSFSSS", verdicts: "?DDDDDDDU"),
    ]

    @Test(arguments: cases) func hysteresis(_ c: Case) {
        var health = TargetHealth(timing: ProbeTiming(failureThreshold: c.failureThreshold, successThreshold: c.successThreshold))
        var previous = Verdict.unknown
        for (i, (o, v)) in zip(c.outcomes, c.verdicts).enumerated() {
            let time = WallTime(secondsSinceEpoch: Int64(1000 + i))
            let outcome: Result<Duration, ProbeError> = o == "S"
                ? .success(.milliseconds(1)) : .failure(ProbeError(.refused, message: "connection refused"))
            let changed = health.record(outcome, at: time)
            let expected: Verdict = v == "U" ? .up : v == "D" ? .down : .unknown
            #expect(health.verdict == expected, "step \(i) (\(o))")
            #expect(changed == (expected != previous), "step \(i) (\(o))")
            #expect(health.isHealthy == (expected != .down), "step \(i): unknown counts as healthy")
            if changed { #expect(health.lastTransition == time) }
            #expect(health.lastProbe == time)
            previous = expected
        }
    }

    @Test func initialState() {
        let health = TargetHealth(timing: ProbeTiming())
        #expect(health.verdict == .unknown)
        #expect(health.isHealthy)
        #expect(health.consecutiveSuccesses == 0 && health.consecutiveFailures == 0)
        #expect(health.lastTransition == nil && health.lastProbe == nil && health.lastError == nil && health.lastLatency == nil)
    }

    @Test func countersErrorAndLatency() {
        var health = TargetHealth(timing: ProbeTiming(failureThreshold: 3, successThreshold: 1))
        let t = WallTime(secondsSinceEpoch: 1)
        health.record(.success(.milliseconds(3)), at: t)
        health.record(.failure(.timedOut(after: .seconds(3))), at: t)
        health.record(.failure(ProbeError(errno: EHOSTUNREACH, timeout: .seconds(3))), at: t)
        #expect(health.verdict == .up)
        #expect(health.consecutiveFailures == 2 && health.consecutiveSuccesses == 0)
        #expect(health.lastError?.message == "no route to host")
        #expect(health.lastError?.code == .unreachable)
        #expect(health.lastLatency == .milliseconds(3))
        health.record(.success(.milliseconds(4)), at: t)
        #expect(health.lastError == nil)
        #expect(health.consecutiveFailures == 0 && health.consecutiveSuccesses == 1)
    }

    @Test func thresholdsBelowOneAreOne() {
        let timing = ProbeTiming(interval: .zero, timeout: .zero, initialDelay: .seconds(-1), failureThreshold: 0, successThreshold: -2)
        #expect(timing.failureThreshold == 1 && timing.successThreshold == 1)
        #expect(timing.interval == .milliseconds(1) && timing.initialDelay == .zero)
    }

    @Test func errorsInWords() {
        #expect(ProbeError(errno: ECONNREFUSED, timeout: .seconds(3)).message == "connection refused")
        #expect(ProbeError(errno: ECONNREFUSED, timeout: .seconds(3)).code == .refused)
        #expect(ProbeError(errno: ENETUNREACH, timeout: .seconds(3)).code == .unreachable)
        #expect(ProbeError(errno: ETIMEDOUT, timeout: .seconds(3)).message == "timed out after 3s")
        #expect(ProbeError(errno: ETIMEDOUT, timeout: .seconds(3)).code == .timeout)
        #expect(ProbeError(errno: EHOSTUNREACH, timeout: .seconds(1)).message == "no route to host")
        #expect(ProbeError(errno: ENETUNREACH, timeout: .seconds(1)).message == "network unreachable")
        #expect(ProbeError(errno: EMFILE, timeout: .seconds(1)).message == "too many open files")
        #expect(ProbeError(errno: EMFILE, timeout: .seconds(1)).code == .other)
        #expect(ProbeError(errno: EADDRNOTAVAIL, timeout: .seconds(1)).message == "cannot assign requested address")
        #expect(ProbeError.timedOut(after: .milliseconds(1500)).message == "timed out after 1.5s")
        #expect(ProbeError.timedOut(after: .milliseconds(250)).message == "timed out after 250ms")
        #expect(ProbeError.timedOut(after: .milliseconds(250)).code == .timeout)
    }

    @Test func wallTimeRFC3339() {
        #expect(WallTime(secondsSinceEpoch: 0).rfc3339 == "1970-01-01T00:00:00Z")
        #expect(WallTime(secondsSinceEpoch: 1_738_324_800).rfc3339 == "2025-01-31T12:00:00Z")
        #expect(WallTime(secondsSinceEpoch: 1_709_251_199).rfc3339 == "2024-02-29T23:59:59Z")
        #expect(WallTime(secondsSinceEpoch: -1).rfc3339 == "1969-12-31T23:59:59Z")
        #expect(WallTime(rfc3339: "2025-01-31T12:00:00Z") == WallTime(secondsSinceEpoch: 1_738_324_800))
        #expect(WallTime(rfc3339: "2025-01-31T14:00:00+02:00") == WallTime(secondsSinceEpoch: 1_738_324_800))
        #expect(WallTime(rfc3339: "2025-01-31t12:00:00.25z")
            == WallTime(nanosecondsSinceEpoch: 1_738_324_800_250_000_000))
        for bad in ["", "2025-01-31", "2025-02-30T00:00:00Z", "2025-01-31T24:00:00Z", "2025-01-31T12:00:00",
                    "2025-01-31T12:00:00+0200", "2025-01-31T12:00:00.Z", "x025-01-31T12:00:00Z",
                    "2999-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1066-10-14T09:00:00Z"] {
            #expect(WallTime(rfc3339: bad) == nil, "\(bad)")
        }
        let now = WallTime.now
        #expect(WallTime(rfc3339: now.rfc3339) == WallTime(secondsSinceEpoch: now.secondsSinceEpoch))
    }

    @Test func histogram() {
        var h = Histogram(bounds: [.milliseconds(1), .milliseconds(10)])
        for ms in [0, 1, 2, 10, 11, 500] { h.record(.milliseconds(ms)) }
        #expect(h.counts == [2, 2, 2])
        #expect(h.count == 6 && h.max == .milliseconds(500) && h.sum == .milliseconds(524))
        #expect(h.mean == .milliseconds(524) / 6)
        #expect(h.quantileBound(0.3) == .milliseconds(1))
        #expect(h.quantileBound(0.6) == .milliseconds(10))
        #expect(h.quantileBound(0.99) == nil)  // only +Inf holds 99 %
        #expect(Histogram().quantileBound(0.5) == nil && Histogram().mean == .zero)
        #expect(HealthChecker.decimal(.microseconds(213), scale: 1000) == "0.213")
        #expect(HealthChecker.decimal(.seconds(60), scale: 1) == "60.000")
        #expect(HealthChecker.decimal(.microseconds(-1500), scale: 1000) == "-1.500")
    }
}

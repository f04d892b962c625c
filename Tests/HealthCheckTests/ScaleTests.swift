import DNSWire
import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import HealthCheck

/// 10,000 targets at a 1 s interval for a few seconds: schedule drift and throughput. Off by
/// default (it loads both cores); `HEALTHCHECK_SCALE=1 swift test --filter ScaleTests`.
@Suite struct ScaleTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HEALTHCHECK_SCALE"] == "1"))
    func tenThousandTargetsAtOneSecond() async throws {
        let listener = try await CountingListener.start()
        let timing = ProbeTiming(interval: .seconds(1), timeout: .milliseconds(500), failureThreshold: 3)
        // Half to a listener (distinct timeouts make distinct targets), half to ports nothing listens on.
        var targets = Set<ProbeTarget>()
        let env = ProcessInfo.processInfo.environment
        let listening = Int(env["HEALTHCHECK_SCALE_LISTENING"] ?? "5000")!, refused = Int(env["HEALTHCHECK_SCALE_REFUSED"] ?? "5000")!
        for i in 0..<listening {
            targets.insert(ProbeTarget(address: IPAddress("127.0.0.1")!, port: listener.port,
                                       timing: ProbeTiming(interval: .seconds(1), timeout: .milliseconds(500 + i))))
        }
        for i in 0..<refused { targets.insert(loopback(UInt16(40000 + i), timing: timing)) }
        try await withChecker(HealthCheckerConfiguration(seed: 1)) { checker, _ in
            let clock = ContinuousClock()
            let start = clock.now
            await checker.setTargets(targets)
            print("HealthCheck scale: setTargets(10000) took \(clock.now - start)")
            try await Task.sleep(for: .seconds(5))
            let m = await checker.metrics()
            print("HealthCheck scale: \(m.probes.total) probes in 5 s (success \(m.probes.success), refused \(m.probes.refused), other \(m.probes.other), skipped \(m.probes.skippedOverlap)); drift max \(m.scheduleDrift.max), buckets \(m.scheduleDrift.counts); latency max \(m.latency.max), buckets \(m.latency.counts); up \(m.targetsUp) down \(m.targetsDown) unknown \(m.targetsUnknown); listener saw \(listener.connects)")
            #expect(m.probes.total >= (listening + refused) * 4)
        }
        try await listener.stop()
    }
}

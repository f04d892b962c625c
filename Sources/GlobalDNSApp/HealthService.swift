import GSLB
import HealthCheck
import Reconciler
import ServiceLifecycle

/// The reconciler's view of the health checker: which (address, port, healthCheck) to probe.
/// Keeps the mapping from probes back to the reconciler's keys for the verdicts.
actor ProbeRegistry: TargetProber {
    let checker: HealthChecker
    private var keys: [ProbeTarget: HealthKey] = [:]

    init(checker: HealthChecker) { self.checker = checker }

    static func target(_ key: HealthKey) -> ProbeTarget {
        let c = key.check
        return ProbeTarget(address: key.address, port: key.port,
                           timing: ProbeTiming(interval: .seconds(c.intervalSeconds), timeout: .seconds(c.timeoutSeconds),
                                               initialDelay: .seconds(c.initialDelaySeconds),
                                               failureThreshold: c.failureThreshold, successThreshold: c.successThreshold))
    }

    func setTargets(_ targets: Set<HealthKey>) async {
        var map: [ProbeTarget: HealthKey] = [:]
        for k in targets { map[Self.target(k)] = k }
        keys = map
        await checker.setTargets(Set(map.keys))
    }

    func key(for target: ProbeTarget) -> HealthKey? { keys[target] }
}

/// Runs the health checker and hands every verdict change to the reconciler, which re-compiles
/// the names using that probe (probing stays apart from answering: STYLE item 12).
struct HealthService: Service {
    let checker: HealthChecker
    let registry: ProbeRegistry
    let reconciler: Reconciler

    func run() async throws {
        let checker = checker
        let registry = registry
        let reconciler = reconciler
        try await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await checker.run() }
                group.addTask {
                    for await t in checker.transitions {
                        guard let key = await registry.key(for: t.target) else { continue }
                        let h = t.health
                        await reconciler.healthChanged(key, HealthReport(
                            healthy: h.isHealthy, lastTransitionTime: h.lastTransition?.rfc3339,
                            lastError: h.isHealthy ? nil : h.lastError?.message))
                    }
                }
            }
        }
    }
}

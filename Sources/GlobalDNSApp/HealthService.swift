import DNSWire
import GSLB
import HealthCheck
import Reconciler
import ServiceLifecycle

/// The reconciler's view of the health checker: which (address, port, healthCheck) to probe.
/// Keeps the mapping from probes back to the reconciler's keys for the verdicts.
actor ProbeRegistry: TargetProber {
    let checker: HealthChecker
    let defaults: HealthCheckDefaults
    private var keys: [ProbeTarget: HealthKey] = [:]

    init(checker: HealthChecker, defaults: HealthCheckDefaults) {
        self.checker = checker
        self.defaults = defaults
    }

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

    /// What the reconciler calls: O(changed probes), never a rebuild of every probe (at 100,000
    /// probes applied one NameService at a time, the rebuilds were the memory).
    func updateTargets(adding added: Set<HealthKey>, removing removed: Set<HealthKey>, all: Set<HealthKey>) async {
        var stops: [ProbeTarget] = []
        stops.reserveCapacity(removed.count)
        for k in removed {
            let t = Self.target(k)
            keys[t] = nil
            stops.append(t)
        }
        var starts: [ProbeTarget] = []
        starts.reserveCapacity(added.count)
        for k in added {
            let t = Self.target(k)
            keys[t] = k
            starts.append(t)
        }
        await checker.updateTargets(adding: starts, removing: stops)
    }

    func key(for target: ProbeTarget) -> HealthKey? { keys[target] }

    /// `items` with this replica's last probe time and connect latency filled into the status of
    /// every probed target address (`APIConfiguration.liveStatus`). One hop to the checker per call.
    func withLiveProbes(_ items: [NameService]) async -> [NameService] {
        guard items.contains(where: { $0.spec.healthCheck != nil && !($0.status?.targets.isEmpty ?? true) }) else { return items }
        let all = await checker.allHealth()
        return items.map { ns in
            guard let check = ns.spec.healthCheck?.resolved(defaults), let port = UInt16(exactly: check.port),
                  var status = ns.status else { return ns }
            for i in status.targets.indices {
                guard let address = IPAddress(status.targets[i].address),
                      let health = all[Self.target(HealthKey(address: address, port: port, check: check))] else { continue }
                status.targets[i].lastProbeTime = health.lastProbe?.rfc3339
                status.targets[i].lastProbeLatencyMilliseconds = health.lastLatency.map { Self.milliseconds($0) }
            }
            var ns = ns
            ns.status = status
            return ns
        }
    }

    /// Milliseconds with microsecond precision: `0.213`.
    static func milliseconds(_ d: Duration) -> Double {
        let (seconds, atto) = d.components
        return (Double(seconds) * 1_000_000 + Double(atto / 1_000_000_000_000)).rounded() / 1000
    }
}

/// Runs the health checker and hands every verdict change to the reconciler, which re-compiles
/// the names using that probe (probing stays apart from answering, as in gdnsd).
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

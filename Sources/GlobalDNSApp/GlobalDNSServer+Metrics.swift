import DNSServer
import HealthCheck
import Metrics
import NameServiceStore
import Prometheus
import Reconciler

/// The server's metrics wiring (`metrics.enabled`): the store timed, the exporter fed by the DNS
/// listeners, the health checker and the reconciler, and swift-metrics pointed at the same
/// registry.
extension GlobalDNSServer {
    /// Routes swift-metrics — `Counter(label:)`, `Timer(label:)` … in this server or a library it
    /// links — into the registry behind `/metrics`. Once per process (the command calls it before
    /// `run`); nothing when metrics are off.
    public func bootstrapMetricsSystem() {
        guard configuration.metrics.enabled else { return }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metricsRegistry))
    }

    /// The store the API and the reconciler use: timed into the registry when metrics are on.
    func instrumented(_ store: any NameServiceStore) -> any NameServiceStore {
        configuration.metrics.enabled ? TimedNameServiceStore(store, registry: metricsRegistry) : store
    }

    /// What `/metrics` serves, or nil (404) when metrics are off.
    func makeMetricsEndpoint(dns: DNSServerService, checker: HealthChecker,
                             reconciler: Reconciler) async -> (@Sendable () async -> String)? {
        guard configuration.metrics.enabled else { return nil }
        let exporter = MetricsExporter(registry: metricsRegistry,
                                       sources: .server(dns: dns, checker: checker, reconciler: reconciler, holder: holder))
        await reconciler.observePublications { exporter.recordPublication($0) }
        return { await exporter.scrape() }
    }
}

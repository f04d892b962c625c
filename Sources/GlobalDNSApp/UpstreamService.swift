import DNSWire
import Logging
import NIOCore
import Reconciler
import ServiceLifecycle
import TargetResolution

/// The reconciler's view of the tracker: which names to keep resolved.
struct TrackedNames: ExternalNameResolver {
    let tracker: ResolutionTracker

    func setNames(_ names: Set<DNSName>) async {
        await tracker.setNames(names)
    }
}

/// Keeps the target FQDNs outside the served zones resolved through `upstream.resolvers`: the
/// reconciler says which names (`TrackedNames`), the tracker resolves and re-resolves them, and
/// every change goes back to the reconciler, which re-compiles the names using them.
struct UpstreamService: Service {
    let tracker: ResolutionTracker
    let reconciler: Reconciler

    func run() async throws {
        let tracker = tracker
        let reconciler = reconciler
        try await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                // run() returns when cancelled, which also finishes `updates`.
                group.addTask { await tracker.run() }
                group.addTask {
                    for await update in tracker.updates {
                        switch update.result {
                        case .success(let resolved):
                            await reconciler.resolved(update.name, .success(resolved.addresses))
                        case .failure(let error):
                            await reconciler.resolved(update.name, .failure(UpstreamFailure(error.message)))
                        }
                    }
                }
            }
        }
    }
}

extension GlobalDNSConfiguration.Upstream {
    /// The resolver configuration; nil when no resolvers are configured.
    func resolverConfiguration() throws(ConfigurationError) -> UpstreamConfiguration? {
        guard !resolvers.isEmpty else { return nil }
        var servers: [SocketAddress] = []
        for (i, r) in resolvers.enumerated() {
            servers.append(try parseResolverAddress(r, keyPath: "upstream.resolvers[\(i)]"))
        }
        func duration(_ s: Double) -> Duration { .nanoseconds(Int64(s * 1e9)) }
        return UpstreamConfiguration(servers: servers, timeout: duration(timeoutSeconds), attempts: attempts,
                                     minRefresh: duration(minRefreshSeconds), maxRefresh: duration(maxRefreshSeconds),
                                     retryAfterFailure: duration(retryAfterFailureSeconds))
    }
}

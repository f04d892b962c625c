import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The components that have failed while the server runs, by name, with why (for `/readyz`).
public final class ComponentFailures: Sendable {
    private let failures = NIOLockedValueBox<[String: String]>([:])

    public init() {}

    public func record(_ component: String, _ reason: String) {
        failures.withLockedValue { $0[component] = reason }
    }

    /// `component: reason`, sorted by component; empty while everything runs.
    public var all: [String] {
        failures.withLockedValue { $0.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" } }
    }
}

/// A failure of a component under `lifecycle.onComponentFailure: exit`: the server stops
/// gracefully and exits with code 3.
public struct ComponentFailure: Error, CustomStringConvertible {
    public let component: String
    public let reason: String
    public var description: String { "component \(component) failed: \(reason)" }
}

/// Runs one component of the server (the API listener, the health checker, upstream resolution,
/// the SIGHUP reloader, and the store watch, which retries store failures itself and so only
/// ends on a bug) and applies `lifecycle.onComponentFailure` when it
/// throws, or returns before graceful shutdown began:
/// - `keepServing`: log the failure, record it (`/readyz` then answers 503 naming it) and wait
///   for the server's graceful shutdown, so the `ServiceGroup` and the DNS path carry on.
/// - `exit`: log the failure and throw `ComponentFailure`; the group is configured to shut down
///   gracefully on it (TCP connections drain) and `run()` ends with that error.
struct Supervised: Service {
    let component: String
    let service: any Service
    let policy: ComponentFailurePolicy
    let failures: ComponentFailures
    let logger: Logger

    /// The group entry: a failure shuts the group down gracefully (only `exit` ever throws).
    var configuration: ServiceGroupConfiguration.ServiceConfiguration {
        .init(service: self, failureTerminationBehavior: .gracefullyShutdownGroup)
    }

    func run() async throws {
        let reason: String
        do {
            try await service.run()
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            reason = "stopped unexpectedly"
        } catch {
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            reason = "\(error)"
        }
        failures.record(component, reason)
        switch policy {
        case .keepServing:
            logger.error("component failed; DNS keeps answering from the last plan and /readyz reports not ready",
                         metadata: ["component": "\(component)", "error": "\(reason)",
                                    "policy": "\(ComponentFailurePolicy.keepServing)"])
            try? await gracefulShutdown()
        case .exit:
            logger.error("component failed; stopping (drain, then exit 3)",
                         metadata: ["component": "\(component)", "error": "\(reason)",
                                    "policy": "\(ComponentFailurePolicy.exit)"])
            throw ComponentFailure(component: component, reason: reason)
        }
    }
}

extension Supervised: CustomStringConvertible {
    var description: String { component }
}

import GSLB
import NameServiceStore
import Prometheus

/// A `NameServiceStore` that times every call of the store it wraps into
/// `globaldns_store_operation_duration_seconds{operation}` and counts failures into
/// `globaldns_store_errors_total{operation,code}`. The API and the reconciler are handed this
/// one, so their store latency is measured where it is spent, off the query path. `watch` is a
/// stream and is passed through untimed.
struct TimedNameServiceStore: NameServiceStore {
    enum Operation: String, CaseIterable {
        case get, list, put, updateStatus = "update_status", updateDrains = "update_drains", delete, revision
        case listPage = "list_page", updateStatuses = "update_statuses"
    }

    static var duration: MetricNameDescriptor {
        .globaldns("store_operation_duration", unit: "seconds",
                   help: "Time of NameService store calls made by the API and the reconciler, by operation.")
    }
    static var errors: MetricNameDescriptor {
        .globaldns("store_errors", unit: "total",
                   help: "NameService store calls that failed, by operation and error code.")
    }
    /// Stored NameServices found unreadable; the SQLite store reports them (`GlobalDNSServer.openStore`).
    static var damagedObjects: MetricNameDescriptor {
        .globaldns("store_damaged_objects", unit: "total",
                   help: "Stored NameServices found unreadable (at start-up or on a read); they are not served.")
    }
    static let buckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
    ]

    let base: any NameServiceStore
    let registry: PrometheusCollectorRegistry
    private let durations: [Operation: DurationHistogram]

    init(_ base: any NameServiceStore, registry: PrometheusCollectorRegistry) {
        self.base = base
        self.registry = registry
        var durations: [Operation: DurationHistogram] = [:]
        for op in Operation.allCases {
            durations[op] = registry.makeDurationHistogram(descriptor: Self.duration, labels: [("operation", op.rawValue)],
                                                           buckets: Self.buckets)
        }
        self.durations = durations
        _ = registry.makeCounter(descriptor: Self.damagedObjects)  // shown at 0 until a report
    }

    private func timed<T>(_ op: Operation, _ body: () async throws(StoreError) -> T) async throws(StoreError) -> T {
        let start = ContinuousClock.now
        do {
            let result = try await body()
            durations[op]!.record(ContinuousClock.now - start)
            return result
        } catch {
            durations[op]!.record(ContinuousClock.now - start)
            registry.makeCounter(descriptor: Self.errors, labels: [("operation", op.rawValue), ("code", error.code.description)])
                .increment()
            throw error
        }
    }

    func get(_ name: String) async throws(StoreError) -> NameService? {
        try await timed(.get) { () async throws(StoreError) in try await base.get(name) }
    }

    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) {
        try await timed(.list) { () async throws(StoreError) in try await base.list(selector: selector) }
    }

    func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage {
        try await timed(.listPage) { () async throws(StoreError) in try await base.listPage(options) }
    }

    /// Forwarded (so the wrapped store's own batching is used); failures are counted per update.
    func updateStatuses(_ updates: [StatusUpdate]) async -> [Result<NameService, StoreError>] {
        let start = ContinuousClock.now
        let results = await base.updateStatuses(updates)
        durations[.updateStatuses]!.record(ContinuousClock.now - start)
        for case .failure(let error) in results {
            registry.makeCounter(descriptor: Self.errors, labels: [("operation", Operation.updateStatuses.rawValue), ("code", error.code.description)])
                .increment()
        }
        return results
    }

    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService {
        try await timed(.put) { () async throws(StoreError) in try await base.put(nameService, ifVersion: ifVersion) }
    }

    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await timed(.updateStatus) { () async throws(StoreError) in
            try await base.updateStatus(name, status: status, ifGeneration: ifGeneration)
        }
    }

    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await timed(.updateDrains) { () async throws(StoreError) in
            try await base.updateDrains(name, drains: drains, ifVersion: ifVersion)
        }
    }

    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService {
        try await timed(.delete) { () async throws(StoreError) in try await base.delete(name, ifVersion: ifVersion) }
    }

    func revision() async throws(StoreError) -> Int64 {
        try await timed(.revision) { () async throws(StoreError) in try await base.revision() }
    }

    func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        base.watch(fromRevision: fromRevision)
    }
}

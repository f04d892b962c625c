import DNSServer
import DNSZone
import GSLB
import Logging
import NameServiceStore
import NameServiceStoreTesting
import Reconciler
import Synchronization
import Testing

/// The in-memory store, whose first `failures` lists fail as an unreachable store does.
final class FlakyStore: NameServiceStore {
    let inner = InMemoryNameServiceStore()
    private let failuresLeft: Mutex<Int>

    init(failures: Int) { failuresLeft = Mutex(failures) }

    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) {
        let fail = failuresLeft.withLock { n -> Bool in
            defer { n -= 1 }
            return n > 0
        }
        if fail { throw StoreError(.unavailable, "the store is unreachable") }
        return try await inner.list(selector: selector)
    }

    func get(_ name: String) async throws(StoreError) -> NameService? { try await inner.get(name) }
    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService {
        try await inner.put(nameService, ifVersion: ifVersion)
    }
    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await inner.updateStatus(name, status: status, ifGeneration: ifGeneration)
    }
    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await inner.updateDrains(name, drains: drains, ifVersion: ifVersion)
    }
    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService {
        try await inner.delete(name, ifVersion: ifVersion)
    }
    func revision() async throws(StoreError) -> Int64 { try await inner.revision() }
    func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> { inner.watch(fromRevision: fromRevision) }
}

/// What the reconciler does when the store fails: retry and say so, while the DNS path keeps the
/// last plan (restarting would not mend the store, and would lose that plan).
@Suite struct StoreFailureTests {
    static func reconciler(_ store: FlakyStore) throws -> Reconciler {
        let zones = try ReconcilerTests.zones()
        var configuration = Reconciler.Configuration()
        configuration.retryDelay = .milliseconds(20)
        return Reconciler(store: store, holder: ServingStateHolder(ServingState(zones: zones, generation: 1)), zones: zones,
                          logger: Logger(label: "test"), configuration: configuration)
    }

    @Test func failuresAreRetriedAndReportedUntilTheStoreAnswers() async throws {
        let reconciler = try Self.reconciler(FlakyStore(failures: 3))
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        var sawFailing = false
        for _ in 0..<500 where !reconciler.isReadyNow {
            sawFailing = sawFailing || reconciler.isStoreFailing
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(sawFailing, "the failing lists were never reported")
        #expect(reconciler.isReadyNow, "no plan 2.5 s after the store recovered")
        #expect(!reconciler.isStoreFailing)
    }
}

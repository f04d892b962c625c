import EtcdTestSupport
import Foundation
import GSLB
import NameServiceStore
import NameServiceStoreEtcd
import NameServiceStoreTesting
import Testing

/// The implementations every contract test runs against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// `etcd`: a real three-member etcd cluster on loopback, started once for the suite; each test
    /// gets its own key prefix and the etcd tests run one at a time (etcd's revision is
    /// cluster-wide, so the tests read revisions relative to the one they started at).
    case sqlite, memory, etcd
    var testDescription: String { rawValue }
}

/// The store revision when the current test's store was created (0 but on the shared etcd).
enum StoreBase {
    @TaskLocal static var revision: Int64 = 0
}

/// The revision `n` writes into the current test.
func rev(_ n: Int64) -> Int64 { StoreBase.revision + n }
/// The same as a resourceVersion.
func rv(_ n: Int64) -> String { String(rev(n)) }
func revs(_ ns: Int64...) -> [Int64] { ns.map(rev) }
func revs(_ ns: ClosedRange<Int64>) -> [Int64] { ns.map(rev) }

/// Drops events so that only the last `count` revisions can be watched: the SQLite and in-memory
/// stores did it already (their `eventHistoryLimit`); etcd compacts when told to.
func compactHistory(_ store: any NameServiceStore, keepingLast count: Int64) async throws {
    guard let etcd = store as? EtcdNameServiceStore else { return }
    try await etcd.compact(through: try await etcd.revision() - count + 1)
}

/// The one etcd cluster of the contract suite, started on first use; etcd tests take turns.
actor SharedEtcd {
    static let shared = SharedEtcd()
    private var cluster: EtcdCluster?
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async throws -> EtcdCluster {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        }
        busy = true
        if let cluster { return cluster }
        do {
            let started = try await EtcdCluster(members: 3)
            cluster = started
            return started
        } catch {
            release()
            throw error
        }
    }

    func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}

/// A fresh temporary directory, removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("nsstore-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer {
        do { try FileManager.default.removeItem(at: dir) } catch { Issue.record("cannot remove \(dir.path): \(error)") }
    }
    return try await body(dir.path)
}

/// A fresh store of `kind` in its own temporary directory.
func withStore<T>(_ kind: StoreKind, eventHistoryLimit: Int = 10_000,
                  _ body: (any NameServiceStore) async throws -> T) async throws -> T {
    try await withTemporaryDirectory { dir in
        switch kind {
        case .sqlite:
            let store = try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir),
                                                   eventHistoryLimit: eventHistoryLimit)
            let result = try await body(store)
            await store.close()
            return result
        case .memory:
            return try await body(InMemoryNameServiceStore(eventHistoryLimit: eventHistoryLimit))
        case .etcd:
            let cluster = try await SharedEtcd.shared.acquire()
            do {
                let store = try EtcdNameServiceStore(configuration: EtcdConfiguration(
                    endpoints: cluster.endpoints, prefix: "/contract-\(UUID().uuidString.prefix(8))/"))
                let base = try await store.revision()
                let result = try await StoreBase.$revision.withValue(base) { try await body(store) }
                store.close()
                await SharedEtcd.shared.release()
                return result
            } catch {
                await SharedEtcd.shared.release()
                throw error
            }
        }
    }
}

func nameService(_ name: String, fqdn: String? = nil, labels: [String: String] = [:],
                 addresses: [String] = ["192.0.2.1"], ttl: Int = 30) -> NameService {
    NameService(metadata: ObjectMeta(name: name, labels: labels),
                spec: NameServiceSpec(fqdn: fqdn ?? "\(name).g.example.com", ttl: ttl,
                                      targets: [Target(name: "t1", addresses: addresses)]))
}

func status(_ reason: String, generation: Int64) -> NameServiceStatus {
    NameServiceStatus(observedGeneration: generation, conditions: [
        Condition(type: .accepted, status: .true, reason: ConditionReason(rawValue: reason), message: "m",
                  lastTransitionTime: "2025-01-31T12:00:00Z", observedGeneration: generation),
    ], targets: [TargetStatus(name: "t1", address: "192.0.2.1", healthy: true)])
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing with `TimedOut` after `seconds`.
func withTimeout<T: Sendable>(_ seconds: Double = 10, _ what: String,
                              _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut(what: what)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw TimedOut(what: what) }
        return first
    }
}

/// The first `count` events of `stream`, within `seconds`.
func collect(_ stream: AsyncThrowingStream<StoreEvent, any Error>, count: Int,
             seconds: Double = 10) async throws -> [StoreEvent] {
    try await withTimeout(seconds, "\(count) watch events") {
        var events: [StoreEvent] = []
        for try await e in stream {
            events.append(e)
            if events.count == count { break }
        }
        return events
    }
}

/// The error `stream` ends with, within `seconds` (nil when it ends normally).
func failure(of stream: AsyncThrowingStream<StoreEvent, any Error>, seconds: Double = 10) async throws -> StoreError? {
    try await withTimeout(seconds, "the watch to fail") {
        do {
            for try await _ in stream {}
            return nil
        } catch let e as StoreError {
            return e
        }
    }
}

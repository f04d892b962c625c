import Foundation
import GSLB
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// The implementations every contract test runs against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, memory
    var testDescription: String { rawValue }
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

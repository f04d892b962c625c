import Foundation
import GSLB
import NameServiceStore

/// A `NameServiceStore` in memory with the semantics of `SQLiteNameServiceStore` (the same write
/// rules, revisions, watch replay and compaction) but no durability: for unit tests of the API
/// and the reconciler only.
public actor InMemoryNameServiceStore: NameServiceStore {
    public nonisolated var eventHistoryLimit: Int { history.maxEvents }
    public nonisolated let history: EventHistoryLimits
    private var objects: [String: NameService] = [:]
    private var currentRevision: Int64 = 0
    /// The bounded history watches pull from (shared with the SQLite store: the same replay,
    /// compaction and bounds; events sized by their JSON, as the SQLite store sizes them).
    private nonisolated let watchers: WatchRegistry
    private let encoder: JSONEncoder

    public init(eventHistoryLimit: Int = EventHistoryLimits.defaultMaxEvents) {
        self.init(history: EventHistoryLimits(maxEvents: eventHistoryLimit))
    }

    public init(history: EventHistoryLimits) {
        precondition(history.problem == nil, history.problem ?? "")
        self.history = history
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        self.encoder = encoder
        watchers = WatchRegistry(revision: 0, limits: history, what: "the in-memory store") { json, kind, revision throws(StoreError) in
            do {
                var object = try JSONDecoder().decode(NameService.self, from: Data(json))
                object.metadata.resourceVersion = String(revision)
                return StoreEvent(kind: kind, object: object, revision: revision)
            } catch {
                throw StoreError(.corrupt, "event \(revision) does not decode: \(error)")
            }
        }
    }

    deinit {
        watchers.close(StoreError(.unavailable, "the in-memory store was released"))
    }

    public func get(_ name: String) -> NameService? {
        objects[name]
    }

    public func list(selector: LabelSelector?) -> (items: [NameService], revision: Int64) {
        let items = objects.values
            .filter { selector?.matches($0.metadata.labels) ?? true }
            .sorted { $0.metadata.name < $1.metadata.name }
        return (items, currentRevision)
    }

    public func revision() -> Int64 {
        currentRevision
    }

    public func put(_ nameService: NameService, ifVersion: String?) throws(StoreError) -> NameService {
        let existing = objects[nameService.metadata.name]
        guard let object = try StoreRules.applyPut(nameService, to: existing, ifVersion: ifVersion) else {
            return existing!  // applyPut returns nil only over an existing object
        }
        return try commit(existing == nil ? .added : .modified, object)
    }

    public func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) throws(StoreError) -> NameService {
        let existing = objects[name]
        guard let object = try StoreRules.applyStatus(status, name: name, to: existing, ifGeneration: ifGeneration) else {
            return existing!  // applyStatus returns nil only over an existing object
        }
        return try commit(.modified, object)
    }

    public func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) throws(StoreError) -> NameService {
        let existing = objects[name]
        guard let object = try StoreRules.applyDrains(drains, name: name, to: existing, ifVersion: ifVersion) else {
            return existing!  // applyDrains returns nil only over an existing object
        }
        return try commit(.modified, object)
    }

    public func delete(_ name: String, ifVersion: String?) throws(StoreError) -> NameService {
        let object = try StoreRules.checkDelete(name: name, existing: objects[name], ifVersion: ifVersion)
        return try commit(.deleted, object)
    }

    private func commit(_ kind: StoreEvent.Kind, _ object: NameService) throws(StoreError) -> NameService {
        var object = object
        object.metadata.resourceVersion = String(currentRevision + 1)
        let json: [UInt8]
        do {
            json = Array(try encoder.encode(object))
        } catch {
            throw StoreError(.invalid, "NameService \(object.metadata.name) does not encode as JSON: \(error)")
        }
        currentRevision += 1
        objects[object.metadata.name] = kind == .deleted ? nil : object
        // The event as a value (a JSON round trip would round WallTimes); the JSON sizes it.
        watchers.append(revision: currentRevision, kind: kind, json: json,
                        event: StoreEvent(kind: kind, object: object, revision: currentRevision))
        return object
    }

    /// Pulls from the bounded history (see `WatchRegistry`).
    public nonisolated func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        watchers.stream(from: fromRevision)
    }

    /// How many watch streams are open (for tests: a dropped stream must not stay registered).
    package nonisolated func liveWatchCount() -> Int {
        watchers.openStreams
    }

    /// The events and bytes the watch history holds now.
    public nonisolated var historyUsage: (events: Int, bytes: Int) { watchers.usage }
}

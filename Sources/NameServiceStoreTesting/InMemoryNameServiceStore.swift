import GSLB
import NameServiceStore

/// A `NameServiceStore` in memory with the semantics of `SQLiteNameServiceStore` (the same write
/// rules, revisions, watch replay and compaction) but no durability: for unit tests of the API
/// and the reconciler only.
public actor InMemoryNameServiceStore: NameServiceStore {
    public let eventHistoryLimit: Int
    private var objects: [String: NameService] = [:]
    /// The last `eventHistoryLimit` events, oldest first; contiguous up to `currentRevision`.
    private var events: [StoreEvent] = []
    private var currentRevision: Int64 = 0
    private var watchers = WatchRegistry()

    public init(eventHistoryLimit: Int = 10_000) {
        precondition(eventHistoryLimit >= 1, "eventHistoryLimit must be at least 1")
        self.eventHistoryLimit = eventHistoryLimit
    }

    deinit {
        watchers.finishAll(throwing: StoreError(.unavailable, "the in-memory store was released"))
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
        return commit(existing == nil ? .added : .modified, object)
    }

    public func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) throws(StoreError) -> NameService {
        let existing = objects[name]
        guard let object = try StoreRules.applyStatus(status, name: name, to: existing, ifGeneration: ifGeneration) else {
            return existing!  // applyStatus returns nil only over an existing object
        }
        return commit(.modified, object)
    }

    public func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) throws(StoreError) -> NameService {
        let existing = objects[name]
        guard let object = try StoreRules.applyDrains(drains, name: name, to: existing, ifVersion: ifVersion) else {
            return existing!  // applyDrains returns nil only over an existing object
        }
        return commit(.modified, object)
    }

    public func delete(_ name: String, ifVersion: String?) throws(StoreError) -> NameService {
        let object = try StoreRules.checkDelete(name: name, existing: objects[name], ifVersion: ifVersion)
        return commit(.deleted, object)
    }

    private func commit(_ kind: StoreEvent.Kind, _ object: NameService) -> NameService {
        currentRevision += 1
        var object = object
        object.metadata.resourceVersion = String(currentRevision)
        objects[object.metadata.name] = kind == .deleted ? nil : object
        let event = StoreEvent(kind: kind, object: object, revision: currentRevision)
        events.append(event)
        if events.count > eventHistoryLimit { events.removeFirst(events.count - eventHistoryLimit) }
        watchers.publish(event)
        return object
    }

    public nonisolated func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: StoreEvent.self, throwing: (any Error).self)
        let id = WatchID()
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            Task { await self.stopWatching(id) }
        }
        Task { await self.startWatching(id, from: fromRevision, continuation) }
        return stream
    }

    private func startWatching(_ id: WatchID, from: Int64, _ continuation: WatchRegistry.Continuation) {
        let compactedThrough = events.first.map { $0.revision - 1 } ?? currentRevision
        if let error = StoreRules.compactedError(fromRevision: from, compactedThrough: compactedThrough) {
            continuation.finish(throwing: error)
            return
        }
        for event in events where event.revision > from {
            if case .terminated = continuation.yield(event) { return }
        }
        watchers.add(id, continuation, deliveredThrough: max(from, currentRevision))
    }

    private func stopWatching(_ id: WatchID) {
        watchers.remove(id)
    }

    /// How many watch streams are registered for live events (for tests: a dropped stream must
    /// not stay registered).
    package func liveWatchCount() -> Int {
        watchers.count
    }
}

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
    /// Every change the history still holds: its revision, the name, and the object it replaced
    /// (nil for a creation), so a paged list is served at its first page's revision.
    private var changes: [(revision: Int64, name: String, prev: NameService?)] = []

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
                var object = try NameService.decodeStored(json, decoder: JSONDecoder())
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

    /// Pages with the SQLite store's semantics: sorted by name, every page at the first page's
    /// revision (names changed since served as they were), `.expired` once the history no longer
    /// reaches back to it, `.invalid` for a token this store did not make.
    public func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage {
        if let limit = options.limit, limit < 0 { throw StoreError(.invalid, "limit must not be negative, not \(limit)") }
        var at = currentRevision
        var after: String?
        if let token = options.continueToken, !token.isEmpty {
            let decoded = try ContinueToken.decode(token, current: currentRevision)
            at = decoded.revision
            after = decoded.after
        }
        trimChanges()
        var asOf = objects
        if at < currentRevision {
            guard let oldest = changes.first?.revision, oldest <= at + 1 else {
                throw StoreError.expiredToken(revision: at, oldest: changes.first?.revision)
            }
            var seen = Set<String>()
            for c in changes where c.revision > at && seen.insert(c.name).inserted {
                asOf[c.name] = c.prev
            }
        }
        let matching = asOf.values
            .filter { ns in (after.map { nameOrder($0, ns.metadata.name) } ?? true) && (options.selector?.matches(ns.metadata.labels) ?? true) }
            .sorted { nameOrder($0.metadata.name, $1.metadata.name) }
        guard let limit = options.limit, limit > 0, matching.count > limit else {
            return ListPage(items: matching, revision: at)
        }
        let page = Array(matching.prefix(limit))
        return ListPage(items: page, revision: at,
                        continueToken: ContinueToken.encode(revision: at, after: page[page.count - 1].metadata.name),
                        remainingItemCount: matching.count - limit)
    }

    /// Drops the changes the watch history no longer holds.
    private func trimChanges() {
        let through = watchers.compactedThrough()
        if let i = changes.firstIndex(where: { $0.revision > through }) {
            if i > 0 { changes.removeFirst(i) }
        } else {
            changes = []
        }
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
        if kind == .added { object.metadata.creationRevision = currentRevision + 1 }
        let json: [UInt8]
        do {
            json = Array(try encoder.encode(object))
        } catch {
            throw StoreError(.invalid, "NameService \(object.metadata.name) does not encode as JSON: \(error)")
        }
        currentRevision += 1
        changes.append((currentRevision, object.metadata.name, objects[object.metadata.name]))
        objects[object.metadata.name] = kind == .deleted ? nil : object
        // The event as a value (a JSON round trip would round WallTimes); the JSON sizes it.
        watchers.append(revision: currentRevision, kind: kind, json: json,
                        event: StoreEvent(kind: kind, object: object, revision: currentRevision))
        if changes.count > 2 * history.maxEvents { trimChanges() }
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

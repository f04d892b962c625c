import Foundation
import GSLB

/// `NameServiceStore` on one SQLite file (conventionally `<state dir>/nameservices.db`, see
/// `databasePath(stateDirectory:)`).
///
/// - Durable: WAL journal with `synchronous=FULL`, so every commit is fsynced before the call
///   returns; a write that returned survives kill -9 and power loss.
/// - One transaction per write: read the current revision, store the object, append the event,
///   bump the revision, drop events older than the last `eventHistoryLimit`.
/// - Serialized: an actor whose jobs run on a private serial queue (not the cooperative pool); the
///   SQLite handle is used from there only.
/// - One process should own the file: another process's writes are durable and visible to reads,
///   lists and watch replays, but live watch events come only from writes made through this
///   instance.
///
/// Schema (`PRAGMA user_version = 1`):
/// `objects(name PRIMARY KEY, json, revision, generation)` — the current objects as JSON (sorted keys);
/// `events(revision PRIMARY KEY, kind, name, json)` — the change history for watch;
/// `meta(key PRIMARY KEY, value)` — `revision`, the current store revision.
public actor SQLiteNameServiceStore: NameServiceStore {
    /// The file name inside the state directory.
    public static let fileName = "nameservices.db"
    /// Events kept for watch resumption unless told otherwise.
    public static let defaultEventHistoryLimit = 10_000
    static let schemaVersion: Int64 = 1

    /// `<stateDirectory>/nameservices.db`.
    public static func databasePath(stateDirectory: String) -> String {
        URL(fileURLWithPath: stateDirectory).appendingPathComponent(fileName).path
    }

    public let path: String
    public let eventHistoryLimit: Int

    private let executor: SerialQueueExecutor
    private var connection: SQLiteConnection?
    private var watchers = WatchRegistry()
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Opens the database at `path`, creating the file and the schema when missing. The directory
    /// must exist. `eventHistoryLimit` (at least 1) is how many of the latest events watch can
    /// replay; older ones are deleted as new ones are written.
    public init(path: String, eventHistoryLimit: Int = SQLiteNameServiceStore.defaultEventHistoryLimit) throws(StoreError) {
        guard eventHistoryLimit >= 1 else {
            throw StoreError(.invalid, "eventHistoryLimit must be at least 1, not \(eventHistoryLimit)")
        }
        self.path = path
        self.eventHistoryLimit = eventHistoryLimit
        executor = SerialQueueExecutor(label: "globaldns.nameservicestore")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.encoder = encoder
        let db = try SQLiteConnection(path: path)
        try Self.prepare(db)
        connection = db
    }

    /// Sets durability and creates the schema.
    private static func prepare(_ db: SQLiteConnection) throws(StoreError) {
        let mode = try db.text("PRAGMA journal_mode=WAL")
        guard mode?.lowercased() == "wal" else {
            throw StoreError(.unavailable, "\(db.path): SQLite refused WAL mode (journal_mode is \(mode ?? "unknown")); is the file system local?")
        }
        try db.exec("PRAGMA synchronous=FULL")
        let sync = try db.integer("PRAGMA synchronous")
        guard sync == 2 else {  // FULL
            throw StoreError(.unavailable, "\(db.path): SQLite did not accept synchronous=FULL (it is \(sync.map(String.init) ?? "unknown"))")
        }
        let version = try db.integer("PRAGMA user_version") ?? 0
        guard version <= schemaVersion else {
            throw StoreError(.unavailable, "\(db.path) has schema version \(version); this server reads up to \(schemaVersion)")
        }
        try db.transaction { () throws(StoreError) in
            try db.exec("""
                CREATE TABLE IF NOT EXISTS objects(name TEXT PRIMARY KEY NOT NULL, json TEXT NOT NULL,
                                                   revision INTEGER NOT NULL, generation INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS events(revision INTEGER PRIMARY KEY NOT NULL, kind TEXT NOT NULL,
                                                  name TEXT NOT NULL, json TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO meta(key, value) VALUES('revision', 0);
                PRAGMA user_version = \(schemaVersion);
                """)
        }
    }

    /// Closes the database and ends every watch stream with `.unavailable`; later calls fail with
    /// `.unavailable`. Dropping the store without closing is also safe (every write is committed).
    public func close() {
        watchers.finishAll(throwing: StoreError(.unavailable, "the store at \(path) was closed"))
        connection?.close()
        connection = nil
    }

    deinit {
        watchers.finishAll(throwing: StoreError(.unavailable, "the store at \(path) was released"))
    }

    private func db() throws(StoreError) -> SQLiteConnection {
        guard let connection else { throw StoreError(.unavailable, "the store at \(path) is closed") }
        return connection
    }

    // MARK: Reads

    public func get(_ name: String) throws(StoreError) -> NameService? {
        try load(name, from: db())
    }

    public func list(selector: LabelSelector?) throws(StoreError) -> (items: [NameService], revision: Int64) {
        let db = try db()
        var items: [NameService] = []
        try db.query("SELECT name, json, revision, generation FROM objects ORDER BY name") { row throws(StoreError) in
            let object = try decodeObject(row)
            if selector?.matches(object.metadata.labels) ?? true { items.append(object) }
        }
        return (items, try currentRevision(db))
    }

    public func revision() throws(StoreError) -> Int64 {
        try currentRevision(db())
    }

    // MARK: Writes

    public func put(_ nameService: NameService, ifVersion: String?) throws(StoreError) -> NameService {
        let db = try db()
        let name = nameService.metadata.name
        let (object, event) = try db.transaction { () throws(StoreError) -> (NameService, StoreEvent?) in
            let existing = try load(name, from: db)
            guard var object = try StoreRules.applyPut(nameService, to: existing, ifVersion: ifVersion) else {
                return (existing!, nil)  // applyPut returns nil only over an existing object
            }
            let revision = try currentRevision(db) + 1
            object.metadata.resourceVersion = String(revision)
            let event = StoreEvent(kind: existing == nil ? .added : .modified, object: object, revision: revision)
            try write(event, to: db)
            return (object, event)
        }
        if let event { watchers.publish(event) }
        return object
    }

    public func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) throws(StoreError) -> NameService {
        try modify(name) { existing throws(StoreError) in
            try StoreRules.applyStatus(status, name: name, to: existing, ifGeneration: ifGeneration)
        }
    }

    public func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) throws(StoreError) -> NameService {
        try modify(name) { existing throws(StoreError) in
            try StoreRules.applyDrains(drains, name: name, to: existing, ifVersion: ifVersion)
        }
    }

    /// One transaction for a change of one part of an existing object: `rule` returns the object
    /// to store (nil: nothing changes, a no-op without a revision or event; it throws when the
    /// object is missing, so nil means the object exists).
    private func modify(_ name: String,
                        _ rule: (NameService?) throws(StoreError) -> NameService?) throws(StoreError) -> NameService {
        let db = try db()
        let (object, event) = try db.transaction { () throws(StoreError) -> (NameService, StoreEvent?) in
            let existing = try load(name, from: db)
            guard var object = try rule(existing) else { return (existing!, nil) }
            let revision = try currentRevision(db) + 1
            object.metadata.resourceVersion = String(revision)
            let event = StoreEvent(kind: .modified, object: object, revision: revision)
            try write(event, to: db)
            return (object, event)
        }
        if let event { watchers.publish(event) }
        return object
    }

    public func delete(_ name: String, ifVersion: String?) throws(StoreError) -> NameService {
        let db = try db()
        let event = try db.transaction { () throws(StoreError) -> StoreEvent in
            var object = try StoreRules.checkDelete(name: name, existing: load(name, from: db), ifVersion: ifVersion)
            let revision = try currentRevision(db) + 1
            object.metadata.resourceVersion = String(revision)
            let event = StoreEvent(kind: .deleted, object: object, revision: revision)
            try write(event, to: db)
            return event
        }
        watchers.publish(event)
        return event.object
    }

    /// Inside the caller's transaction: applies `event` to `objects`, appends it to `events`,
    /// moves the revision to `event.revision` and compacts the history.
    private func write(_ event: StoreEvent, to db: SQLiteConnection) throws(StoreError) {
        let object = event.object
        let json = try encode(object)
        switch event.kind {
        case .added, .modified:
            try db.run("INSERT OR REPLACE INTO objects(name, json, revision, generation) VALUES(?, ?, ?, ?)",
                       [.text(object.metadata.name), .text(json), .integer(event.revision), .integer(object.metadata.generation)])
        case .deleted:
            try db.run("DELETE FROM objects WHERE name = ?", [.text(object.metadata.name)])
        }
        try db.run("INSERT INTO events(revision, kind, name, json) VALUES(?, ?, ?, ?)",
                   [.integer(event.revision), .text(event.kind.rawValue), .text(object.metadata.name), .text(json)])
        try db.run("UPDATE meta SET value = ? WHERE key = 'revision'", [.integer(event.revision)])
        try db.run("DELETE FROM events WHERE revision <= ?", [.integer(event.revision - Int64(eventHistoryLimit))])
    }

    // MARK: Watch

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

    /// Replays the stored events after `from`, then registers the watcher for live events. Runs
    /// without suspending, so no write can fall between the replay and the registration; the
    /// registry's revision check would drop a duplicate anyway.
    private func startWatching(_ id: WatchID, from: Int64, _ continuation: WatchRegistry.Continuation) {
        do throws(StoreError) {
            let db = try db()
            let through = try currentRevision(db)
            if let error = StoreRules.compactedError(fromRevision: from, compactedThrough: try compactedThrough(db, revision: through)) {
                continuation.finish(throwing: error)
                return
            }
            var delivered = from
            var ended = false
            try db.query("SELECT revision, kind, json FROM events WHERE revision > ? AND revision <= ? ORDER BY revision",
                         [.integer(from), .integer(through)]) { row throws(StoreError) in
                guard !ended else { return }
                let revision = row.integer(0)
                guard let kind = row.text(1).flatMap(StoreEvent.Kind.init(rawValue:)) else {
                    throw StoreError(.corrupt, "event \(revision) in \(path) has an unknown kind '\(row.text(1) ?? "")'")
                }
                var object = try decode(row.text(2), what: "event \(revision)")
                object.metadata.resourceVersion = String(revision)
                if case .terminated = continuation.yield(StoreEvent(kind: kind, object: object, revision: revision)) {
                    ended = true
                }
                delivered = revision
            }
            guard !ended else { return }
            watchers.add(id, continuation, deliveredThrough: max(delivered, through))
        } catch {
            continuation.finish(throwing: error)
        }
    }

    private func stopWatching(_ id: WatchID) {
        watchers.remove(id)
    }

    /// How many watch streams are registered for live events (for tests: a dropped stream must
    /// not stay registered).
    package func liveWatchCount() -> Int {
        watchers.count
    }

    // MARK: Rows and JSON

    private func currentRevision(_ db: SQLiteConnection) throws(StoreError) -> Int64 {
        guard let r = try db.integer("SELECT value FROM meta WHERE key = 'revision'") else {
            throw StoreError(.corrupt, "\(path) has no revision in its meta table")
        }
        return r
    }

    /// The highest revision whose event is gone: the history is contiguous and ends at the
    /// current revision, so everything before its first event was compacted.
    private func compactedThrough(_ db: SQLiteConnection, revision: Int64) throws(StoreError) -> Int64 {
        guard let oldest = try db.integer("SELECT MIN(revision) FROM events") else { return revision }
        return oldest - 1
    }

    private func load(_ name: String, from db: SQLiteConnection) throws(StoreError) -> NameService? {
        var result: NameService?
        try db.query("SELECT name, json, revision, generation FROM objects WHERE name = ?", [.text(name)]) { row throws(StoreError) in
            result = try decodeObject(row)
        }
        return result
    }

    /// An `objects` row; its columns are authoritative for name, revision and generation.
    private func decodeObject(_ row: SQLiteRow) throws(StoreError) -> NameService {
        let name = row.text(0) ?? ""
        var object = try decode(row.text(1), what: "object \(name)")
        guard object.metadata.name == name else {
            throw StoreError(.corrupt, "object \(name) in \(path) holds the document of '\(object.metadata.name)'")
        }
        object.metadata.resourceVersion = String(row.integer(2))
        object.metadata.generation = row.integer(3)
        return object
    }

    private func decode(_ json: String?, what: String) throws(StoreError) -> NameService {
        guard let json else { throw StoreError(.corrupt, "\(what) in \(path) has no JSON") }
        do {
            return try decoder.decode(NameService.self, from: Data(json.utf8))
        } catch {
            throw StoreError(.corrupt, "\(what) in \(path) does not decode: \(error)")
        }
    }

    private func encode(_ object: NameService) throws(StoreError) -> String {
        do {
            return String(decoding: try encoder.encode(object), as: UTF8.self)
        } catch {
            throw StoreError(.invalid, "NameService \(object.metadata.name) does not encode as JSON: \(error)")
        }
    }
}

import Foundation
import GSLB

/// `NameServiceStore` on one SQLite file (conventionally `<state dir>/nameservices.db`, see
/// `databasePath(stateDirectory:)`).
///
/// - Durable: WAL journal with `synchronous=FULL`, so every commit is fsynced before the call
///   returns; a write that returned survives kill -9 and power loss.
/// - One transaction per write: read the current revision, store the object, append the event,
///   bump the revision, drop the events the history no longer keeps.
/// - Writes are serialized: an actor whose jobs run on a private serial queue (not the
///   cooperative pool); the SQLite handle is used from there only. A write waits at most
///   `writeTimeout` for its answer, then fails with `.timedOut` (its outcome unknown until the
///   disk answers); `problem` reports a store whose oldest pending write is older than that.
/// - Reads never touch that queue: `get`, `list` and `revision` answer from the in-memory
///   `ObjectIndex` (the stored JSON per name, decoded on read), and watches pull from the
///   in-memory, bounded event history (`WatchRegistry`), so a stalled fsync or a long replay holds
///   up no read.
/// - Damaged rows (a document that does not decode, a page SQLite reports corrupt) are left out
///   of reads and reported (`damagedObjects`, `onDamage`) instead of failing every list; writing
///   the name again replaces the damaged row.
/// - One process owns the file: the index and the history are loaded at open and kept by this
///   instance's writes only.
///
/// Schema (`PRAGMA user_version = 1`):
/// `objects(name PRIMARY KEY, json, revision, generation)` — the current objects as JSON (sorted keys);
/// `events(revision PRIMARY KEY, kind, name, json)` — the change history for watch;
/// `meta(key PRIMARY KEY, value)` — `revision`, the current store revision.
public actor SQLiteNameServiceStore: NameServiceStore {
    /// The file name inside the state directory.
    public static let fileName = "nameservices.db"
    /// Events kept for watch resumption unless told otherwise.
    public static let defaultEventHistoryLimit = EventHistoryLimits.defaultMaxEvents
    /// How long a write waits for the disk unless told otherwise.
    public static let defaultWriteTimeout: Duration = .seconds(5)
    static let schemaVersion: Int64 = 1

    /// Called for each stored object that cannot be served: its name (or the part of the table
    /// that cannot be read) and what is wrong.
    public typealias DamageReport = @Sendable (_ name: String, _ problem: String) -> Void

    /// `<stateDirectory>/nameservices.db`.
    public static func databasePath(stateDirectory: String) -> String {
        URL(fileURLWithPath: stateDirectory).appendingPathComponent(fileName).path
    }

    public nonisolated let path: String
    public nonisolated let history: EventHistoryLimits
    public nonisolated var eventHistoryLimit: Int { history.maxEvents }
    public nonisolated let writeTimeout: Duration

    private let executor: SerialQueueExecutor
    private var connection: SQLiteConnection?
    private nonisolated let index = ObjectIndex()
    private nonisolated let watchers: WatchRegistry
    private nonisolated let pending = PendingWrites()
    private nonisolated let onDamage: DamageReport?
    private let encoder: JSONEncoder

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Opens the database at `path` keeping the latest `eventHistoryLimit` events (and the
    /// default byte and age limits).
    public init(path: String, eventHistoryLimit: Int) throws(StoreError) {
        try self.init(path: path, history: EventHistoryLimits(maxEvents: eventHistoryLimit))
    }

    /// Opens the database at `path`, creating the file and the schema when missing (the directory
    /// must exist), and loads the current objects and the event history into memory. Rows that
    /// cannot be read are reported to `onDamage` and left out; the store opens anyway.
    public init(path: String, history: EventHistoryLimits = EventHistoryLimits(),
                writeTimeout: Duration = SQLiteNameServiceStore.defaultWriteTimeout,
                onDamage: DamageReport? = nil) throws(StoreError) {
        if let problem = history.problem { throw StoreError(.invalid, problem) }
        guard writeTimeout > .zero else { throw StoreError(.invalid, "the write timeout must be positive, not \(writeTimeout)") }
        self.path = path
        self.history = history
        self.writeTimeout = writeTimeout
        self.onDamage = onDamage
        executor = SerialQueueExecutor(label: "globaldns.nameservicestore")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.encoder = encoder
        let db = try SQLiteConnection(path: path)
        try Self.prepare(db)
        let revision = try Self.currentRevision(db, path: path)
        watchers = WatchRegistry(revision: revision, limits: history, what: path) { json, kind, revision throws(StoreError) in
            var object = try Self.decode(json, what: "event \(revision)", path: path, decoder: JSONDecoder())
            object.metadata.resourceVersion = String(revision)
            return StoreEvent(kind: kind, object: object, revision: revision)
        }
        let (objects, damaged) = Self.loadObjects(db, path: path)
        index.load(objects: objects, damaged: damaged, revision: revision)
        for (name, problem) in damaged.sorted(by: { $0.key < $1.key }) { onDamage?(name, problem) }
        watchers.load(Self.loadEvents(db, after: revision - Int64(history.maxEvents)))
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

    /// Every readable object row, and the damaged ones (name → what is wrong). A full scan first;
    /// when SQLite stops it (a corrupt page), the names are walked through the primary-key index
    /// (which does not read the table's pages) and each row is read on its own, so every row on
    /// an intact page is still served.
    private static func loadObjects(_ db: SQLiteConnection, path: String)
        -> (objects: [String: ObjectIndex.Entry], damaged: [String: String]) {
        var objects: [String: ObjectIndex.Entry] = [:]
        var damaged: [String: String] = [:]
        let decoder = JSONDecoder()
        func take(_ row: SQLiteRow) {
            let name = row.text(0) ?? ""
            do throws(StoreError) {
                objects[name] = try entry(row, path: path, decoder: decoder)
            } catch {
                damaged[name] = error.message
            }
        }
        let columns = "SELECT name, json, revision, generation FROM objects"
        do {
            try db.query(columns) { row throws(StoreError) in take(row) }
            return (objects, damaged)
        } catch {
            objects = [:]
            damaged = [:]
        }
        var last: String?
        while true {
            var next: String?
            do {
                if let last {
                    try db.query("SELECT name FROM objects WHERE name > ? ORDER BY name LIMIT 1", [.text(last)]) { row throws(StoreError) in next = row.text(0) }
                } else {
                    try db.query("SELECT name FROM objects ORDER BY name LIMIT 1") { row throws(StoreError) in next = row.text(0) }
                }
            } catch {
                damaged["objects after '\(last ?? "")'"] = "the objects table cannot be read past this point: \(error.message)"
                break
            }
            guard let name = next else { break }
            do {
                try db.query(columns + " WHERE name = ?", [.text(name)]) { row throws(StoreError) in take(row) }
            } catch {
                damaged[name] = "object \(name) in \(path) cannot be read: \(error.message)"
            }
            last = name
        }
        return (objects, damaged)
    }

    /// The stored events after `after`, oldest first (an unreadable history loads as far as it reads).
    private static func loadEvents(_ db: SQLiteConnection, after: Int64) -> [(revision: Int64, kind: StoreEvent.Kind, json: [UInt8])] {
        var events: [(revision: Int64, kind: StoreEvent.Kind, json: [UInt8])] = []
        do {
            try db.query("SELECT revision, kind, json FROM events WHERE revision > ? ORDER BY revision", [.integer(after)]) { row throws(StoreError) in
                guard let kind = row.text(1).flatMap(StoreEvent.Kind.init(rawValue:)), let json = row.utf8(2) else {
                    events = []  // a gap: nothing before it can be replayed
                    return
                }
                events.append((row.integer(0), kind, json))
            }
        } catch {
            // Keep what was read; watchers from before it relist.
        }
        return events
    }

    /// Closes the database and ends every watch stream with `.unavailable`; later calls fail with
    /// `.unavailable`. Dropping the store without closing is also safe (every write is committed).
    public func close() {
        let error = StoreError(.unavailable, "the store at \(path) was closed")
        watchers.close(error)
        index.close(error)
        connection?.close()
        connection = nil
    }

    deinit {
        watchers.close(StoreError(.unavailable, "the store at \(path) was released"))
    }

    private func db() throws(StoreError) -> SQLiteConnection {
        guard let connection else { throw StoreError(.unavailable, "the store at \(path) is closed") }
        return connection
    }

    // MARK: Health

    /// Why the store cannot take writes now, for `/readyz` (nil when it can): the oldest pending
    /// write has waited longer than `writeTimeout` (a stalled disk).
    public nonisolated var problem: String? {
        guard let oldest = pending.oldest(), oldest.age > writeTimeout else { return nil }
        let (count, age) = (oldest.count, oldest.age)
        return "the NameService store's oldest pending write has waited \(Self.seconds(age)) s, longer than the write timeout "
            + "(store.writeTimeoutSeconds: \(Self.seconds(writeTimeout)) s): the disk under \(path) is not answering "
            + "(\(count) write\(count == 1 ? "" : "s") pending; writes fail with 503, reads are served from memory)"
    }

    /// Stored objects that could not be read back and are not served (name → what is wrong),
    /// sorted by name. Writing a name again replaces its damaged row.
    public nonisolated var damagedObjects: [(name: String, problem: String)] { index.damaged }

    /// The events and bytes the watch history holds now.
    public nonisolated var historyUsage: (events: Int, bytes: Int) { watchers.usage }

    private static func seconds(_ d: Duration) -> String {
        let c = d.components
        return String(format: "%.1f", Double(c.seconds) + Double(c.attoseconds) / 1e18)
    }

    // MARK: Reads (from memory, never on the write queue)

    public nonisolated func get(_ name: String) throws(StoreError) -> NameService? {
        try index.checkOpen()
        guard let entry = index.entry(name) else {
            if let problem = index.damage(name) { throw StoreError(.corrupt, problem) }
            return nil
        }
        return try Self.object(name, entry, path: path, decoder: JSONDecoder())
    }

    public nonisolated func list(selector: LabelSelector?) throws(StoreError) -> (items: [NameService], revision: Int64) {
        try index.checkOpen()
        let (objects, revision) = index.snapshot()
        let names = objects.compactMap { (name, entry) in selector?.matches(entry.labels) ?? true ? name : nil }.sorted()
        let decoder = JSONDecoder()
        var items: [NameService] = []
        items.reserveCapacity(names.count)
        for name in names {
            do throws(StoreError) {
                items.append(try Self.object(name, objects[name]!, path: path, decoder: decoder))
            } catch {
                // Never fail the whole list for one object: serve the others, report this one.
                onDamage?(name, error.message)
            }
        }
        return (items, revision)
    }

    public nonisolated func revision() throws(StoreError) -> Int64 {
        try index.checkOpen()
        return index.revision
    }

    // MARK: Writes (serialized on the queue, each waiting at most `writeTimeout`)

    public nonisolated func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService {
        try await bounded("put of \(nameService.metadata.name)") {
            await self.result { store throws(StoreError) in try store.putNow(nameService, ifVersion: ifVersion) }
        }
    }

    public nonisolated func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await bounded("status update of \(name)") {
            await self.result { store throws(StoreError) in
                try store.modify(name) { existing throws(StoreError) in
                    try StoreRules.applyStatus(status, name: name, to: existing, ifGeneration: ifGeneration)
                }
            }
        }
    }

    public nonisolated func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await bounded("drain update of \(name)") {
            await self.result { store throws(StoreError) in
                try store.modify(name) { existing throws(StoreError) in
                    try StoreRules.applyDrains(drains, name: name, to: existing, ifVersion: ifVersion)
                }
            }
        }
    }

    public nonisolated func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService {
        try await bounded("delete of \(name)") {
            await self.result { store throws(StoreError) in try store.deleteNow(name, ifVersion: ifVersion) }
        }
    }

    /// Runs `body` on the actor and hands its outcome back as a value.
    private func result<T: Sendable>(_ body: @Sendable (isolated SQLiteNameServiceStore) throws(StoreError) -> T) -> Result<T, StoreError> {
        do throws(StoreError) {
            return .success(try body(self))
        } catch {
            return .failure(error)
        }
    }

    /// Waits for `write` at most `writeTimeout`. The write itself is not cancelled (a commit that
    /// is waiting for the disk cannot be taken back): past the timeout the caller gets
    /// `.timedOut`, and the write completes or fails when the disk answers.
    private nonisolated func bounded<T: Sendable>(_ what: String,
                                                  _ write: @escaping @Sendable () async -> Result<T, StoreError>) async throws(StoreError) -> T {
        let id = pending.begin()
        let timeout = writeTimeout
        let path = path
        let pending = pending
        let outcome = await withCheckedContinuation { (c: CheckedContinuation<Result<T, StoreError>, Never>) in
            let first = FirstResult(c)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                first.resume(.failure(StoreError(
                    .timedOut,
                    "the \(what) did not finish within \(Self.seconds(timeout)) s (store.writeTimeoutSeconds): the disk under \(path) "
                        + "is not answering; the write's outcome is unknown until it does (it may still be applied): read the object back before retrying")))
            }
            Task {
                let r = await write()
                pending.end(id)
                timer.cancel()
                first.resume(r)
            }
        }
        return try outcome.get()
    }

    private func putNow(_ nameService: NameService, ifVersion: String?) throws(StoreError) -> NameService {
        let db = try db()
        let existing = try current(nameService.metadata.name)
        guard let object = try StoreRules.applyPut(nameService, to: existing, ifVersion: ifVersion) else {
            return existing!  // applyPut returns nil only over an existing object
        }
        return try commit(existing == nil ? .added : .modified, object, to: db)
    }

    /// A change of one part of an existing object: `rule` returns the object to store (nil:
    /// nothing changes, a no-op without a revision or event; it throws when the object is
    /// missing, so nil means the object exists).
    private func modify(_ name: String,
                        _ rule: (NameService?) throws(StoreError) -> NameService?) throws(StoreError) -> NameService {
        let db = try db()
        let existing = try current(name)
        guard let object = try rule(existing) else { return existing! }
        return try commit(.modified, object, to: db)
    }

    private func deleteNow(_ name: String, ifVersion: String?) throws(StoreError) -> NameService {
        let db = try db()
        let object = try StoreRules.checkDelete(name: name, existing: current(name), ifVersion: ifVersion)
        return try commit(.deleted, object, to: db)
    }

    /// The stored object as the writer sees it (the index holds exactly what was committed).
    private func current(_ name: String) throws(StoreError) -> NameService? {
        guard let entry = index.entry(name) else { return nil }
        return try Self.object(name, entry, path: path, decoder: JSONDecoder())
    }

    /// One transaction: applies the change to `objects`, appends it to `events`, moves the
    /// revision on and drops the events the history no longer keeps; then, once committed, to the
    /// history (waking watchers) and the index.
    private func commit(_ kind: StoreEvent.Kind, _ object: NameService, to db: SQLiteConnection) throws(StoreError) -> NameService {
        var object = object
        let name = object.metadata.name
        let compactedThrough = watchers.compactedThrough()
        let (revision, json) = try db.transaction { () throws(StoreError) -> (Int64, String) in
            let revision = try Self.currentRevision(db, path: path) + 1
            object.metadata.resourceVersion = String(revision)
            let json = try encode(object)
            switch kind {
            case .added, .modified:
                try db.run("INSERT OR REPLACE INTO objects(name, json, revision, generation) VALUES(?, ?, ?, ?)",
                           [.text(name), .text(json), .integer(revision), .integer(object.metadata.generation)])
            case .deleted:
                try db.run("DELETE FROM objects WHERE name = ?", [.text(name)])
            }
            try db.run("INSERT INTO events(revision, kind, name, json) VALUES(?, ?, ?, ?)",
                       [.integer(revision), .text(kind.rawValue), .text(name), .text(json)])
            try db.run("UPDATE meta SET value = ? WHERE key = 'revision'", [.integer(revision)])
            try db.run("DELETE FROM events WHERE revision <= ?", [.integer(min(compactedThrough, revision - 1))])
            return (revision, json)
        }
        // One copy of the document, shared by the history and the index.
        let bytes = Array(json.utf8)
        watchers.append(revision: revision, kind: kind, json: bytes)
        index.apply(name, kind == .deleted ? nil : ObjectIndex.Entry(json: bytes, labels: object.metadata.labels,
                                                                   revision: revision, generation: object.metadata.generation),
                    revision: revision)
        return object
    }

    // MARK: Watch

    /// Pulls from the in-memory history (see `WatchRegistry`): the replay runs on the consumer's
    /// task, event by event, and stops when the consumer does.
    public nonisolated func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        watchers.stream(from: fromRevision)
    }

    /// How many watch streams are open (for tests: a dropped stream must not stay registered).
    package nonisolated func liveWatchCount() -> Int {
        watchers.openStreams
    }

    // MARK: Rows and JSON

    private static func currentRevision(_ db: SQLiteConnection, path: String) throws(StoreError) -> Int64 {
        guard let r = try db.integer("SELECT value FROM meta WHERE key = 'revision'") else {
            throw StoreError(.corrupt, "\(path) has no revision in its meta table")
        }
        return r
    }

    /// An `objects` row as an index entry (checked by decoding it once); its columns are
    /// authoritative for name, revision and generation.
    private static func entry(_ row: SQLiteRow, path: String, decoder: JSONDecoder) throws(StoreError) -> ObjectIndex.Entry {
        let name = row.text(0) ?? ""
        guard let json = row.utf8(1) else { throw StoreError(.corrupt, "object \(name) in \(path) has no JSON") }
        let entry = ObjectIndex.Entry(json: json, labels: [:], revision: row.integer(2), generation: row.integer(3))
        let object = try object(name, entry, path: path, decoder: decoder)
        return ObjectIndex.Entry(json: json, labels: object.metadata.labels, revision: entry.revision, generation: entry.generation)
    }

    /// The object an index entry holds.
    private static func object(_ name: String, _ entry: ObjectIndex.Entry, path: String, decoder: JSONDecoder) throws(StoreError) -> NameService {
        var object = try decode(entry.json, what: "object \(name)", path: path, decoder: decoder)
        guard object.metadata.name == name else {
            throw StoreError(.corrupt, "object \(name) in \(path) holds the document of '\(object.metadata.name)'")
        }
        object.metadata.resourceVersion = String(entry.revision)
        object.metadata.generation = entry.generation
        return object
    }

    private static func decode(_ json: [UInt8], what: String, path: String, decoder: JSONDecoder) throws(StoreError) -> NameService {
        do {
            return try decoder.decode(NameService.self, from: Data(json))
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

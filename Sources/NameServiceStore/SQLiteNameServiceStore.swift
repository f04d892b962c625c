import Foundation
import GSLB

/// `NameServiceStore` on one SQLite file (conventionally `<state dir>/nameservices.db`, see
/// `databasePath(stateDirectory:)`).
///
/// - Durable: WAL journal with `synchronous=FULL`, so every commit is fsynced before the call
///   returns; a write that returned survives kill -9 and power loss.
/// - **Group commit**: writes are queued (`WriteQueue`) and one writer, an actor whose jobs run on
///   a private serial queue (not the cooperative pool), takes whatever has arrived (at most
///   `maxBatch` ops, whole `updateStatuses` batches) into one transaction with one fsync. Inside
///   it each write is applied in arrival order over what the earlier ones wrote (put-if-version,
///   status-if-generation per item), and gets its own result: a conflict fails that item only. A
///   failed commit (disk full) fails the writes of that transaction. Per write: read the stored
///   row, store the object, append the event (with the document it replaces, for paged lists at an
///   older revision), move the revision on, drop the events the history no longer keeps.
/// - A write waits at most `writeTimeout` for its answer, then fails with `.timedOut` (its outcome
///   unknown until the disk answers); `problem` reports a store whose oldest pending write is
///   older than that.
/// - Reads never touch the write queue: `get` and lists read the file through read-only
///   connections (`ReaderPool`; WAL: a reader's snapshot is not disturbed by commits, and a
///   commit does not wait for readers); `revision` and label selectors answer from the compact
///   in-memory `ObjectIndex` (per name: revision and an interned label set; per label set its
///   names); watches pull from the in-memory, bounded event history (`WatchRegistry`).
/// - Paged lists (`listPage`) are consistent at the first page's revision: names changed since are
///   served as they were then, from the events table (410-style `.expired` once it no longer
///   reaches back that far).
/// - Damaged rows (a document that does not decode, a page SQLite reports corrupt) are left out
///   of reads and reported (`damagedObjects`, `onDamage`) instead of failing every list; writing
///   the name again replaces the damaged row. A document is decoded when it is read, not at open.
/// - One process owns the file: the index and the history are loaded at open (names, revisions
///   and label columns only, no document is decoded) and kept by this instance's writes only.
///
/// Schema (`PRAGMA user_version = 2`):
/// `objects(name PRIMARY KEY, labels, revision, generation, json)` — the current objects as JSON
/// (sorted keys), and their labels as `LabelText`;
/// `events(revision PRIMARY KEY, kind, name, json, prev, prev_revision)` — the change history
/// for watch and paged lists (`prev`: the document the change replaced and its revision, NULL
/// for ADDED). Documents are stored without `resourceVersion` (the revision columns hold it).
/// `meta(key PRIMARY KEY, value)` — `revision`, the current store revision.
/// Version 1 files (no `labels`, no `prev`) are upgraded at open.
public actor SQLiteNameServiceStore: NameServiceStore {
    /// The file name inside the state directory.
    public static let fileName = "nameservices.db"
    /// Events kept for watch resumption unless told otherwise.
    public static let defaultEventHistoryLimit = EventHistoryLimits.defaultMaxEvents
    /// How long a write waits for the disk unless told otherwise.
    public static let defaultWriteTimeout: Duration = .seconds(5)
    /// Writes committed in one transaction at most, unless told otherwise (`store.sqlite.maxBatch`).
    public static let defaultMaxBatch = 1_000
    /// A selector matching more names than this (in the label index) walks the names in order,
    /// checking the labels column, instead of sorting that many candidates for every page.
    package static let defaultMaxIndexCandidates = 100_000
    /// `defaultMaxIndexCandidates` but in tests of the name walk.
    package nonisolated let maxIndexCandidates: Int
    static let schemaVersion: Int64 = 2
    /// Page cache of the writer connection and of each reader connection, in KiB.
    static let writerCacheKiB = 32_768
    static let readerCacheKiB = 8_192

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
    public nonisolated let maxBatch: Int

    private let executor: SerialQueueExecutor
    private var connection: SQLiteConnection?
    private nonisolated let readers: ReaderPool
    private nonisolated let index = ObjectIndex()
    private nonisolated let watchers: WatchRegistry
    private nonisolated let pending = PendingWrites()
    private nonisolated let queue = WriteQueue()
    private nonisolated let onDamage: DamageReport?
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()
    /// Transactions committed and writes in them (for measurements and tests).
    private nonisolated let commits = CommitCounter()

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Opens the database at `path` keeping the latest `eventHistoryLimit` events (and the
    /// default byte and age limits).
    public init(path: String, eventHistoryLimit: Int) throws(StoreError) {
        try self.init(path: path, history: EventHistoryLimits(maxEvents: eventHistoryLimit))
    }

    /// Opens the database at `path`, creating the file and the schema when missing (the directory
    /// must exist), and loads the index (names, revisions, labels) and the event history into
    /// memory. Rows that cannot be read are reported to `onDamage` and left out; the store opens
    /// anyway. `maxBatch`: writes committed in one transaction at most.
    public init(path: String, history: EventHistoryLimits = EventHistoryLimits(),
                writeTimeout: Duration = SQLiteNameServiceStore.defaultWriteTimeout,
                maxBatch: Int = SQLiteNameServiceStore.defaultMaxBatch,
                onDamage: DamageReport? = nil) throws(StoreError) {
        try self.init(path: path, history: history, writeTimeout: writeTimeout, maxBatch: maxBatch, onDamage: onDamage,
                      maxIndexCandidates: Self.defaultMaxIndexCandidates)
    }

    package init(path: String, history: EventHistoryLimits = EventHistoryLimits(),
                 writeTimeout: Duration = SQLiteNameServiceStore.defaultWriteTimeout,
                 maxBatch: Int = SQLiteNameServiceStore.defaultMaxBatch,
                 onDamage: DamageReport? = nil, maxIndexCandidates: Int) throws(StoreError) {
        self.maxIndexCandidates = maxIndexCandidates
        if let problem = history.problem { throw StoreError(.invalid, problem) }
        guard writeTimeout > .zero else { throw StoreError(.invalid, "the write timeout must be positive, not \(writeTimeout)") }
        guard maxBatch >= 1 else { throw StoreError(.invalid, "a write batch must hold at least 1 write, not \(maxBatch)") }
        self.path = path
        self.history = history
        self.writeTimeout = writeTimeout
        self.maxBatch = maxBatch
        self.onDamage = onDamage
        executor = SerialQueueExecutor(label: "globaldns.nameservicestore")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.encoder = encoder
        let db = try SQLiteConnection(path: path)
        try Self.prepare(db)
        Self.fillCreationRevisions(db)
        let revision = try Self.currentRevision(db, path: path)
        watchers = WatchRegistry(revision: revision, limits: history, what: path) { json, kind, revision throws(StoreError) in
            var object = try Self.decode(json, what: "event \(revision)", path: path, decoder: JSONDecoder())
            object.metadata.resourceVersion = String(revision)
            return StoreEvent(kind: kind, object: object, revision: revision)
        }
        let damaged = Self.loadIndex(db, into: index, path: path)
        index.finishLoading(damaged: damaged, revision: revision)
        for (name, problem) in damaged.sorted(by: { nameOrder($0.key, $1.key) }) { onDamage?(name, problem) }
        watchers.load(Self.loadEvents(db, after: revision - Int64(history.maxEvents)))
        readers = ReaderPool(path: path)
        connection = db
    }

    /// Sets durability, creates the schema, upgrades a version 1 file.
    private static func prepare(_ db: SQLiteConnection) throws(StoreError) {
        let mode = try db.text("PRAGMA journal_mode=WAL")
        guard mode?.lowercased() == "wal" else {
            throw StoreError(.unavailable, "\(db.path): SQLite refused WAL mode (journal_mode is \(mode ?? "unknown")); is the file system local?")
        }
        try db.exec("PRAGMA synchronous=FULL")
        // The writer's page cache (SQLite's default is 2 MB): at a million rows a write touches
        // pages of the name index, the table and the events all over the file.
        try db.exec("PRAGMA cache_size = -\(writerCacheKiB)")
        let sync = try db.integer("PRAGMA synchronous")
        guard sync == 2 else {  // FULL
            throw StoreError(.unavailable, "\(db.path): SQLite did not accept synchronous=FULL (it is \(sync.map(String.init) ?? "unknown"))")
        }
        let version = try db.integer("PRAGMA user_version") ?? 0
        guard version <= schemaVersion else {
            throw StoreError(.unavailable, "\(db.path) has schema version \(version); this server reads up to \(schemaVersion)")
        }
        try db.transaction { () throws(StoreError) in
            if version == 1 {
                try db.exec("""
                    ALTER TABLE objects ADD COLUMN labels TEXT;
                    ALTER TABLE events ADD COLUMN prev TEXT;
                    ALTER TABLE events ADD COLUMN prev_revision INTEGER;
                    """)
                try fillLabels(db)
            }
            try db.exec("""
                CREATE TABLE IF NOT EXISTS objects(name TEXT PRIMARY KEY NOT NULL, labels TEXT,
                                                   revision INTEGER NOT NULL, generation INTEGER NOT NULL, json TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS events(revision INTEGER PRIMARY KEY NOT NULL, kind TEXT NOT NULL,
                                                  name TEXT NOT NULL, json TEXT NOT NULL, prev TEXT, prev_revision INTEGER);
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                CREATE INDEX IF NOT EXISTS objects_meta ON objects(name, revision, labels);
                INSERT OR IGNORE INTO meta(key, value) VALUES('revision', 0);
                PRAGMA user_version = \(schemaVersion);
                """)
        }
    }

    /// Objects written before `metadata.creationRevision` existed get their row's revision (the
    /// order a restart picked before), once per file (`meta.creation_revisions`). One statement in
    /// SQLite, no document decoded in Swift. Best effort: a file SQLite cannot scan whole (a
    /// damaged page) is served as it is, and those objects are ordered by their revision.
    private static func fillCreationRevisions(_ db: SQLiteConnection) {
        guard (try? db.integer("SELECT value FROM meta WHERE key = 'creation_revisions'")) == nil else { return }
        try? db.transaction { () throws(StoreError) in
            try db.exec("""
                UPDATE objects SET json = json_set(json, '$.metadata.creationRevision', revision)
                 WHERE CASE WHEN json_valid(json) THEN json_type(json, '$.metadata.creationRevision') IS NULL ELSE 0 END;
                INSERT OR REPLACE INTO meta(key, value) VALUES('creation_revisions', 1);
                """)
        }
    }

    /// Upgrade from version 1: the labels column of every row (each document decoded once).
    private static func fillLabels(_ db: SQLiteConnection) throws(StoreError) {
        var labels: [(String, String)] = []
        let decoder = JSONDecoder()
        try db.query("SELECT name, json FROM objects") { row throws(StoreError) in
            guard let name = row.text(0), let json = row.utf8(1),
                  let doc = try? decoder.decode(LabelsOnly.self, from: Data(json)) else { return }
            labels.append((name, LabelText.encode(doc.metadata.labels ?? [:])))
        }
        for (name, text) in labels {
            try db.run("UPDATE objects SET labels = ? WHERE name = ?", [.text(text), .text(name)])
        }
    }

    /// Only the labels of a stored document.
    private struct LabelsOnly: Decodable {
        struct Metadata: Decodable { var labels: [String: String]? }
        var metadata: Metadata
    }

    /// Loads every readable object row's name, revision and labels into `index` (no document is
    /// decoded, unless a row has no labels column) and returns the damaged ones (name → what is
    /// wrong). A full scan first; when SQLite stops it (a corrupt page), the names are walked
    /// through the primary-key index (which does not read the table's pages) and each row is
    /// read on its own, so every row on an intact page is still served.
    private static func loadIndex(_ db: SQLiteConnection, into index: ObjectIndex, path: String) -> [String: String] {
        var damaged: [String: String] = [:]
        var texts: [String: [String: String]] = [:]
        func take(_ row: SQLiteRow) {
            let name = row.text(0) ?? ""
            let revision = row.integer(1)
            var text = row.text(2)
            if text == nil {
                // Only from `columns` (the first pass hands such rows over by name).
                // A row written without its labels column (by hand): read them from the document.
                guard let json = row.utf8(3), let doc = try? JSONDecoder().decode(LabelsOnly.self, from: Data(json)) else {
                    damaged[name] = "object \(name) in \(path) does not decode"
                    return
                }
                text = LabelText.encode(doc.metadata.labels ?? [:])
            }
            guard let text else { return }
            let labels: [String: String]
            if let known = texts[text] {
                labels = known
            } else {
                guard let parsed = LabelText.decode(text) else {
                    damaged[name] = "object \(name) in \(path) has an unreadable labels column"
                    return
                }
                if texts.count < 100_000 { texts[text] = parsed }
                labels = parsed
            }
            index.load(name, revision: revision, labelText: text, labels: labels)
        }
        // The first pass reads only the covering index `objects_meta` (about 60 bytes a row), never
        // the table's pages with the documents: a million rows load in a few seconds. A row whose
        // labels column is NULL (written by hand) is read again with its document.
        let columns = "SELECT name, revision, labels, CASE WHEN labels IS NULL THEN json END FROM objects"
        if let count = try? db.integer("SELECT COUNT(*) FROM objects") { index.reserve(Int(count)) }
        do {
            var unlabelled: [String] = []
            try db.query("SELECT name, revision, labels FROM objects INDEXED BY objects_meta") { row throws(StoreError) in
                if row.isNull(2) { unlabelled.append(row.text(0) ?? "") } else { take(row) }
            }
            for name in unlabelled {
                try db.query(columns + " WHERE name = ?", [.text(name)]) { row throws(StoreError) in take(row) }
            }
            return damaged
        } catch {
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
        return damaged
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
        readers.close()
        connection?.close()
        connection = nil
    }

    deinit {
        watchers.close(StoreError(.unavailable, "the store at \(path) was released"))
        readers.close()
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
            + "(\(count) write\(count == 1 ? "" : "s") pending; writes fail with 503, reads are served from the file's last commit)"
    }

    /// Stored objects that could not be read back and are not served (name → what is wrong),
    /// sorted by name. Writing a name again replaces its damaged row.
    public nonisolated var damagedObjects: [(name: String, problem: String)] { index.damaged }

    /// The events and bytes the watch history holds now.
    public nonisolated var historyUsage: (events: Int, bytes: Int) { watchers.usage }

    /// Transactions committed so far and the writes they held (group commit at work).
    public nonisolated var commitCounts: (transactions: Int, writes: Int) { commits.value }

    /// How many objects the store holds now.
    public nonisolated var count: Int { index.count }

    private static func seconds(_ d: Duration) -> String {
        let c = d.components
        return String(format: "%.1f", Double(c.seconds) + Double(c.attoseconds) / 1e18)
    }

    // MARK: Reads (from the file through reader connections, never on the write queue)

    public nonisolated func get(_ name: String) throws(StoreError) -> NameService? {
        try index.checkOpen()
        if let problem = index.damage(name) { throw StoreError(.corrupt, problem) }
        guard index.meta(name) != nil else { return nil }
        let row: StoredRow?
        do throws(StoreError) {
            row = try readers.with { db throws(StoreError) in try Self.readRow(db, name) }
        } catch {
            guard error.message.contains("malformed") else { throw error }
            noteDamage(name, "object \(name) in \(path) cannot be read: \(error.message)")
            throw StoreError(.corrupt, error.message)
        }
        guard let row else { return nil }
        do throws(StoreError) {
            return try Self.object(name, row, path: path, decoder: JSONDecoder())
        } catch {
            noteDamage(name, error.message)
            throw error
        }
    }

    /// Marks `name` damaged and reports it (once).
    private nonisolated func noteDamage(_ name: String, _ problem: String) {
        if index.markDamaged(name, problem) { onDamage?(name, problem) }
    }

    public nonisolated func list(selector: LabelSelector?) throws(StoreError) -> (items: [NameService], revision: Int64) {
        let page = try page(selector: selector, limit: nil, pinned: nil, after: nil)
        return (page.items, page.revision)
    }

    /// A page of the list, consistent at the first page's revision (see `page`). `async` like the
    /// protocol's default, so a call on this type never resolves to that default instead.
    public nonisolated func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage {
        try index.checkOpen()
        if let limit = options.limit, limit < 0 { throw StoreError(.invalid, "limit must not be negative, not \(limit)") }
        var pinned: Int64?
        var after: String?
        if let token = options.continueToken, !token.isEmpty {
            let decoded = try ContinueToken.decode(token, current: index.revision)
            pinned = decoded.revision
            after = decoded.after
        }
        return try page(selector: options.selector, limit: options.limit.flatMap { $0 > 0 ? $0 : nil }, pinned: pinned, after: after)
    }

    public nonisolated func revision() throws(StoreError) -> Int64 {
        try index.checkOpen()
        return index.revision
    }

    /// One row of `objects`.
    private struct StoredRow {
        var labels: String?
        var revision: Int64
        var generation: Int64
        var json: [UInt8]
    }

    private static func readRow(_ db: SQLiteConnection, _ name: String) throws(StoreError) -> StoredRow? {
        var found: StoredRow?
        try db.query("SELECT labels, revision, generation, json FROM objects WHERE name = ?", [.text(name)]) { row throws(StoreError) in
            found = StoredRow(labels: row.text(0), revision: row.integer(1), generation: row.integer(2), json: row.utf8(3) ?? [])
        }
        return found
    }

    /// The first change of a name after a list's revision.
    private struct Change {
        let revision: Int64
        let added: Bool
    }

    /// Objects after `after` (sorted by name, at most `limit`), as they were at revision `pinned`
    /// (nil: now), matching `selector`, and whether more follow (then a continue token).
    ///
    /// Reads one snapshot of the file (a read transaction on a reader connection, at revision S).
    /// Names changed after the list's revision R (the events in (R, S]) are served as they were at
    /// R: absent when their first change since was their creation, else the document that change
    /// replaced (`events.prev`); `.expired` when the events table no longer reaches back to R. The
    /// other names are served from `objects`. Names come in order either from the label index (an
    /// selector matching at most `maxIndexCandidates` names: its candidates, taken before the
    /// snapshot, at a revision <= S) or from
    /// a walk of the primary-key index in chunks; either way a page holds only its own objects.
    private nonisolated func page(selector: LabelSelector?, limit: Int?, pinned: Int64?, after: String?) throws(StoreError) -> ListPage {
        // A first page pinned at the label index's revision can find the history already past it
        // (a burst of writes between taking the candidates and the snapshot, with a tiny history):
        // it is not the caller's token that expired, so take the candidates again.
        var attempt = 0
        while true {
            do throws(StoreError) {
                return try pageOnce(selector: selector, limit: limit, pinned: pinned, after: after)
            } catch {
                attempt += 1
                guard pinned == nil, error.code == .expired, attempt < 5 else { throw error }
            }
        }
    }

    private nonisolated func pageOnce(selector: LabelSelector?, limit: Int?, pinned: Int64?, after: String?) throws(StoreError) -> ListPage {
        try index.checkOpen()
        var candidates: ArraySlice<String>?
        var revision = pinned
        if let selector, let c = index.candidates(selector, after: after, pinned: pinned, maxCandidates: maxIndexCandidates) {
            candidates = c.names
            if revision == nil { revision = c.revision }
        }
        let damaged = index.damagedNames
        let path = path
        let decoder = JSONDecoder()
        let want = limit ?? Int.max
        return try readers.with { db throws(StoreError) -> ListPage in
            try db.readTransaction { () throws(StoreError) -> ListPage in
                let snapshot = try Self.currentRevision(db, path: path)
                let at = revision ?? snapshot
                if at > snapshot {
                    throw StoreError(.invalid, "continue token of revision \(at) is ahead of the store (\(snapshot)): not issued by this store")
                }
                var changed: [String: Change] = [:]
                if snapshot > at {
                    let oldest = try db.integer("SELECT MIN(revision) FROM events")
                    guard let oldest, oldest <= at + 1 else { throw StoreError.expiredToken(revision: at, oldest: oldest) }
                    try db.query("SELECT revision, kind, name FROM events WHERE revision > ? ORDER BY revision", [.integer(at)]) { row throws(StoreError) in
                        let name = row.text(2) ?? ""
                        if changed[name] == nil { changed[name] = Change(revision: row.integer(0), added: row.text(1) == StoreEvent.Kind.added.rawValue) }
                    }
                }
                var changedNames = changed.keys.filter { n in after.map { nameOrder($0, n) } ?? true }.sorted(by: nameOrder)
                changedNames.reverse()  // popLast takes the smallest

                // The unchanged names, in order. Walking the table, 256 whole rows are read per
                // query (a point query per row cost as much as decoding it); a row the selector
                // does not match is left out there, the selector matched once per label text.
                var chunk: [(name: String, row: StoredRow?)] = []
                var chunkAt = 0
                var walkedTo = after ?? ""
                var walkDone = false
                var candidateAt = 0
                var matchesText: [String: Bool] = [:]
                func unchanged(_ name: String) -> Bool { changed[name] == nil && !damaged.contains(name) }
                func selected(_ labelText: String?) -> Bool {
                    guard let selector else { return true }
                    guard let labelText else { return false }
                    if let known = matchesText[labelText] { return known }
                    let match = index.labels(ofText: labelText).map { selector.matches($0) } ?? false
                    matchesText[labelText] = match
                    return match
                }
                /// The next 256 rows after `walkedTo`: the ones to serve go to `chunk` (with
                /// their row, or without when SQLite cannot read the page whole: then each row is
                /// read on its own, and a damaged one reported and left out). Returns the rows seen.
                func readChunk() throws(StoreError) -> Int {
                    chunk = []
                    chunkAt = 0
                    var seen = 0
                    let from = walkedTo
                    do throws(StoreError) {
                        try db.query("SELECT name, labels, revision, generation, json FROM objects WHERE name > ? ORDER BY name LIMIT 256",
                                     [.text(walkedTo)]) { row throws(StoreError) in
                            let name = row.text(0) ?? ""
                            let labels = row.text(1)
                            seen += 1
                            walkedTo = name
                            guard unchanged(name), selected(labels) else { return }
                            chunk.append((name, StoredRow(labels: labels, revision: row.integer(2), generation: row.integer(3),
                                                          json: row.utf8(4) ?? [])))
                        }
                    } catch {
                        chunk = []
                        seen = 0
                        walkedTo = from
                        try db.query("SELECT name FROM objects WHERE name > ? ORDER BY name LIMIT 256", [.text(from)]) { row throws(StoreError) in
                            let name = row.text(0) ?? ""
                            seen += 1
                            walkedTo = name
                            if unchanged(name) { chunk.append((name, nil)) }
                        }
                    }
                    return seen
                }
                /// The next unchanged name and, when the walk read it already, its row.
                func nextUnchanged() throws(StoreError) -> (name: String, row: StoredRow?)? {
                    while true {
                        if let candidates {
                            guard candidateAt < candidates.count else { return nil }
                            let name = candidates[candidates.startIndex + candidateAt]
                            candidateAt += 1
                            if unchanged(name) { return (name, nil) }
                            continue
                        }
                        if chunkAt == chunk.count {
                            guard !walkDone else { return nil }
                            if try readChunk() < 256 { walkDone = true }
                            continue
                        }
                        chunkAt += 1
                        return chunk[chunkAt - 1]
                    }
                }

                /// The object `name` had at `at`, when it matches (nil: absent, filtered out or damaged).
                func fromChange(_ name: String, peek: Bool) throws(StoreError) -> NameService? {
                    guard let change = changed[name], !change.added else { return nil }
                    var prev: [UInt8]?
                    var prevRevision: Int64?
                    try db.query("SELECT prev, prev_revision FROM events WHERE revision = ?", [.integer(change.revision)]) { row throws(StoreError) in
                        prev = row.utf8(0)
                        prevRevision = row.isNull(1) ? nil : row.integer(1)
                    }
                    guard let prev else {
                        throw StoreError(.expired, "the change history no longer holds \(name) as it was at revision \(at); list again from the start")
                    }
                    var object = try Self.decode(prev, what: "the document before event \(change.revision)", path: path, decoder: decoder)
                    if let prevRevision { object.metadata.resourceVersion = String(prevRevision) }
                    guard selector?.matches(object.metadata.labels) ?? true else { return nil }
                    return object
                }

                func fromRow(_ name: String, read: StoredRow?, peek: Bool) throws(StoreError) -> NameService? {
                    let row: StoredRow?
                    do throws(StoreError) {
                        if let read { row = read } else { row = try Self.readRow(db, name) }
                    } catch {
                        self.noteDamage(name, "object \(name) in \(path) cannot be read: \(error.message)")
                        return nil
                    }
                    guard let row else { return nil }
                    if let selector, candidates == nil, read == nil {
                        guard let labels = row.labels.flatMap(index.labels(ofText:)), selector.matches(labels) else { return nil }
                    }
                    if peek { return NameService(metadata: ObjectMeta(name: name), spec: NameServiceSpec(fqdn: "", ttl: 0, targets: [])) }
                    do throws(StoreError) {
                        return try Self.object(name, row, path: path, decoder: decoder)
                    } catch {
                        self.noteDamage(name, error.message)
                        return nil
                    }
                }

                var items: [NameService] = []
                var pendingUnchanged = try nextUnchanged()
                var more = false
                while true {
                    let takeChanged: Bool
                    switch (changedNames.last, pendingUnchanged) {
                    case (nil, nil): takeChanged = false
                    case (.some, nil): takeChanged = true
                    case (nil, .some): takeChanged = false
                    case (.some(let c), .some(let u)): takeChanged = nameOrder(c, u.name)
                    }
                    let peek = items.count >= want
                    let object: NameService?
                    if takeChanged {
                        object = try fromChange(changedNames.removeLast(), peek: peek)
                    } else if let unchanged = pendingUnchanged {
                        object = try fromRow(unchanged.name, read: unchanged.row, peek: peek)
                        pendingUnchanged = try nextUnchanged()
                    } else {
                        break
                    }
                    guard let object else { continue }
                    if peek {
                        more = true
                        break
                    }
                    items.append(object)
                }
                let token = more ? items.last.map { ContinueToken.encode(revision: at, after: $0.metadata.name) } : nil
                return ListPage(items: items, revision: at, continueToken: token)
            }
        }
    }

    // MARK: Writes (queued; committed in groups; each call waiting at most `writeTimeout`)

    public nonisolated func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService {
        try await submit("put of \(nameService.metadata.name)", [.put(nameService, ifVersion: ifVersion)])[0].get()
    }

    public nonisolated func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await submit("status update of \(name)", [.status(name, status, ifGeneration: ifGeneration)])[0].get()
    }

    /// Every update in one transaction (one fsync), each with its own result (conflict on a
    /// generation mismatch, notFound), in order.
    public nonisolated func updateStatuses(_ updates: [StatusUpdate]) async -> [Result<NameService, StoreError>] {
        guard !updates.isEmpty else { return [] }
        return await submit("batch of \(updates.count) status updates", updates.map { .status($0.name, $0.status, ifGeneration: $0.ifGeneration) })
    }

    public nonisolated func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await submit("drain update of \(name)", [.drains(name, drains, ifVersion: ifVersion)])[0].get()
    }

    public nonisolated func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService {
        try await submit("delete of \(name)", [.delete(name, ifVersion: ifVersion)])[0].get()
    }

    /// Queues `ops` as one group and waits at most `writeTimeout` for their results. The writes
    /// themselves are not cancelled (a commit that is waiting for the disk cannot be taken back):
    /// past the timeout the caller gets `.timedOut`, and they complete or fail when the disk answers.
    private nonisolated func submit(_ what: String, _ ops: [WriteOp]) async -> [Result<NameService, StoreError>] {
        let id = pending.begin()
        let timeout = writeTimeout
        let path = path
        let pending = pending
        let outcome = await withCheckedContinuation { (c: CheckedContinuation<Result<[Result<NameService, StoreError>], StoreError>, Never>) in
            let first = FirstResult(c)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                first.resume(.failure(StoreError(
                    .timedOut,
                    "the \(what) did not finish within \(Self.seconds(timeout)) s (store.writeTimeoutSeconds): the disk under \(path) "
                        + "is not answering; the write's outcome is unknown until it does (it may still be applied): read the object back before retrying")))
            }
            let group = WriteGroup(ops: ops) { results in
                pending.end(id)
                timer.cancel()
                first.resume(.success(results))
            }
            if queue.submit(group) {
                Task { await self.drain() }
            }
        }
        switch outcome {
        case .success(let results): return results
        case .failure(let error): return ops.map { _ in .failure(error) }
        }
    }

    /// The writer: commits what has been queued, a transaction at a time, until the queue is empty.
    private func drain() {
        while true {
            let groups = queue.take(maxOps: maxBatch)
            guard !groups.isEmpty else { return }
            let results = commit(groups)
            for (group, r) in zip(groups, results) { group.done(r) }
        }
    }

    /// A write applied inside the transaction, to hand to the history and the index after commit.
    private struct Applied {
        let kind: StoreEvent.Kind
        let name: String
        let revision: Int64
        let json: [UInt8]
        let labels: (text: String, map: [String: String])?
    }

    /// One transaction for every op of `groups`, in order; one result per op.
    private func commit(_ groups: [WriteGroup]) -> [[Result<NameService, StoreError>]] {
        var results: [[Result<NameService, StoreError>]] = groups.map { _ in [] }
        var applied: [Applied] = []
        do throws(StoreError) {
            let db = try db()
            let compactedThrough = watchers.compactedThrough()
            try db.transaction { () throws(StoreError) in
                let start = try Self.currentRevision(db, path: path)
                var revision = start
                for (g, group) in groups.enumerated() {
                    for op in group.ops {
                        results[g].append(try apply(op, db, &revision, &applied))
                    }
                }
                guard revision > start else { return }
                try db.run("UPDATE meta SET value = ? WHERE key = 'revision'", [.integer(revision)])
                try db.run("DELETE FROM events WHERE revision <= ?", [.integer(min(compactedThrough, revision - 1))])
            }
        } catch {
            // Nothing of this transaction is stored: every write in it fails (a write refused by
            // the rules keeps its own error).
            return groups.enumerated().map { g, group in
                (0..<group.ops.count).map { i in
                    if i < results[g].count, case .failure(let own) = results[g][i], own.code != .unavailable { return .failure(own) }
                    return .failure(error)
                }
            }
        }
        commits.add(writes: applied.count)
        for a in applied {
            watchers.append(revision: a.revision, kind: a.kind, json: a.json)
            index.apply(a.name, revision: a.revision, labels: a.labels)
        }
        return results
    }

    /// Applies one op over what the transaction holds so far. Throws only what fails the whole
    /// transaction (SQLite); the op's own refusal (conflict, notFound, invalid) is its result.
    private func apply(_ op: WriteOp, _ db: SQLiteConnection, _ revision: inout Int64,
                       _ applied: inout [Applied]) throws(StoreError) -> Result<NameService, StoreError> {
        let name = op.name
        // A row that cannot be read back (damaged) counts as missing: a put replaces it.
        var stored: StoredRow?
        var existing: NameService?
        if let row = try? Self.readRow(db, name), let object = try? Self.object(name, row, path: path, decoder: decoder) {
            stored = row
            existing = object
        }
        let decided: (kind: StoreEvent.Kind, object: NameService)?
        do throws(StoreError) {
            switch op {
            case .put(let incoming, let ifVersion):
                decided = try StoreRules.applyPut(incoming, to: existing, ifVersion: ifVersion).map { (existing == nil ? .added : .modified, $0) }
            case .status(_, let status, let ifGeneration):
                decided = try StoreRules.applyStatus(status, name: name, to: existing, ifGeneration: ifGeneration).map { (.modified, $0) }
            case .drains(_, let drains, let ifVersion):
                decided = try StoreRules.applyDrains(drains, name: name, to: existing, ifVersion: ifVersion).map { (.modified, $0) }
            case .delete(_, let ifVersion):
                decided = (.deleted, try StoreRules.checkDelete(name: name, existing: existing, ifVersion: ifVersion))
            }
        } catch {
            return .failure(error)
        }
        guard let (kind, decidedObject) = decided else { return .success(existing!) }  // the rules return nil only over an existing object
        var object = decidedObject
        object.metadata.resourceVersion = nil  // stored without it: the revision columns hold it
        if kind == .added { object.metadata.creationRevision = revision + 1 }  // the revision committed below
        let json: [UInt8]
        if kind == .deleted, let stored {
            json = stored.json  // the event carries the object as it was
        } else {
            do throws(StoreError) { json = try encode(object) } catch { return .failure(error) }
        }
        revision += 1
        object.metadata.resourceVersion = String(revision)
        let labelText = LabelText.encode(object.metadata.labels)
        switch kind {
        case .added, .modified:
            try db.run("""
                INSERT INTO objects(name, labels, revision, generation, json) VALUES(?, ?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET labels = excluded.labels, revision = excluded.revision,
                                                generation = excluded.generation, json = excluded.json
                """,
                       [.text(name), .text(labelText), .integer(revision), .integer(object.metadata.generation), .utf8(json)])
        case .deleted:
            try db.run("DELETE FROM objects WHERE name = ?", [.text(name)])
        }
        try db.run("INSERT INTO events(revision, kind, name, json, prev, prev_revision) VALUES(?, ?, ?, ?, ?, ?)",
                   [.integer(revision), .text(kind.rawValue), .text(name), .utf8(json),
                    stored.map { .utf8($0.json) } ?? .null, stored.map { .integer($0.revision) } ?? .null])
        applied.append(Applied(kind: kind, name: name, revision: revision, json: json,
                               labels: kind == .deleted ? nil : (labelText, object.metadata.labels)))
        return .success(object)
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

    /// The object a row holds; its columns are authoritative for revision and generation.
    private static func object(_ name: String, _ row: StoredRow, path: String, decoder: JSONDecoder) throws(StoreError) -> NameService {
        var object = try decode(row.json, what: "object \(name)", path: path, decoder: decoder)
        guard object.metadata.name == name else {
            throw StoreError(.corrupt, "object \(name) in \(path) holds the document of '\(object.metadata.name)'")
        }
        object.metadata.resourceVersion = String(row.revision)
        object.metadata.generation = row.generation
        return object
    }

    private static func decode(_ json: [UInt8], what: String, path: String, decoder: JSONDecoder) throws(StoreError) -> NameService {
        do {
            return try NameService.decodeStored(json, decoder: decoder)
        } catch {
            throw StoreError(.corrupt, "\(what) in \(path) does not decode: \(error)")
        }
    }

    private func encode(_ object: NameService) throws(StoreError) -> [UInt8] {
        do {
            return Array(try encoder.encode(object))
        } catch {
            throw StoreError(.invalid, "NameService \(object.metadata.name) does not encode as JSON: \(error)")
        }
    }
}

/// Transactions committed and the writes they held.
final class CommitCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var transactions = 0
    private var writes = 0

    func add(writes n: Int) {
        lock.lock()
        transactions += 1
        writes += n
        lock.unlock()
    }

    var value: (transactions: Int, writes: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (transactions, writes)
    }
}

import CSQLite
import Foundation
import GSLB
import NameServiceStore
import Testing

/// What only the SQLite store promises: the file survives the process.
@Suite("SQLiteNameServiceStore durability")
struct SQLiteNameServiceStoreTests {
    @Test func reopeningServesEverythingAgain() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            #expect(path == dir + "/nameservices.db")
            let first = try SQLiteNameServiceStore(path: path)
            _ = try await first.put(nameService("a", labels: ["team": "pay"]), ifVersion: nil)
            _ = try await first.put(nameService("b"), ifVersion: nil)
            _ = try await first.put(nameService("c"), ifVersion: nil)
            _ = try await first.updateStatus("a", status: status("Valid", generation: 1), ifGeneration: 1)
            _ = try await first.put(nameService("a", labels: ["team": "pay"], ttl: 7), ifVersion: nil)
            _ = try await first.delete("b", ifVersion: nil)
            let before = try await first.list(selector: nil)
            await first.close()
            await #expect(throws: StoreError(.unavailable, "")) { try await first.get("a") }

            let second = try SQLiteNameServiceStore(path: path)
            let after = try await second.list(selector: nil)
            #expect(after.revision == 6)
            #expect(after.items == before.items)
            let a = try #require(try await second.get("a"))
            #expect(a.metadata.generation == 2)
            #expect(a.metadata.resourceVersion == "5")
            #expect(a.status == status("Valid", generation: 1))
            #expect(a.metadata.labels == ["team": "pay"])

            let history = try await collect(second.watch(fromRevision: 0), count: 6)
            #expect(history.map(\.revision) == Array(1...6))
            #expect(history.map(\.kind) == [.added, .added, .added, .modified, .modified, .deleted])

            // Revisions continue from the stored one, and generations from the stored ones.
            let next = try await second.put(nameService("a", ttl: 8), ifVersion: "5")
            #expect(next.metadata.resourceVersion == "7")
            #expect(next.metadata.generation == 3)
            await second.close()
        }
    }

    /// The file as a crash leaves it: 200 acknowledged writes, the store never closed (a clean
    /// close checkpoints the WAL into the database file and removes it), and the files copied
    /// aside without SQLite's shared-memory index, so opening the copy must recover the WAL as
    /// after kill -9. The lead's end-to-end test does the real kill -9.
    @Test func acknowledgedWritesSurviveAnUncleanStop() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            var acknowledged: [String: NameService] = [:]
            let store = try SQLiteNameServiceStore(path: path)
            for i in 0..<200 {
                let ns = try await store.put(nameService("n\(i)", labels: ["i": "\(i)"], ttl: i), ifVersion: nil)
                acknowledged[ns.metadata.name] = ns
            }
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))

            let crashed = dir + "/crashed"
            try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: false)
            let copy = SQLiteNameServiceStore.databasePath(stateDirectory: crashed)
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
            #expect(!FileManager.default.fileExists(atPath: copy + "-shm"))

            let recovered = try SQLiteNameServiceStore(path: copy)
            #expect(try await recovered.revision() == 200)
            let items = try await recovered.list(selector: nil).items
            #expect(items.count == 200)
            for item in items { #expect(acknowledged[item.metadata.name] == item) }
            await recovered.close()

            // The original file opens again too, while its first store is still open and unclosed.
            let reopened = try SQLiteNameServiceStore(path: path)
            #expect(try await reopened.list(selector: nil).items.count == 200)
            await reopened.close()
            await store.close()
        }
    }

    /// A file written by the previous schema (version 1: documents with their resourceVersion, no
    /// labels column, events without the replaced document) opens: the labels column is filled
    /// (selectors work), objects, revisions and history are served, and writes go on.
    @Test func aVersion1FileIsUpgraded() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            func doc(_ ns: NameService, _ rv: Int) throws -> String {
                var ns = ns
                ns.metadata.generation = 1
                ns.metadata.resourceVersion = String(rv)
                return String(decoding: try encoder.encode(ns), as: UTF8.self).replacingOccurrences(of: "'", with: "''")
            }
            let a = try doc(nameService("a", labels: ["team": "pay"]), 1), b = try doc(nameService("b"), 2)
            do {
                let raw = try RawSQLite(path, create: true)
                try raw.exec("""
                    PRAGMA journal_mode=WAL;
                    CREATE TABLE objects(name TEXT PRIMARY KEY NOT NULL, json TEXT NOT NULL, revision INTEGER NOT NULL, generation INTEGER NOT NULL);
                    CREATE TABLE events(revision INTEGER PRIMARY KEY NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, json TEXT NOT NULL);
                    CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                    INSERT INTO meta VALUES('revision', 2);
                    INSERT INTO objects VALUES('a', '\(a)', 1, 1), ('b', '\(b)', 2, 1);
                    INSERT INTO events VALUES(1, 'ADDED', 'a', '\(a)'), (2, 'ADDED', 'b', '\(b)');
                    PRAGMA user_version = 1;
                    """)
            }
            let store = try SQLiteNameServiceStore(path: path)
            #expect(try RawSQLite(path).text("PRAGMA user_version") == "2")
            #expect(try RawSQLite(path).text("SELECT labels FROM objects WHERE name = 'a'") == "team=pay")
            #expect(try await store.list(selector: LabelSelector(parsing: "team=pay")).items.map(\.metadata.name) == ["a"])
            #expect(try await store.get("b")?.metadata.resourceVersion == "2")
            #expect(try await collect(store.watch(fromRevision: 0), count: 2).map(\.object.metadata.name) == ["a", "b"])
            let first = try await store.listPage(ListOptions(limit: 1))
            #expect(first.items.map(\.metadata.name) == ["a"])
            #expect(try ContinueToken.decode(#require(first.continueToken)).revision == 2, "the store's own paging, not the protocol's default")
            _ = try await store.put(nameService("b", ttl: 5), ifVersion: "2")
            let second = try await store.listPage(ListOptions(limit: 1, continueToken: first.continueToken))
            #expect(second.items.map(\.metadata.resourceVersion) == ["2"], "b as of the first page")
            await store.close()
        }
    }

    @Test func fileUsesWALWithTheSchema() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let store = try SQLiteNameServiceStore(path: path)
            _ = try await store.put(nameService("a"), ifVersion: nil)
            let raw = try RawSQLite(path)
            #expect(try raw.text("PRAGMA journal_mode") == "wal")
            #expect(try raw.text("SELECT value FROM meta WHERE key = 'revision'") == "1")
            #expect(try raw.text("SELECT name || ' ' || revision || ' ' || generation FROM objects") == "a 1 1")
            #expect(try raw.text("SELECT revision || ' ' || kind || ' ' || name FROM events") == "1 ADDED a")
            let json = try #require(try raw.text("SELECT json FROM objects"))
            #expect(json.hasPrefix("{\"apiVersion\":\"globaldns.io/v1alpha1\",\"kind\":\"NameService\",\"metadata\":{"))
            await store.close()
        }
    }

    @Test func undecodableJSONIsCorruptNotMissing() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let first = try SQLiteNameServiceStore(path: path)
            _ = try await first.put(nameService("a"), ifVersion: nil)
            _ = try await first.put(nameService("b"), ifVersion: nil)
            await first.close()
            try RawSQLite(path).exec("UPDATE objects SET json = '{not json' WHERE name = 'a'; UPDATE events SET json = '[]' WHERE revision = 1")

            let store = try SQLiteNameServiceStore(path: path)
            await #expect(throws: StoreError(.corrupt, "")) { try await store.get("a") }
            // One damaged row does not fail the list: the others are served.
            #expect(try await store.list(selector: nil).items.map(\.metadata.name) == ["b"])
            #expect(try await store.get("b")?.metadata.name == "b")
            #expect(try await store.revision() == 2)
            #expect(try await failure(of: store.watch(fromRevision: 0))?.code == .corrupt)
            #expect(try await collect(store.watch(fromRevision: 1), count: 1).first?.object.metadata.name == "b")
            await store.close()
        }
    }

    /// A file written before `metadata.creationRevision` existed: each object gets its row's
    /// revision once, at open (what a restart ordered claims by before), a damaged row stays as it
    /// is, and creations afterwards get theirs as they are committed.
    @Test func objectsWithoutACreationRevisionGetTheirRowRevisionOnce() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let first = try SQLiteNameServiceStore(path: path)
            _ = try await first.put(nameService("zeta"), ifVersion: nil)   // revision 1
            _ = try await first.put(nameService("alpha"), ifVersion: nil)  // 2
            _ = try await first.put(nameService("broken"), ifVersion: nil) // 3
            _ = try await first.put(nameService("zeta", ttl: 7), ifVersion: nil)  // 4
            await first.close()
            let raw = try RawSQLite(path)
            try raw.exec("""
                UPDATE objects SET json = json_remove(json, '$.metadata.creationRevision');
                UPDATE objects SET json = '{not json' WHERE name = 'broken';
                DELETE FROM meta WHERE key = 'creation_revisions';
                """)
            #expect(try raw.text("SELECT json_extract(json, '$.metadata.creationRevision') FROM objects WHERE name = 'zeta'") == nil)

            let store = try SQLiteNameServiceStore(path: path)
            #expect(try await store.get("zeta")?.metadata.creationRevision == 4)
            #expect(try await store.get("alpha")?.metadata.creationRevision == 2)
            await #expect(throws: StoreError(.corrupt, "")) { try await store.get("broken") }
            #expect(try raw.text("SELECT value FROM meta WHERE key = 'creation_revisions'") == "1")
            let created = try await store.put(nameService("beta"), ifVersion: nil)
            #expect(created.metadata.creationRevision == 5)
            await store.close()
            // once only: a later open leaves the documents alone
            try raw.exec("UPDATE objects SET json = json_remove(json, '$.metadata.creationRevision') WHERE name = 'alpha'")
            let again = try SQLiteNameServiceStore(path: path)
            #expect(try await again.get("alpha")?.metadata.creationRevision == nil)
            #expect(try await again.get("beta")?.metadata.creationRevision == 5)
            await again.close()
        }
    }

    @Test func unusablePathIsUnavailable() async throws {
        try await withTemporaryDirectory { dir in
            #expect(throws: StoreError(.unavailable, "")) {
                try SQLiteNameServiceStore(path: dir + "/no/such/dir/nameservices.db")
            }
            #expect(throws: StoreError(.invalid, "")) {
                try SQLiteNameServiceStore(path: dir + "/x.db", eventHistoryLimit: 0)
            }
        }
    }

    @Test func closingEndsWatchStreams() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir))
            let stream = store.watch(fromRevision: 0)
            _ = try await store.put(nameService("a"), ifVersion: nil)
            let (first, error) = try await withTimeout(10, "the stream to end") {
                var iterator = stream.makeAsyncIterator()
                let first = try await iterator.next()?.revision
                await store.close()
                do {
                    while try await iterator.next() != nil {}
                    return (first, nil as StoreError?)
                } catch let e as StoreError { return (first, e) }
            }
            #expect(first == 1)
            #expect(error?.code == .unavailable)
        }
    }
}

/// A second, plain connection to the same file, for looking at (and damaging) what the store wrote.
final class RawSQLite {
    private var db: OpaquePointer?

    init(_ path: String, create: Bool = false) throws {
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), nil) == SQLITE_OK else {
            throw StoreError(.unavailable, "cannot open \(path)")
        }
        sqlite3_busy_timeout(db, 5_000)
    }

    deinit { sqlite3_close_v2(db) }

    func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw StoreError(.unavailable, "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    func text(_ sql: String) throws -> String? {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else {
            throw StoreError(.unavailable, "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW, let p = sqlite3_column_text(stmt, 0) else { return nil }
        return String(cString: p)
    }
}

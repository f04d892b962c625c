import CSQLite
import Foundation
import GSLB
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// Issue 12 on a real SQLite file: replays that do not hold up the store, a history bounded in
/// bytes and age, watchers without buffers of their own, damaged rows that do not take the others
/// down, and a stalled disk that holds up neither reads nor (past a timeout) writers.
@Suite("SQLite store under abuse")
struct SQLiteStoreHardeningTests {
    /// A NameService with `targets` targets (a 300-target object is the issue's large write).
    static func large(_ name: String, targets: Int, ttl: Int = 30) -> NameService {
        NameService(metadata: ObjectMeta(name: name),
                    spec: NameServiceSpec(fqdn: "\(name).g.example.com", ttl: ttl,
                                          targets: (0..<targets).map { i in
                                              Target(name: "target-\(i)", addresses: ["192.0.2.\(i % 250 + 1)"])
                                          }))
    }

    // MARK: Item 1: replays

    /// 50 watches from revision 0 over a 20,000-event history, each taking one event and then
    /// not reading (a client that stopped): writes, gets and lists answer at once meanwhile (the
    /// old replay decoded the whole history for every watcher on the store's queue first), the
    /// stalled watchers resume where they were, and cancelled ones are forgotten at once.
    @Test func replaysDoNotHoldUpReadsOrWrites() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let seed = try SQLiteNameServiceStore(path: path)
            _ = try await seed.put(nameService("big"), ifVersion: nil)
            await seed.close()
            // A long history written in one raw transaction (20,000 fsynced puts would take minutes).
            let raw = try RawSQLite(path)
            try raw.exec("""
                BEGIN;
                WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                INSERT INTO events(revision, kind, name, json) SELECT i, 'MODIFIED', 'big', (SELECT json FROM events WHERE revision = 1) FROM n;
                UPDATE meta SET value = 20000 WHERE key = 'revision';
                UPDATE objects SET revision = 20000;
                COMMIT;
                """)
            let store = try SQLiteNameServiceStore(path: path, history: EventHistoryLimits(maxEvents: 50_000))
            #expect(store.historyUsage.events == 20_000)

            let streams = (0..<50).map { _ in store.watch(fromRevision: 0) }
            let firsts = try await withTimeout(30, "50 watchers to take their first event") { () async throws -> [Int64?] in
                var revisions: [Int64?] = []
                for s in streams {
                    var it = s.makeAsyncIterator()
                    revisions.append(try await it.next()?.revision)
                }
                return revisions
            }
            #expect(firsts == Array(repeating: 1, count: 50))
            #expect(store.liveWatchCount() == 50)
            let (written, listed) = try await withTimeout(10, "a write and a list while 50 replays are open") {
                let w = try await store.put(nameService("other"), ifVersion: nil)
                let l = try await store.list(selector: nil)
                return (w, l)
            }
            #expect(written.metadata.resourceVersion == "20001")
            #expect(listed.items.map(\.metadata.name) == ["big", "other"])
            #expect(listed.revision == 20001)

            // A stalled watcher picks up where it stopped, without a gap.
            var resumed = streams[0].makeAsyncIterator()
            for expected in Int64(2)...4 { #expect(try await resumed.next()?.revision == expected) }

            // Consumers that go away are forgotten at once, mid-replay.
            let consumers = (0..<10).map { _ in
                Task {
                    var n = 0
                    for try await _ in store.watch(fromRevision: 0) {
                        n += 1
                        if n == 100 { try await Task.sleep(for: .seconds(60)) }
                    }
                }
            }
            try await waitUntil("the consumers to open their streams") { store.liveWatchCount() == 60 }
            for c in consumers { c.cancel() }
            try await waitUntil("cancelled watches to be forgotten") { store.liveWatchCount() == 50 }
            await store.close()
        }
    }

    /// A watch from a revision the store has not reached fails at once with its own code and the
    /// current revision (Kubernetes: 504 "Too large resource version"), instead of waiting forever.
    @Test(arguments: [StoreKind.sqlite, .memory])
    func watchFromTheFutureFailsAtOnce(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for n in ["a", "b", "c"] { _ = try await store.put(nameService(n), ifVersion: nil) }
            for from in [Int64(4), 1_000, Int64.max] {
                let error = try await failure(of: store.watch(fromRevision: from), seconds: 5)
                #expect(error?.code == .tooLargeResourceVersion)
                #expect(error?.currentRevision == 3)
                #expect(error?.message.contains("too large resource version: \(from), current: 3") == true)
            }
            try await waitUntil("failed watches to be forgotten") { await liveWatchCount(store) == 0 }
            // The current revision itself is fine: the next write arrives.
            let stream = store.watch(fromRevision: 3)
            _ = try await store.put(nameService("d"), ifVersion: nil)
            #expect(try await collect(stream, count: 1).map(\.revision) == [4])
        }
    }

    // MARK: Item 2: the history is bounded in bytes and age

    @Test func historyStaysUnderItsByteBoundAndOldRevisionsExpire() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let maxBytes = 1 << 20
            let store = try SQLiteNameServiceStore(path: path, history: EventHistoryLimits(maxEvents: 10_000, maxBytes: maxBytes))
            let one = try #require(try JSONEncoder().encode(Self.large("n", targets: 300)).count)
            #expect(one > 10_000, "a 300-target object is large")
            for i in 0..<300 {
                _ = try await store.put(Self.large("n\(i % 7)", targets: 300, ttl: i + 1), ifVersion: nil)
                #expect(store.historyUsage.bytes <= maxBytes)
            }
            let (events, bytes) = store.historyUsage
            #expect(events < 300 && events >= maxBytes / (one + 1000))
            #expect(bytes <= maxBytes)
            // On disk too: the events table keeps what the history keeps (and at most one more).
            let onDisk = try #require(Int(try RawSQLite(path).text("SELECT COUNT(*) FROM events") ?? ""))
            #expect(onDisk <= events + 1)

            let oldest = Int64(300 - events + 1)
            let expired = try await failure(of: store.watch(fromRevision: 1))
            #expect(expired?.code == .compacted)
            #expect(expired?.oldestRevision == oldest)
            let kept = try await collect(store.watch(fromRevision: oldest - 1), count: events)
            #expect(kept.map(\.revision) == Array(oldest...300))
            #expect(kept.last?.object.spec.ttl == 300)
            await store.close()

            // Reopened, the history read back from disk is bounded the same way.
            let reopened = try SQLiteNameServiceStore(path: path, history: EventHistoryLimits(maxEvents: 10_000, maxBytes: maxBytes))
            #expect(reopened.historyUsage.bytes <= maxBytes)
            #expect(try await failure(of: reopened.watch(fromRevision: 1))?.code == .compacted)
            #expect(try await collect(reopened.watch(fromRevision: 299), count: 1).first?.object.spec.ttl == 300)
            await reopened.close()
        }
    }

    @Test(arguments: [StoreKind.sqlite, .memory])
    func historyOlderThanItsAgeIsCompacted(_ kind: StoreKind) async throws {
        let limits = EventHistoryLimits(maxEvents: 100, maxBytes: 1 << 20, maxAge: .milliseconds(500))
        try await withTemporaryDirectory { dir in
            let store: any NameServiceStore = kind == .sqlite
                ? try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir), history: limits)
                : InMemoryNameServiceStore(history: limits)
            for i in 0..<5 { _ = try await store.put(nameService("n\(i)"), ifVersion: nil) }
            // Revision 4 aged out means every older one did too (no write since).
            try await waitUntil("events older than 500 ms to be compacted") {
                // A watch that is not compacted replays 4 and 5, then waits: give up on it quickly.
                (try? await failure(of: store.watch(fromRevision: 3), seconds: 0.3))??.code == .compacted
            }
            let error = try await failure(of: store.watch(fromRevision: 0))
            #expect(error?.code == .compacted && error?.oldestRevision == 5)
            // The newest event is always kept, so a watcher that is up to date can resume.
            let stream = store.watch(fromRevision: 4)
            #expect(try await collect(stream, count: 1).map(\.revision) == [5])
            if let s = store as? SQLiteNameServiceStore { await s.close() }
        }
    }

    // MARK: Item 3: a watcher that stops reading holds no memory of its own

    /// A watcher that stops after one event while 300 large objects are written: nothing is
    /// buffered for it (the history stays under its bound), and when it reads again it ends with
    /// 410-style `.compacted` so it relists, instead of having grown the server's memory.
    @Test(arguments: [StoreKind.sqlite, .memory])
    func aWatcherThatStopsReadingIsExpiredNotBuffered(_ kind: StoreKind) async throws {
        let limits = EventHistoryLimits(maxEvents: 10_000, maxBytes: 512 << 10)
        try await withTemporaryDirectory { dir in
            let store: any NameServiceStore = kind == .sqlite
                ? try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir), history: limits)
                : InMemoryNameServiceStore(history: limits)
            var slow = store.watch(fromRevision: 0).makeAsyncIterator()
            let live = store.watch(fromRevision: 0)
            _ = try await store.put(Self.large("first", targets: 300), ifVersion: nil)
            #expect(try await slow.next()?.revision == 1)
            for i in 0..<300 { _ = try await store.put(Self.large("n\(i % 5)", targets: 300, ttl: i + 1), ifVersion: nil) }
            let usage = kind == .sqlite ? (store as! SQLiteNameServiceStore).historyUsage
                                        : (store as! InMemoryNameServiceStore).historyUsage
            #expect(usage.bytes <= 512 << 10)
            #expect(await liveWatchCount(store) == 2)
            do {
                _ = try await slow.next()
                Issue.record("a watcher that fell behind the history got an event")
            } catch let error as StoreError {
                #expect(error.code == .compacted)
            }
            #expect(await liveWatchCount(store) == 1)
            _ = live
            if let s = store as? SQLiteNameServiceStore { await s.close() }
        }
    }

    // MARK: Item 4: damaged rows

    /// Two damaged rows (JSON that does not decode; the document of another name): every other
    /// object is listed, the damaged ones are reported (and logged through `onDamage`), a GET of
    /// one says it is corrupt instead of "not found", and writing it again repairs it.
    @Test func damagedRowsAreReportedAndTheOthersServed() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let first = try SQLiteNameServiceStore(path: path)
            for i in 0..<20 { _ = try await first.put(nameService("n\(i)", labels: ["i": "\(i)"]), ifVersion: nil) }
            await first.close()
            try RawSQLite(path).exec("""
                UPDATE objects SET json = '{not json' WHERE name = 'n3';
                UPDATE objects SET json = (SELECT json FROM objects WHERE name = 'n1') WHERE name = 'n7';
                """)
            let reports = Reports()
            let store = try SQLiteNameServiceStore(path: path, onDamage: { reports.add($0, $1) })
            let listed = try await store.list(selector: nil)
            #expect(listed.items.count == 18)
            #expect(!listed.items.contains { ["n3", "n7"].contains($0.metadata.name) })
            #expect(listed.revision == 20)
            #expect(try await store.list(selector: LabelSelector(parsing: "i=5")).items.map(\.metadata.name) == ["n5"])
            #expect(store.damagedObjects.map(\.name) == ["n3", "n7"])
            #expect(store.damagedObjects[0].problem.contains("does not decode"))
            #expect(store.damagedObjects[1].problem.contains("holds the document of 'n1'"))
            #expect(reports.names == ["n3", "n7"])
            await #expect(throws: StoreError(.corrupt, "")) { try await store.get("n3") }
            #expect(try await store.get("n4")?.metadata.name == "n4")

            // Writes go on, and writing a damaged name replaces its row.
            _ = try await store.put(nameService("new"), ifVersion: nil)
            let repaired = try await store.put(nameService("n3"), ifVersion: nil)
            #expect(repaired.metadata.generation == 1)
            #expect(store.damagedObjects.map(\.name) == ["n7"])
            #expect(try await store.list(selector: nil).items.count == 20)
            await store.close()
        }
    }

    /// A page of the objects table overwritten on disk: SQLite stops a full scan there with
    /// "database disk image is malformed". The names on that page are reported; every object on
    /// an intact page is still served.
    @Test func aCorruptPageLosesOnlyItsOwnRows() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let first = try SQLiteNameServiceStore(path: path)
            for i in 0..<200 {
                let name = i == 100 ? "victim" : "n\(i)"
                _ = try await first.put(nameService(name, fqdn: i == 100 ? "marker-0f1e2d.g.example.com" : nil), ifVersion: nil)
            }
            await first.close()
            do {
                // Only the objects table keeps the marker; VACUUM leaves no stale copy behind.
                let raw = try RawSQLite(path)
                try raw.exec("DELETE FROM events; VACUUM;")
            }
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let pageSize = Int(bytes[16]) << 8 | Int(bytes[17])  // the header's page size, big-endian
            try #require(pageSize >= 512)
            let marker = Array("marker-0f1e2d".utf8)
            let at = try #require(bytes.indices.dropLast(marker.count).first { bytes[$0..<($0 + marker.count)].elementsEqual(marker) })
            let page = at / pageSize
            try #require(page > 0, "the marker is not on the schema page")
            #expect(bytes[page * pageSize] == 0x0D, "a table leaf page")
            bytes[page * pageSize] = 0x01  // not a page type
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let reports = Reports()
            let store = try SQLiteNameServiceStore(path: path, onDamage: { reports.add($0, $1) })
            // Open reads only the names index (issue 13: a million rows open in seconds), so the
            // damaged page is found by the first read of its rows.
            let served = try await store.list(selector: nil).items.map(\.metadata.name)
            let damaged = store.damagedObjects.map(\.name)
            #expect(damaged.contains("victim"))
            #expect(damaged.count < 40, "only the rows of one page are lost: \(damaged)")
            #expect(store.damagedObjects.allSatisfy { $0.problem.contains("malformed") || $0.problem.contains("corrupt") })
            await #expect(throws: StoreError(.corrupt, "")) { try await store.get("victim") }
            #expect(served.count + damaged.count == 200)
            #expect(Set(served).isDisjoint(with: damaged))
            #expect(reports.names == damaged)
            #expect(try await store.list(selector: nil).items.map(\.metadata.name) == served, "reported once, left out after")
            await store.close()
        }
    }

    // MARK: Item 5: a stalled disk

    /// A second connection holds the database's write lock (`BEGIN EXCLUSIVE`), so the store's
    /// commit waits as it would on a frozen disk: reads answer from memory at once, the write
    /// fails after the write timeout with `.timedOut` (outcome unknown), the store reports the
    /// stalled write for `/readyz`; once the lock goes the write lands and the report clears.
    @Test func aStalledWriteTimesOutWhileReadsGoOn() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let store = try SQLiteNameServiceStore(path: path, writeTimeout: .milliseconds(500))
            _ = try await store.put(nameService("a"), ifVersion: nil)
            #expect(store.problem == nil)

            let locker = try RawSQLite(path)
            try locker.exec("BEGIN EXCLUSIVE")
            let started = ContinuousClock.now
            let write = Task { () async -> Result<NameService, StoreError> in
                do throws(StoreError) { return .success(try await store.put(nameService("b"), ifVersion: nil)) } catch { return .failure(error) }
            }

            // Reads do not wait for the stalled writer.
            let (got, listed) = try await withTimeout(3, "reads during the stall") {
                (try await store.get("a"), try await store.list(selector: nil))
            }
            #expect(got?.metadata.name == "a")
            #expect(listed.items.map(\.metadata.name) == ["a"])

            let outcome = await write.value
            let waited = ContinuousClock.now - started
            guard case .failure(let error) = outcome else {
                Issue.record("the write succeeded while the database was locked")
                return
            }
            #expect(error.code == .timedOut)
            #expect(error.message.contains("outcome is unknown"))
            // Bounded by the write timeout, not by the stall (generous: the suite shares two cores).
            #expect(waited >= .milliseconds(500) && waited < .seconds(10))
            try await waitUntil("the stalled write to be reported") { store.problem != nil }
            #expect(store.problem?.contains("store.writeTimeoutSeconds") == true)

            try locker.exec("COMMIT")
            // The disk answered: the write whose outcome was unknown has landed.
            try await waitUntil("the write to land") { (try? await store.get("b")) != nil }
            try await waitUntil("the report to clear") { store.problem == nil }
            #expect(try await store.revision() == 2)
            await store.close()
        }
    }
}

/// What `onDamage` was told, in order.
final class Reports: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(String, String)] = []
    func add(_ name: String, _ problem: String) {
        lock.lock()
        items.append((name, problem))
        lock.unlock()
    }
    var names: [String] {
        lock.lock()
        defer { lock.unlock() }
        return items.map(\.0)
    }
}

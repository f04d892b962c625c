import CSQLite
import GSLB

/// One SQLite connection and its prepared statements. Not thread-safe: the store's actor is its
/// only user. Every failure becomes `StoreError(.unavailable)` carrying SQLite's own message.
final class SQLiteConnection {
    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// Opens (creating when missing) the database at `path`. `readOnly`: a reader connection of a
    /// database the store's writer connection has opened (and created) already; it refuses writes
    /// (`PRAGMA query_only`), and in WAL mode reads from its own snapshot while the writer commits.
    init(path: String, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (readOnly ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(handle)
            throw StoreError(.unavailable, "cannot open \(path): \(message)")
        }
        db = handle
        // Another process holding a write lock (a backup, an operator's sqlite3 shell) is waited
        // for rather than failing the write at once.
        sqlite3_busy_timeout(handle, 5_000)
        sqlite3_extended_result_codes(handle, 1)
        if readOnly { try exec("PRAGMA query_only = 1; PRAGMA cache_size = -\(SQLiteNameServiceStore.readerCacheKiB)") }
    }

    deinit { close() }

    /// Finalizes every statement and closes the handle. Idempotent.
    func close() {
        for s in statements.values { sqlite3_finalize(s) }
        statements = [:]
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    private func handle() throws(StoreError) -> OpaquePointer {
        guard let db else { throw StoreError(.unavailable, "the store at \(path) is closed") }
        return db
    }

    private func failure(_ what: String, _ rc: Int32) -> StoreError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return StoreError(.unavailable, "sqlite \(what) failed (\(rc)): \(message)")
    }

    /// Runs SQL that returns no rows (may hold several statements).
    func exec(_ sql: String) throws(StoreError) {
        let db = try handle()
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(err)
            throw StoreError(.unavailable, "sqlite '\(sql)' failed (\(rc)): \(message)")
        }
    }

    /// Runs a one-statement query with `bindings` and calls `row` for each result row.
    func query(_ sql: String, _ bindings: [SQLiteValue] = [], row: (SQLiteRow) throws(StoreError) -> Void) throws(StoreError) {
        let stmt = try prepared(sql)
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        for (i, value) in bindings.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .integer(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, index, v, -1, SQLITE_TRANSIENT)
            case .utf8(let v):
                if v.isEmpty {
                    rc = sqlite3_bind_text(stmt, index, "", 0, SQLITE_TRANSIENT)
                } else {
                    rc = v.withUnsafeBytes { b in
                        sqlite3_bind_text(stmt, index, b.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(b.count), SQLITE_TRANSIENT)
                    }
                }
            case .null: rc = sqlite3_bind_null(stmt, index)
            }
            guard rc == SQLITE_OK else { throw failure("bind of '\(sql)'", rc) }
        }
        while true {
            let rc = sqlite3_step(stmt)
            switch rc {
            case SQLITE_ROW: try row(SQLiteRow(stmt: stmt))
            case SQLITE_DONE: return
            default: throw failure("'\(sql)'", rc)
            }
        }
    }

    /// Runs a statement that returns no rows.
    func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws(StoreError) {
        try query(sql, bindings) { _ throws(StoreError) in }
    }

    /// The first column of the first row, as an integer (nil when there is no row or it is NULL).
    func integer(_ sql: String, _ bindings: [SQLiteValue] = []) throws(StoreError) -> Int64? {
        var result: Int64?
        try query(sql, bindings) { r throws(StoreError) in
            if result == nil, !r.isNull(0) { result = r.integer(0) }
        }
        return result
    }

    /// The first column of the first row, as text.
    func text(_ sql: String, _ bindings: [SQLiteValue] = []) throws(StoreError) -> String? {
        var result: String?
        try query(sql, bindings) { r throws(StoreError) in
            if result == nil { result = r.text(0) }
        }
        return result
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT` (the write lock is taken up front, so a
    /// read-then-write inside cannot be invalidated); rolls back when `body` or the commit throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            if let db, sqlite3_get_autocommit(db) == 0 {
                // The original error is what the caller needs; a failed rollback leaves the
                // transaction to SQLite, which rolls it back when the connection closes.
                _ = sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            }
            throw error
        }
    }

    /// Runs `body` inside a read transaction (`BEGIN` … `COMMIT`): every query in it reads the
    /// same snapshot of the database (WAL: the last commit before its first read), however many
    /// commits the writer makes meanwhile.
    func readTransaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try run("BEGIN")
        defer {
            if let db, sqlite3_get_autocommit(db) == 0 { _ = sqlite3_exec(db, "COMMIT", nil, nil, nil) }
        }
        return try body()
    }

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        if let s = statements[sql] { return s }
        let db = try handle()
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw failure("prepare of '\(sql)'", rc) }
        statements[sql] = stmt
        return stmt
    }
}

enum SQLiteValue {
    case integer(Int64)
    case text(String)
    /// Text given as its UTF-8 bytes.
    case utf8([UInt8])
    case null
}

/// The current row of a stepping statement; valid only inside the `query` callback.
struct SQLiteRow {
    fileprivate let stmt: OpaquePointer

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }
    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    func text(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, column) else { return nil }
        return String(cString: p)
    }
    /// The column's text as its UTF-8 bytes (nil when NULL).
    func utf8(_ column: Int32) -> [UInt8]? {
        guard let p = sqlite3_column_text(stmt, column) else { return nil }
        let count = Int(sqlite3_column_bytes(stmt, column))
        return Array(UnsafeBufferPointer(start: p, count: count))
    }
}

/// SQLite's "copy the bytes now" destructor; the C macro does not import into Swift.
private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

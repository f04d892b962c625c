import Foundation
import GSLB

/// Read-only connections to the SQLite store's file, for `get` and lists: in WAL mode each reads
/// its own snapshot while the writer connection commits (and fsyncs), so no read waits for the
/// serial write queue. A read checks a connection out for its duration; at most `keep` idle
/// connections are kept (more are opened when more reads run at once, and closed after).
/// Thread-safe: the fields are read and written under `lock` only; a connection is used by one
/// thread at a time (the one that checked it out).
final class ReaderPool: @unchecked Sendable {
    private let path: String
    private let keep: Int
    private let lock = NSLock()
    private var idle: [SQLiteConnection] = []
    private var closed = false

    init(path: String, keep: Int = 4) {
        self.path = path
        self.keep = keep
    }

    func with<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        if closed {
            lock.unlock()
            throw StoreError(.unavailable, "the store at \(path) is closed")
        }
        let reused = idle.popLast()
        lock.unlock()
        let connection: SQLiteConnection
        if let reused { connection = reused } else { connection = try SQLiteConnection(path: path, readOnly: true) }
        defer {
            lock.lock()
            if !closed, idle.count < keep {
                idle.append(connection)
                lock.unlock()
            } else {
                lock.unlock()
                connection.close()
            }
        }
        return try body(connection)
    }

    func close() {
        lock.lock()
        closed = true
        let all = idle
        idle = []
        lock.unlock()
        for c in all { c.close() }
    }
}

import Foundation
import GSLB

/// The current objects of the SQLite store, in memory: what `get` and `list` answer from, so a
/// read never waits for the store's serial queue (where a commit's fsync can stall on a slow or
/// frozen disk). Compact on purpose (issue 13): per name only the stored JSON document, its label
/// map (for selectors without decoding), its revision and generation; documents are decoded on read.
///
/// The writer (the store's actor) applies each committed change here after the commit, so the
/// index never shows a write the file does not hold. Rows that could not be read back at open are
/// kept apart as `damaged` (name → what is wrong) and reported, never served.
///
/// Thread-safe: every field below is read and written under `lock` only. A read takes a
/// copy-on-write snapshot of the dictionary under the lock and decodes outside it.
final class ObjectIndex: @unchecked Sendable {
    struct Entry: Sendable {
        let json: [UInt8]
        let labels: [String: String]
        let revision: Int64
        let generation: Int64
    }

    private let lock = NSLock()
    private var objects: [String: Entry] = [:]
    private var damagedRows: [String: String] = [:]
    private var current: Int64 = 0
    private var closed: StoreError?

    init() {}

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Everything read at open.
    func load(objects: [String: Entry], damaged: [String: String], revision: Int64) {
        locked {
            self.objects = objects
            damagedRows = damaged
            current = revision
        }
    }

    func entry(_ name: String) -> Entry? { locked { objects[name] } }

    /// After `close`, reads fail with the store's closing error.
    func close(_ error: StoreError) {
        locked {
            closed = error
            objects = [:]
        }
    }

    func checkOpen() throws(StoreError) {
        if let error = locked({ closed }) { throw error }
    }

    /// The objects and the revision they are consistent with.
    func snapshot() -> (objects: [String: Entry], revision: Int64) { locked { (objects, current) } }

    var revision: Int64 { locked { current } }

    /// Applies one committed change: `entry` nil deletes. A write to a damaged name replaces the
    /// damaged row, so it is no longer damaged.
    func apply(_ name: String, _ entry: Entry?, revision: Int64) {
        locked {
            objects[name] = entry
            damagedRows[name] = nil
            current = max(current, revision)
        }
    }

    /// Records a stored object that cannot be served (it stays out of reads until rewritten).
    func markDamaged(_ name: String, _ problem: String) {
        locked {
            objects[name] = nil
            damagedRows[name] = problem
        }
    }

    /// What is wrong with `name`'s stored row, when it is damaged.
    func damage(_ name: String) -> String? { locked { damagedRows[name] } }

    /// Names that could not be read back, with what is wrong, sorted by name.
    var damaged: [(name: String, problem: String)] {
        locked { damagedRows.sorted { $0.key < $1.key }.map { (name: $0.key, problem: $0.value) } }
    }
}

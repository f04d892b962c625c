import Foundation
import GSLB

/// The writes a store has been asked for and has not finished (committed or failed), with when
/// each was asked: the oldest one's age tells a stalled disk apart from a busy one (`/readyz`).
/// Thread-safe: the fields are read and written under `lock` only.
final class PendingWrites: @unchecked Sendable {
    private let lock = NSLock()
    private var started: [UInt64: ContinuousClock.Instant] = [:]
    private var nextID: UInt64 = 0

    func begin(now: ContinuousClock.Instant = .now) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        nextID += 1
        started[nextID] = now
        return nextID
    }

    func end(_ id: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        started[id] = nil
    }

    /// How many writes are pending and how long the oldest has waited.
    func oldest(now: ContinuousClock.Instant = .now) -> (count: Int, age: Duration)? {
        lock.lock()
        defer { lock.unlock() }
        guard let first = started.values.min() else { return nil }
        return (started.count, now - first)
    }
}

/// Resumes a continuation once, from whichever of several racing tasks gets there first.
final class FirstResult<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Result<T, StoreError>, Never>?

    init(_ continuation: CheckedContinuation<Result<T, StoreError>, Never>) {
        self.continuation = continuation
    }

    func resume(_ result: Result<T, StoreError>) {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(returning: result)
    }
}

/// One write as the SQLite store's writer applies it.
enum WriteOp: Sendable {
    /// A creation's document is encoded by the writer: it holds the revision it is committed at.
    case put(NameService, ifVersion: String?)
    case status(String, NameServiceStatus, ifGeneration: Int64?)
    case drains(String, [TargetDrain], ifVersion: String?)
    case delete(String, ifVersion: String?)

    var name: String {
        switch self {
        case .put(let ns, _): ns.metadata.name
        case .status(let n, _, _), .drains(let n, _, _), .delete(let n, _): n
        }
    }
}

/// Writes submitted together (one call: a single write, or an `updateStatuses` batch): they go
/// into the same transaction, and `done` gets one result per op, in order.
struct WriteGroup: Sendable {
    let ops: [WriteOp]
    let done: @Sendable ([Result<NameService, StoreError>]) -> Void
}

/// The writes waiting for the SQLite store's writer (group commit): callers append here from any
/// thread; the writer takes whatever has arrived (whole groups, up to a bound of ops) into one
/// transaction, so writes that arrive while a commit is being fsynced share the next one.
/// `submit` says whether the caller must start a drain (none is scheduled): exactly one drain
/// runs or is scheduled while the queue is not empty.
/// Thread-safe: the fields are read and written under `lock` only.
final class WriteQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var groups: [WriteGroup] = []
    private var head = 0
    private var scheduled = false

    /// Appends; true when the caller must schedule the writer's drain.
    func submit(_ group: WriteGroup) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        groups.append(group)
        if scheduled { return false }
        scheduled = true
        return true
    }

    /// The oldest groups, as many whole groups as fit in `maxOps` ops (at least one); empty when
    /// nothing waits, and then the drain is over (the next `submit` schedules a new one).
    func take(maxOps: Int) -> [WriteGroup] {
        lock.lock()
        defer { lock.unlock() }
        guard head < groups.count else {
            groups = []
            head = 0
            scheduled = false
            return []
        }
        var taken: [WriteGroup] = []
        var ops = 0
        while head < groups.count, taken.isEmpty || ops + groups[head].ops.count <= maxOps {
            ops += groups[head].ops.count
            taken.append(groups[head])
            head += 1
        }
        if head >= 1024, head * 2 >= groups.count {
            groups.removeFirst(head)
            head = 0
        }
        return taken
    }
}

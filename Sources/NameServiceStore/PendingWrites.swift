import Foundation

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

import Foundation
import GSLB

/// How much change history a store keeps for watch resumption. The oldest events are compacted
/// (as etcd compacts revisions) as soon as any bound is passed; the newest event is always kept.
/// A watch from a compacted revision fails with `.compacted` (HTTP 410 Expired): relist.
public struct EventHistoryLimits: Sendable, Hashable {
    /// At most this many events.
    public var maxEvents: Int
    /// At most this many bytes of stored documents (the JSON of each event's object, plus a small
    /// fixed overhead per event).
    public var maxBytes: Int
    /// Events older than this (since they were written, or since the store opened for events
    /// loaded from disk) are compacted.
    public var maxAge: Duration

    public static let defaultMaxEvents = 10_000
    public static let defaultMaxBytes = 64 << 20
    public static let defaultMaxAge: Duration = .seconds(600)

    public init(maxEvents: Int = EventHistoryLimits.defaultMaxEvents, maxBytes: Int = EventHistoryLimits.defaultMaxBytes,
                maxAge: Duration = EventHistoryLimits.defaultMaxAge) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.maxAge = maxAge
    }

    /// A problem with these limits (nil when they are usable).
    public var problem: String? {
        if maxEvents < 1 { return "the event history must keep at least 1 event, not \(maxEvents)" }
        if maxBytes < 1 { return "the event history must allow at least 1 byte, not \(maxBytes)" }
        if maxAge <= .zero { return "the event history age limit must be positive, not \(maxAge)" }
        return nil
    }
}

/// The change history of one store and the watch streams that read it (the Kubernetes watch
/// cache's shape): one shared, bounded list of encoded events, and watchers that *pull* from it.
///
/// - The writer appends each committed event (`append`), in revision order, while holding the
///   store's write order; the history is contiguous and ends at the current revision.
/// - A watch stream is a cursor (the last revision it gave out) over that history: each `next()`
///   takes the following event under the lock (O(1), the history is contiguous), and decodes it
///   outside the lock on the consumer's own task. Replays therefore never run on the store's
///   serial queue and never hold up a read or a write; a consumer that stops asking costs
///   nothing, and one that goes away (its task cancelled, the stream dropped) stops at once.
/// - No watcher has a buffer of its own: a watcher that falls behind the oldest kept event ends
///   with `.compacted` (HTTP 410 Expired; relist), so memory is bounded by the history's
///   `EventHistoryLimits` however many watchers there are and however slowly they read.
/// - A watch from above the current revision fails at once with `.tooLargeResourceVersion`.
///
/// Thread-safe: every field below is read and written under `lock` only.
package final class WatchRegistry: @unchecked Sendable {
    /// Turns one stored event back into a `StoreEvent` (on the watcher's task).
    package typealias Decode = @Sendable (_ json: [UInt8], _ kind: StoreEvent.Kind, _ revision: Int64) throws(StoreError) -> StoreEvent

    /// Bytes counted for an event besides its document (revision, kind, bookkeeping).
    package static let overheadPerEvent = 64

    private struct Entry {
        let revision: Int64
        let kind: StoreEvent.Kind
        let json: [UInt8]
        /// The event itself, when the store keeps it as a value (the in-memory double); else
        /// it is decoded from `json`.
        let event: StoreEvent?
        let recorded: ContinuousClock.Instant
        var bytes: Int { json.count + WatchRegistry.overheadPerEvent }
    }

    private enum Step {
        case event(Entry)
        case fail(StoreError)
        case wait
    }

    package let limits: EventHistoryLimits
    private let decode: Decode
    private let what: String
    private let lock = NSLock()
    // Guarded by `lock`:
    private var entries: [Entry] = []
    private var head = 0
    private var bytes = 0
    private var revision: Int64
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var open = 0
    private var nextID: UInt64 = 0
    private var closed: StoreError?

    /// An empty history at `revision` (nothing before it can be watched). `what` names the store
    /// in error messages.
    package init(revision: Int64, limits: EventHistoryLimits, what: String, decode: @escaping Decode) {
        self.revision = revision
        self.limits = limits
        self.what = what
        self.decode = decode
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    // MARK: Writer side

    /// Records the committed event at `revision` (the next revision) and wakes the watchers.
    /// A revision that does not follow the last one (another process wrote the file) starts the
    /// history afresh at it: a watcher before it gets `.compacted` and relists.
    package func append(revision: Int64, kind: StoreEvent.Kind, json: [UInt8], event: StoreEvent? = nil,
                        now: ContinuousClock.Instant = .now) {
        let woken: [CheckedContinuation<Void, Never>] = locked {
            if revision != self.revision + 1 || head == entries.count {
                entries = []
                head = 0
                bytes = 0
            }
            let entry = Entry(revision: revision, kind: kind, json: json, event: event, recorded: now)
            entries.append(entry)
            bytes += entry.bytes
            self.revision = max(self.revision, revision)
            compact(now: now)
            let all = Array(waiters.values)
            waiters = [:]
            return all
        }
        for w in woken { w.resume() }
    }

    /// Loads events read back from disk at start-up, oldest first, ending at the current revision.
    /// Only the contiguous run that ends at the current revision is kept, then the limits apply.
    package func load(_ stored: [(revision: Int64, kind: StoreEvent.Kind, json: [UInt8])], now: ContinuousClock.Instant = .now) {
        locked {
            var run: [Entry] = []
            var expected = revision
            for e in stored.reversed() {
                guard e.revision == expected else { break }
                run.append(Entry(revision: e.revision, kind: e.kind, json: e.json, event: nil, recorded: now))
                expected -= 1
            }
            entries = run.reversed()
            head = 0
            bytes = entries.reduce(0) { $0 + $1.bytes }
            compact(now: now)
        }
    }

    /// Drops the oldest events while any limit is passed (never the newest one). Under `lock`.
    private func compact(now: ContinuousClock.Instant) {
        while entries.count - head > 1 {
            let oldest = entries[head]
            guard entries.count - head > limits.maxEvents || bytes > limits.maxBytes
                || now - oldest.recorded > limits.maxAge else { break }
            bytes -= oldest.bytes
            head += 1
        }
        if head > 0, head >= 1024 || head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// Every event up to this revision is gone (the revision before the oldest kept event, or the
    /// current revision when none is kept). Applies the age limit first.
    package func compactedThrough(now: ContinuousClock.Instant = .now) -> Int64 {
        locked {
            compact(now: now)
            return compactedThroughLocked
        }
    }

    private var compactedThroughLocked: Int64 {
        head < entries.count ? entries[head].revision - 1 : revision
    }

    /// Ends every watch stream with `error` (the store closed); later watches fail with it too.
    package func close(_ error: StoreError) {
        let woken: [CheckedContinuation<Void, Never>] = locked {
            if closed == nil { closed = error }
            let all = Array(waiters.values)
            waiters = [:]
            return all
        }
        for w in woken { w.resume() }
    }

    /// How many watch streams are open (for tests and metrics: a dropped stream must not stay).
    package var openStreams: Int { locked { open } }

    /// The events and bytes the history holds now.
    package var usage: (events: Int, bytes: Int) { locked { (entries.count - head, bytes) } }

    // MARK: Watcher side

    /// A stream of every event after `from`, then live ones, until the consumer stops.
    package func stream(from: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        let cursor = Cursor(registry: self, id: locked { () -> UInt64 in
            nextID += 1
            open += 1
            return nextID
        }, from: from)
        return AsyncThrowingStream(unfolding: { try await cursor.next() })
    }

    private func step(after position: Int64, now: ContinuousClock.Instant) -> Step {
        locked {
            if let closed { return .fail(closed) }
            compact(now: now)
            if position > revision {
                return .fail(StoreError(.tooLargeResourceVersion,
                                        "too large resource version: \(position), current: \(revision)",
                                        currentRevision: revision))
            }
            if let error = StoreRules.compactedError(fromRevision: position, compactedThrough: compactedThroughLocked) {
                return .fail(error)
            }
            if position == revision { return .wait }
            return .event(entries[head + Int(position + 1 - entries[head].revision)])
        }
    }

    /// Suspends until there is an event after `position`, the store closes, or the task is cancelled.
    private func wait(_ id: UInt64, after position: Int64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now: Bool = locked {
                    if Task.isCancelled || closed != nil || revision > position { return true }
                    waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            locked { waiters.removeValue(forKey: id) }?.resume()
        }
    }

    private func ended(_ id: UInt64) {
        locked {
            open -= 1
            _ = waiters.removeValue(forKey: id)
        }
    }

    /// One watch stream's position. `next()` is only ever called by the stream's iterator, one
    /// call at a time (AsyncIteratorProtocol), so `position` and `done` need no lock of their own.
    private final class Cursor: @unchecked Sendable {
        let registry: WatchRegistry
        let id: UInt64
        var position: Int64
        var done = false
        /// Events given out since the consumer last had to wait: a long replay yields its
        /// thread every `yieldEvery` of them, so it shares the pool with other requests.
        var streak = 0
        static let yieldEvery = 64

        init(registry: WatchRegistry, id: UInt64, from: Int64) {
            self.registry = registry
            self.id = id
            position = from
        }

        deinit { if !done { registry.ended(id) } }

        private func finish() {
            guard !done else { return }
            done = true
            registry.ended(id)
        }

        func next() async throws -> StoreEvent? {
            while !done {
                if Task.isCancelled {
                    finish()
                    return nil
                }
                switch registry.step(after: position, now: .now) {
                case .event(let entry):
                    streak += 1
                    if streak % Self.yieldEvery == 0 { await Task.yield() }
                    do {
                        let event = try entry.event ?? registry.decode(entry.json, entry.kind, entry.revision)
                        position = entry.revision
                        return event
                    } catch {
                        finish()
                        throw error
                    }
                case .fail(let error):
                    finish()
                    throw error
                case .wait:
                    streak = 0
                    await registry.wait(id, after: position)
                }
            }
            return nil
        }
    }
}

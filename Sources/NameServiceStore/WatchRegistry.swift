import Foundation
import GSLB

/// The live watchers of one store, owned by the store's actor (so publishing is serialized with
/// the writes). Each watcher remembers the last revision it was given and never gets an event at
/// or below it, so a replay followed by live events has no duplicate; events are published in
/// revision order by the single writer, so there is no gap either.
package struct WatchRegistry: Sendable {
    package typealias Continuation = AsyncThrowingStream<StoreEvent, any Error>.Continuation

    private struct Watcher: Sendable {
        var continuation: Continuation
        var deliveredThrough: Int64
    }

    private var watchers: [WatchID: Watcher] = [:]

    package init() {}

    package var count: Int { watchers.count }

    /// Registers a watcher that has been given every event up to `deliveredThrough`.
    package mutating func add(_ id: WatchID, _ continuation: Continuation, deliveredThrough: Int64) {
        watchers[id] = Watcher(continuation: continuation, deliveredThrough: deliveredThrough)
    }

    package mutating func remove(_ id: WatchID) {
        watchers[id] = nil
    }

    /// Gives `event` to every watcher that has not seen its revision; forgets watchers whose
    /// stream has ended.
    package mutating func publish(_ event: StoreEvent) {
        for (id, w) in watchers where event.revision > w.deliveredThrough {
            switch w.continuation.yield(event) {
            case .terminated:
                watchers[id] = nil
            default:
                watchers[id]?.deliveredThrough = event.revision
            }
        }
    }

    /// Ends every stream (with `error`, or normally when nil) and forgets them.
    package mutating func finishAll(throwing error: StoreError?) {
        for w in watchers.values { w.continuation.finish(throwing: error) }
        watchers = [:]
    }
}

/// Identifies one watch stream, chosen before the store registers it.
package struct WatchID: Hashable, Sendable {
    private let value = UUID()
    package init() {}
}

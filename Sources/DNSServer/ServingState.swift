import Atomics
import DNSZone

/// Everything the query path reads, as one immutable snapshot (ARCHITECTURE.md: "the control plane
/// compiles, the query path only reads"). A reload builds a new one and swaps it in whole.
public final class ServingState: Sendable, AtomicReference {
    public let zones: ZoneSet
    /// Bumped on every swap; shown in logs and metrics.
    public let generation: UInt64

    public init(zones: ZoneSet, generation: UInt64) {
        self.zones = zones
        self.generation = generation
    }
}

/// The atomic reference the event loops load once per query; writers swap whole snapshots. The old
/// snapshot is freed when the last query holding it finishes (ARC), as Knot frees its old zone
/// database after readers are done.
public final class ServingStateHolder: Sendable {
    private let current: ManagedAtomic<ServingState>

    public init(_ initial: ServingState) {
        current = ManagedAtomic(initial)
    }

    @inline(__always)
    public func load() -> ServingState {
        current.load(ordering: .acquiring)
    }

    public func store(_ state: ServingState) {
        current.store(state, ordering: .releasing)
    }
}

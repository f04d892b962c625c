import Atomics
import DNSZone

/// Everything the query path reads, as one immutable snapshot (ARCHITECTURE.md: "the control plane
/// compiles, the query path only reads"). A reload builds a new one and swaps it in whole.
public final class ServingState: Sendable, AtomicReference {
    public let zones: ZoneSet
    /// The global names (NameServices) compiled into answers; looked up before static data.
    public let globals: GlobalNameTable
    /// Bumped on every swap; shown in logs, status ("answering from plan N") and metrics.
    public let generation: UInt64

    public init(zones: ZoneSet, globals: GlobalNameTable = .empty, generation: UInt64) {
        self.zones = zones
        self.globals = globals
        self.generation = generation
    }
}

/// The atomic reference the event loops read; writers swap whole snapshots. The old snapshot is
/// freed when the last reader drops it (ARC), as Knot frees its old zone database after readers
/// are done.
///
/// Readers do not retain the snapshot per query: each responder keeps the one it last loaded and
/// compares `generation` (a plain atomic load, no reference counting, no shared cache line
/// written) to see whether a newer one was published.
public final class ServingStateHolder: Sendable {
    private let current: ManagedAtomic<ServingState>
    private let published: ManagedAtomic<UInt64>

    public init(_ initial: ServingState) {
        current = ManagedAtomic(initial)
        published = ManagedAtomic(initial.generation)
    }

    @inline(__always)
    public func load() -> ServingState {
        current.load(ordering: .acquiring)
    }

    /// The generation of the newest snapshot.
    @inline(__always)
    public var generation: UInt64 {
        published.load(ordering: .acquiring)
    }

    /// Publishes `state`. Its generation must be higher than the current one.
    public func store(_ state: ServingState) {
        current.store(state, ordering: .releasing)
        published.store(state.generation, ordering: .releasing)
    }
}

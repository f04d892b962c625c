import Atomics
import NIOConcurrencyHelpers
import DNSWire
import DNSZone
import GSLB

/// Everything the query path reads, as one immutable snapshot (ARCHITECTURE.md: "the control plane
/// compiles, the query path only reads"). A reload builds a new one and swaps it in whole.
public final class ServingState: Sendable, AtomicReference {
    public let zones: ZoneSet
    /// The global names (NameServices) with their pre-rendered records; looked up before static data.
    public let globals: GlobalNameTable
    /// `plans[i]` answers `globals` entry `i` (empty non-terminals have none).
    public let plans: [NamePlan]
    /// Client address → locality, for the Locality policy.
    public let clients: ClientMapping
    /// Who may ask the explain query (CH TXT for a global name).
    public let explainAllow: CIDRSet
    /// Bumped on every swap; shown in logs, status ("answering from plan N") and metrics.
    public let generation: UInt64

    /// `plans` must be parallel to `globals.entries`. Without plans, each global name answers
    /// every address it has, in order (a RoundRobin plan is made for it).
    public init(zones: ZoneSet, globals: GlobalNameTable = .empty, plans: [NamePlan]? = nil,
                clients: ClientMapping = .empty, explainAllow: CIDRSet = .loopback, generation: UInt64) {
        self.zones = zones
        self.globals = globals
        self.plans = plans ?? globals.entries.map { NamePlan(fixed: $0) }
        precondition(self.plans.count == globals.entries.count, "one plan per global name")
        self.clients = clients
        self.explainAllow = explainAllow
        self.generation = generation
    }

    /// The same snapshot with another generation and, optionally, other inputs.
    public func with(zones: ZoneSet? = nil, clients: ClientMapping? = nil, explainAllow: CIDRSet? = nil,
                     generation: UInt64) -> ServingState {
        ServingState(zones: zones ?? self.zones, globals: globals, plans: plans, clients: clients ?? self.clients,
                     explainAllow: explainAllow ?? self.explainAllow, generation: generation)
    }
}

extension NamePlan {
    /// RoundRobin over the entry's addresses, one target per address (tests and tools that build
    /// a table directly).
    init(fixed e: GlobalNameTable.Entry) {
        func set(_ family: AddressFamily, _ addresses: [IPAddress]) -> CandidateSet {
            CandidateSet(family: family,
                         inputs: addresses.enumerated().map { CandidateSet.Input(name: "a\($0.offset)", addresses: [($0.element, true)]) },
                         allDown: .failOpen)
        }
        self.init(policy: RoundRobinPolicy(), ipv4: set(.ipv4, e.ipv4.map { .v4($0) }), ipv6: set(.ipv6, e.ipv6.map { .v6($0) }))
    }
}

/// The atomic reference the event loops read; writers swap whole snapshots. The old snapshot is
/// freed when the last reader drops it (ARC), as Knot frees its old zone database after readers
/// are done.
///
/// Readers do not retain the snapshot per query: each responder keeps the one it last loaded and
/// compares `generation` (a plain atomic load, no reference counting, no shared cache line
/// written) to see whether a newer one was published.
///
/// The holder numbers the snapshots, not the writers: every `publish` gets the generation after
/// the newest one, under a writers-only lock, so two writers (a flush of the reconciler and a
/// SIGHUP's client-policy update) can never publish the same number and leave a loop on an older
/// snapshot. Readers never take the lock.
public final class ServingStateHolder: Sendable {
    private let current: ManagedAtomic<ServingState>
    private let published: ManagedAtomic<UInt64>
    /// Serializes writers (publishing is the control plane's, never the per-query path).
    private let writers = NIOLock()

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

    /// Publishes the snapshot `build` makes from the newest one, numbered by the holder: strictly
    /// above every generation published before. `build` gets the newest snapshot and the number
    /// the new one will carry (a snapshot built with another number is renumbered). Returns what
    /// was published.
    @discardableResult
    public func publish(_ build: (_ current: ServingState, _ generation: UInt64) -> ServingState) -> ServingState {
        writers.withLock {
            let now = current.load(ordering: .acquiring)
            let next = max(now.generation, published.load(ordering: .acquiring)) &+ 1
            var state = build(now, next)
            if state.generation != next { state = state.with(generation: next) }
            current.store(state, ordering: .releasing)
            published.store(next, ordering: .releasing)
            return state
        }
    }

    /// Publishes `state` with the next generation (its own number is replaced: writers do not
    /// choose generations). Returns the generation it was published with.
    @discardableResult
    public func store(_ state: ServingState) -> UInt64 {
        publish { _, _ in state }.generation
    }
}

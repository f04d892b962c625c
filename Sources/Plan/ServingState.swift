import Atomics
import NIOConcurrencyHelpers
import DNSWire
import DNSZone
import GSLB

/// One shard of the served global names: its wire table and, parallel to the table's entries,
/// how each name is answered. Immutable; a change to one of its names builds a new shard.
public final class GlobalShard: Sendable {
    public let table: GlobalNameTable
    /// `plans[i]` answers `table` entry `i` (empty non-terminals, past `table.count`, have none).
    public let plans: [NamePlan]

    public static let empty = GlobalShard(table: .empty, plans: [])

    /// `plans` must be parallel to the table's entries.
    public init(table: GlobalNameTable, plans: [NamePlan]) {
        precondition(plans.count == table.count, "one plan per global name")
        self.table = table
        self.plans = plans
    }
}

/// Every served global name (NameService FQDNs), in shards by a hash of the lowercased wire
/// name: a change to one name rebuilds its shard only (O(names per shard)), and publishing a plan
/// copies the array of shard references, never the names (issue 13: a change costs work in
/// proportion to what it touches, not to the size of the zone).
public struct GlobalNames: Sendable {
    /// A power of two.
    public let shards: [GlobalShard]
    @usableFromInline let shift: UInt32
    /// Real names over all shards (empty non-terminals not counted).
    public let count: Int

    public static let empty = GlobalNames(shards: [.empty], count: 0)

    /// `shards.count` must be a power of two; each name must be in the shard `shard(of:)` says.
    public init(shards: [GlobalShard], count: Int) {
        precondition(shards.count > 0 && shards.count & (shards.count - 1) == 0, "a power of two")
        self.shards = shards
        self.shift = UInt32(32 - shards.count.trailingZeroBitCount)
        self.count = count
    }

    /// A table of `entries` (and the empty non-terminals they create) with their plans (when nil:
    /// RoundRobin over each entry's addresses), spread over `shardCount` shards (a power of two;
    /// by default one per about 64 names). Tests and tools; the compiler builds shards itself.
    public init(entries: [GlobalNameTable.Entry], plans: [NamePlan]? = nil, shardCount: Int? = nil) {
        let plans = plans ?? entries.map { NamePlan(fixed: $0) }
        precondition(plans.count == entries.count, "one plan per global name")
        let n = shardCount ?? Self.shardCount(forNames: entries.count)
        let shift = UInt32(32 - n.trailingZeroBitCount)
        var parts = [(entries: [GlobalNameTable.Entry], plans: [NamePlan], ents: [DNSName])](repeating: ([], [], []), count: n)
        var seen = Set(entries.map { $0.fqdn.lowercased() })
        for (e, p) in zip(entries, plans) {
            let key = e.fqdn.lowercased()
            let s = Self.shard(ofWire: key.wire, shift: shift)
            parts[s].entries.append(e)
            parts[s].plans.append(p)
            var name = key
            let zone = e.zone.lowercased()
            while let up = name.parent, up != zone, up.isSubdomain(of: zone) {
                if seen.insert(up).inserted { parts[Self.shard(ofWire: up.wire, shift: shift)].ents.append(up) }
                name = up
            }
        }
        self.init(shards: parts.map { GlobalShard(table: GlobalNameTable(entries: $0.entries, emptyNonTerminals: $0.ents), plans: $0.plans) },
                  count: entries.count)
    }

    /// The shard count for `n` names: a power of two, about 64 names per shard, 1...65,536.
    public static func shardCount(forNames n: Int) -> Int {
        var c = 1
        while c < 65536 && c * 64 < n { c <<= 1 }
        return c
    }

    /// The shard of a lowercased wire name among `1 << (32 - shift)` shards: the top bits of a
    /// multiplicative hash of the name's FNV-1a hash (the tables inside a shard use the low bits
    /// of the FNV-1a hash itself, so names of one shard still spread over its slots).
    @inlinable
    public static func shard(of p: UnsafePointer<UInt8>, _ count: Int, shift: UInt32) -> Int {
        shard(hash: GlobalNameTable.hash(p, count), shift: shift)
    }

    /// The same from the name's `GlobalNameTable.hash`.
    @inlinable
    public static func shard(hash: UInt32, shift: UInt32) -> Int {
        shift < 32 ? Int((hash &* 0x9E37_79B1) >> shift) : 0
    }

    public static func shard(ofWire wire: [UInt8], shift: UInt32) -> Int {
        wire.withUnsafeBufferPointer { shard(of: $0.baseAddress!, $0.count, shift: shift) }
    }

    /// The shard of a name whose `GlobalNameTable.hash` is `hash`.
    @inlinable
    public func shardIndex(hash: UInt32) -> Int {
        Self.shard(hash: hash, shift: shift)
    }

    /// The shard a lowercased wire name belongs to in this table.
    @inlinable
    public func shardIndex(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        Self.shard(of: p, count, shift: shift)
    }

    public func shardIndex(ofWire wire: [UInt8]) -> Int { Self.shard(ofWire: wire, shift: shift) }

    /// For tests and tools: the plan and rendered entry of a lowercased name, if served.
    public func lookup(_ name: DNSName) -> (shard: GlobalShard, index: Int)? {
        let wire = name.lowercased().wire
        let shard = shards[shardIndex(ofWire: wire)]
        let i = wire.withUnsafeBufferPointer { shard.table.find($0.baseAddress!, $0.count) }
        return i >= 0 ? (shard, i) : nil
    }
}

/// Everything the query path reads, as one immutable snapshot (docs/design.md: "the control plane
/// compiles, the query path only reads"). A reload builds a new one and swaps it in whole.
public final class ServingState: Sendable, AtomicReference {
    public let zones: ZoneSet
    /// The global names (NameServices) with their pre-rendered records and plans; looked up
    /// before static data.
    public let globals: GlobalNames
    /// Client address → locality, for the Locality policy.
    public let clients: ClientMapping
    /// Who may ask the explain query (CH TXT for a global name).
    public let explainAllow: CIDRSet
    /// Bumped on every swap; shown in logs and metrics.
    public let generation: UInt64

    public init(zones: ZoneSet, globals: GlobalNames = .empty,
                clients: ClientMapping = .empty, explainAllow: CIDRSet = .loopback, generation: UInt64) {
        self.zones = zones
        self.globals = globals
        self.clients = clients
        self.explainAllow = explainAllow
        self.generation = generation
    }

    /// The same snapshot with another generation and, optionally, other inputs.
    public func with(zones: ZoneSet? = nil, globals: GlobalNames? = nil, clients: ClientMapping? = nil,
                     explainAllow: CIDRSet? = nil, generation: UInt64) -> ServingState {
        ServingState(zones: zones ?? self.zones, globals: globals ?? self.globals, clients: clients ?? self.clients,
                     explainAllow: explainAllow ?? self.explainAllow, generation: generation)
    }
}

extension NamePlan {
    /// RoundRobin over the entry's addresses, one target per address (tests and tools that build
    /// a table directly).
    public init(fixed e: GlobalNameTable.Entry) {
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

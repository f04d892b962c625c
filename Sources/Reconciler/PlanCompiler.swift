import DNSWire
import Dispatch
import Foundation
import DNSZone
import GSLB
import NameServiceStore
import Plan

/// Compiles NameService specs into the served global names: a pure value (no I/O, no clock, no
/// tasks). Specs, zones, probe verdicts, upstream answers and the time go in; shards of the
/// served table, the status each name should show, the probes and upstream names wanted and the
/// next drain expiry come out. The reconciler is a thin loop around it; tests drive it with
/// tables.
///
/// Incremental: a change marks names dirty; `compile(now:)` decides only the names whose outcome
/// can have changed (the dirty ones, the other claimants of a touched FQDN, and — through the
/// reverse index — the names whose targets refer to a changed FQDN), rebuilds only the shards
/// holding them, and reports only the statuses that differ from the last one stored (timestamps
/// aside). A change to one name costs O(names per shard + its dependents), whatever the total.
///
/// Memory per name is kept small on purpose (issue 13): the spec and drains (needed to compile
/// again when a dependency changes), a few integers, and the stored status as a digest plus the
/// transition time of each condition, never the status itself.
public struct PlanCompiler: Sendable {
    public struct Settings: Sendable {
        /// What a NameService's `healthCheck` leaves out (configuration key `healthCheck`).
        public var healthCheckDefaults = HealthCheckDefaults.standard
        /// What one NameService may hold (configuration section `limits`).
        public var specLimits = SpecLimits.standard
        /// Probes wanted at most (`healthCheck.maxProbedAddresses`); nil: no cap.
        public var maxProbedAddresses: Int?
        /// Whether target FQDNs outside the zones can be resolved (upstream resolvers configured).
        public var upstreamConfigured = false
        /// With several replicas on one store: this replica's name in `status.replicas` (its own
        /// view is what it compares with); nil with one replica.
        public var replica: String?
        /// Whether a large compile (from `parallelDecideThreshold` names) uses every core.
        public var parallelDecide = true
        public init() {}
    }

    /// What one compile produced.
    public struct Output: Sendable {
        /// The served global names after this compile (shares every shard it did not rebuild).
        public var globals: GlobalNames
        /// Whether `globals` differs from before the compile.
        public var globalsChanged = false
        /// Names decided in this compile.
        public var compiled = 0
        /// Shards rebuilt.
        public var shardsRebuilt = 0
        /// Names whose status differs from the stored one (timestamps aside): `takeStatuses`
        /// renders them for writing (statuses are not held, so a million of them never are).
        public var statusesChanged = 0
        /// Probes to start and stop, and every probe wanted after the change.
        public var probesAdded: Set<HealthKey> = []
        public var probesRemoved: Set<HealthKey> = []
        public var probesWanted: Set<HealthKey> = []
        /// The target FQDNs outside the zones to keep resolved, when that set changed.
        public var externalNames: Set<DNSName>?
        /// The earliest expiry of a drain in force, if any.
        public var nextDrainExpiry: WallTime?
        /// NameServices whose stored drains include expired ones (to remove from the store).
        public var expiredDrains: [String] = []
    }

    /// One NameService as the compiler keeps it.
    struct Name: Sendable {
        var spec: NameServiceSpec
        var drains: [TargetDrain]
        var generation: Int64
        /// The FQDN, lowercased and absolute (what clashes and references are decided on).
        var fqdn: String
        /// The older claim on an FQDN wins (ties: name order): the object's `creationRevision`.
        var firstSeen: Int64
        /// Validation problems of the spec, nil when valid (decided once per spec change).
        var problems: String?
        /// Whether the name is in the served table now.
        var served = false
        /// Lowercased absolute FQDNs of this spec's `fqdn` targets.
        var references: [String]
        /// The names among them the upstream resolvers must answer.
        var external: [DNSName] = []
        /// The probes this name's health depends on.
        var probes: [HealthKey] = []
        var memo: StatusMemo
    }

    /// What is remembered of the stored status: a digest (timestamps aside) and, for each of
    /// the four conditions, its status and when it last changed — inline, no heap per name.
    struct StatusMemo: Sendable {
        var digest: Int
        var stamps = Stamps()
    }

    /// Accepted, Programmed, Healthy, Ready: status (0 absent, 1 True, 2 False, 3 Unknown) and
    /// `lastTransitionTime` in seconds since the epoch.
    struct Stamps: Sendable {
        var status: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        var since: (Int64, Int64, Int64, Int64) = (0, 0, 0, 0)

        static let types: [ConditionType] = [.accepted, .programmed, .healthy, .ready]
        static let statuses: [ConditionStatus] = [.true, .false, .unknown]

        subscript(i: Int) -> (status: UInt8, since: Int64) {
            get {
                switch i {
                case 0: (status.0, since.0)
                case 1: (status.1, since.1)
                case 2: (status.2, since.2)
                default: (status.3, since.3)
                }
            }
            set {
                switch i {
                case 0: (status.0, since.0) = newValue
                case 1: (status.1, since.1) = newValue
                case 2: (status.2, since.2) = newValue
                default: (status.3, since.3) = newValue
                }
            }
        }
    }

    public let settings: Settings
    private(set) var zones: ZoneSet
    private var zoneAddresses: [DNSName: ZoneAddresses]
    private var names: [String: Name] = [:]
    /// Probe verdicts and upstream answers as of the last compile; new ones wait in `pending…`
    /// until the next, so a status rendered between compiles says what the served plan does.
    private var health: [HealthKey: HealthReport] = [:]
    private var upstream: [DNSName: Result<[IPAddress], UpstreamFailure>] = [:]
    private var pendingHealth: [HealthKey: HealthReport] = [:]
    private var pendingUpstream: [DNSName: Result<[IPAddress], UpstreamFailure>] = [:]
    /// Lowercased FQDN → names of the NameServices with a target referring to it.
    private var referrers: [String: Set<String>] = [:]
    /// Lowercased FQDN → the NameServices claiming it (one, inline, nearly always).
    private var claims: [String: Claimants] = [:]

    enum Claimants: Sendable {
        case one(String)
        case many(Set<String>)

        var names: Set<String> {
            switch self {
            case .one(let n): [n]
            case .many(let s): s
            }
        }
    }

    private mutating func addClaim(_ fqdn: String, _ name: String) {
        switch claims[fqdn] {
        case nil: claims[fqdn] = .one(name)
        case .one(let n) where n == name: break
        case .one(let n): claims[fqdn] = .many([n, name])
        case .many(var s):
            s.insert(name)
            claims[fqdn] = .many(s)
        }
    }

    private mutating func removeClaim(_ fqdn: String, _ name: String) {
        switch claims[fqdn] {
        case .one(let n) where n == name: claims[fqdn] = nil
        case .many(var s):
            s.remove(name)
            claims[fqdn] = s.count == 1 ? .one(s.first!) : .many(s)
        default: break
        }
    }
    /// Probe → names of the NameServices using it.
    private var probeUsers: [HealthKey: Set<String>] = [:]
    private var probesWanted: Set<HealthKey> = []
    /// Probes wanted but not handed to the prober (past `maxProbedAddresses`).
    private var unprobed: Set<HealthKey> = []
    private var probesTouched: Set<HealthKey> = []
    /// Upstream name → how many NameServices need it resolved.
    private var externalRefs: [DNSName: Int] = [:]
    private var externalChanged = false
    /// Empty non-terminal → how many served names lie below it (within their zone).
    private var entRefs: [DNSName: Int] = [:]
    /// Names with a drain still to expire, and when the first of theirs does.
    private var drainExpiries: [String: WallTime] = [:]
    /// What the next compile must decide.
    private var dirty: Set<String> = []
    /// Names whose status must be written (rendered by `takeStatuses`).
    private var statusDirty: Set<String> = []
    /// FQDNs whose claims changed since the last compile.
    private var touchedFQDNs: Set<String> = []
    /// Served table entries to remove (lowercased FQDN) because their name went away.
    private var leaving: [DNSName] = []
    private var zonesChanged = false
    public private(set) var globals: GlobalNames = .empty
    /// Table changes decided and not built yet (`compile(now:buildTable: false)`).
    private var staged = Staged()

    struct Staged: Sendable {
        var puts: [DNSName: (GlobalNameTable.Entry, NamePlan)] = [:]
        var takeOut: Set<DNSName> = []
        var ents: Set<DNSName> = []
        var full = false
    }

    public init(zones: ZoneSet, settings: Settings = Settings()) {
        self.zones = zones
        self.settings = settings
        self.zoneAddresses = Self.indexAddresses(zones)
    }

    // MARK: - Inputs

    /// NameServices known.
    public var count: Int { names.count }

    /// Whether `compile` has anything to do.
    public var hasWork: Bool {
        !dirty.isEmpty || zonesChanged || !leaving.isEmpty || !touchedFQDNs.isEmpty || !pendingHealth.isEmpty || !pendingUpstream.isEmpty
    }

    /// Whether decided table changes wait for a compile that builds the table.
    public var hasStagedTable: Bool { staged.full || !staged.puts.isEmpty || !staged.takeOut.isEmpty || !staged.ents.isEmpty }

    /// Names waiting to be decided.
    public var pendingCount: Int { dirty.count }

    /// A NameService as stored (created, changed, listed). Returns false when nothing that the
    /// plan depends on changed (its own status write coming back, a label change): no work.
    @discardableResult
    public mutating func upsert(_ ns: NameService, revision: Int64) -> Bool {
        let key = ns.metadata.name
        if let known = names[key], known.generation == ns.metadata.generation, known.drains == ns.drains,
           known.spec == ns.spec {
            return false
        }
        let fqdn = Self.fqdnKey(ns.spec.fqdn)
        // The stored creation revision orders claims durably; an object without one (written
        // before it existed, or an old watch event) keeps what it had, else the revision seen.
        var firstSeen = ns.metadata.creationRevision ?? revision
        var memo: StatusMemo
        var stillServed = false
        if let old = names.removeValue(forKey: key) {
            if ns.metadata.creationRevision == nil { firstSeen = old.firstSeen }
            memo = old.memo
            unlink(key, old)
            if old.served, old.fqdn != fqdn, let n = try? DNSName(old.fqdn) { leaving.append(n) }
            // Still served under the same FQDN until decided otherwise (the decision replaces it).
            stillServed = old.served && old.fqdn == fqdn
            touchedFQDNs.insert(old.fqdn)
        } else {
            memo = Self.memo(of: ns.status.map { Self.ownView($0, replica: settings.replica) })
        }
        let problems = ns.validate(healthCheckDefaults: settings.healthCheckDefaults, limits: settings.specLimits)
        var entry = Name(spec: ns.spec, drains: ns.drains, generation: ns.metadata.generation, fqdn: fqdn,
                         firstSeen: firstSeen,
                         problems: problems.isEmpty ? nil : problems.map(\.description).joined(separator: "; "),
                         references: Self.references(of: ns.spec), memo: memo)
        entry.served = stillServed
        names[key] = entry
        for r in entry.references { referrers[r, default: []].insert(key) }
        addClaim(fqdn, key)
        touchedFQDNs.insert(fqdn)
        dirty.insert(key)
        return true
    }

    /// A NameService deleted.
    public mutating func remove(_ name: String) {
        guard let old = names.removeValue(forKey: name) else { return }
        statusDirty.remove(name)
        unlink(name, old)
        if old.served, let n = try? DNSName(old.fqdn) { leaving.append(n) }
        touchedFQDNs.insert(old.fqdn)
        dirty.remove(name)
        drainExpiries[name] = nil
    }

    /// The names known (for a relist in pages: those not seen again are removed).
    var knownNames: Dictionary<String, Name>.Keys { names.keys }

    /// New zones (SIGHUP): every name is placed again.
    public mutating func setZones(_ zones: ZoneSet) {
        self.zones = zones
        zoneAddresses = Self.indexAddresses(zones)
        zonesChanged = true
    }

    /// A probe's verdict: the names using it are compiled again. False when nothing changed.
    @discardableResult
    public mutating func setHealth(_ key: HealthKey, _ report: HealthReport) -> Bool {
        guard (pendingHealth[key] ?? health[key]) != report else { return false }
        pendingHealth[key] = report
        guard let users = probeUsers[key] else { return false }
        dirty.formUnion(users)
        return true
    }

    /// An upstream answer for a target FQDN outside the zones. False when nothing changed.
    @discardableResult
    public mutating func setUpstream(_ name: DNSName, _ result: Result<[IPAddress], UpstreamFailure>) -> Bool {
        let key = name.lowercased()
        guard (pendingUpstream[key] ?? upstream[key]) != result else { return false }
        pendingUpstream[key] = result
        guard let users = referrers[key.description], !users.isEmpty else { return false }
        dirty.formUnion(users)
        return true
    }

    /// Marks the names whose first drain expiry is at or before `now` for compiling again (the
    /// compile removes the expired drains from their candidates and reports them).
    public mutating func drainsDue(now: WallTime) {
        for (name, at) in drainExpiries where at <= now {
            drainExpiries[name] = nil
            if names[name] != nil { dirty.insert(name) }
        }
    }

    /// Forget the stored status of these names (a status write failed): the next compile of
    /// each writes it again.
    public mutating func forgetStatus(_ some: some Sequence<String>) {
        for n in some where names[n] != nil {
            names[n]!.memo.digest = 0
            statusDirty.insert(n)
        }
    }

    /// The upstream names wanted now.
    public var externalNames: Set<DNSName> { Set(externalRefs.keys) }

    // MARK: - Compile

    /// Decides every name whose outcome can have changed, rebuilds their shards, and says which
    /// statuses, probes and upstream names changed. `now` decides drains and condition times.
    /// With `buildTable` false the table changes are kept for a later compile that builds
    /// (start-up compiles the list a few pages at a time and builds the shards once at the end,
    /// instead of rebuilding most shards after every few pages).
    public mutating func compile(now: WallTime, buildTable: Bool = true) -> Output {
        for (k, r) in pendingHealth { health[k] = r }
        for (k, r) in pendingUpstream { upstream[k] = r }
        pendingHealth = [:]
        pendingUpstream = [:]
        var affected = dirty
        dirty = []
        let fullRebuild = zonesChanged
        zonesChanged = false
        if fullRebuild { affected = Set(names.keys) }
        // The other claimants of a touched FQDN may win or lose it now.
        for f in touchedFQDNs { if let c = claims[f] { affected.formUnion(c.names) } }
        // Names whose targets refer to an affected name's FQDN (transitively) resolve differently.
        var queue = Array(touchedFQDNs.union(affected.compactMap { names[$0]?.fqdn }))
        var seen = Set(queue)
        touchedFQDNs = []
        while let f = queue.popLast() {
            for n in referrers[f] ?? [] {
                guard let other = names[n] else { continue }
                affected.insert(n)
                if seen.insert(other.fqdn).inserted { queue.append(other.fqdn) }
            }
        }

        var out = Output(globals: globals)
        out.compiled = affected.count
        // Table changes by shard: entries to put (with plans) and names to take out.
        var puts: [DNSName: (GlobalNameTable.Entry, NamePlan)] = [:]
        var takeOut: Set<DNSName> = []
        var entDelta: [DNSName: Int] = [:]
        for n in leaving {
            takeOut.insert(n)
            placeEmptyNonTerminals(of: n, delta: -1, into: &entDelta)
        }
        leaving = []
        if fullRebuild {
            // Zones changed: everything is placed again from scratch (a SIGHUP, not a hot path).
            entRefs = [:]
            entDelta = [:]
            takeOut = []
            for key in names.keys { names[key]!.served = false }
        }
        let decisions = decideAll(affected, now: now)
        var decided: [String: Decision] = [:]
        decided.reserveCapacity(decisions.count)
        for (key, d) in decisions {
            guard let name = names[key] else { continue }
            decided[key] = d
            let fqdnName = try? DNSName(name.fqdn)
            if name.served, let f = fqdnName, d.entry == nil {
                takeOut.insert(f)
                placeEmptyNonTerminals(of: f, delta: -1, into: &entDelta)
            }
            if let entry = d.entry, let plan = d.plan, let f = fqdnName {
                puts[f] = (entry, plan)
                takeOut.remove(f)
                if !name.served || fullRebuild { placeEmptyNonTerminals(of: f, delta: +1, into: &entDelta) }
            }
            names[key]!.served = d.entry != nil
            linkDecision(key, d)
            if let drains = names[key]?.drains, !drains.isEmpty {
                drainExpiries[key] = drains.nextExpiry(after: now)
                if drains.contains(where: { !$0.isActive(at: now) }) { out.expiredDrains.append(key) }
            } else {
                drainExpiries[key] = nil
            }
        }
        for (n, d) in entDelta where d != 0 { entRefs[n, default: 0] += d }
        // A name taken out by one decision and put by another (a claim moved) is put.
        takeOut.subtract(puts.keys)

        // Probes and upstream names.
        let (added, removed, recheck) = updateProbes(decided: decided)
        out.probesAdded = added
        out.probesRemoved = removed
        out.probesWanted = probesWanted
        dirty.formUnion(recheck)
        if externalChanged {
            externalChanged = false
            out.externalNames = Set(externalRefs.keys)
            for gone in upstream.keys where externalRefs[gone] == nil { upstream[gone] = nil }
        }
        out.nextDrainExpiry = drainExpiries.values.min()

        // The shards (or, when not building now, the changes staged for the next build).
        for (n, v) in puts {
            staged.puts[n] = v
            staged.takeOut.remove(n)
        }
        for n in takeOut {
            staged.puts[n] = nil
            staged.takeOut.insert(n)
        }
        staged.ents.formUnion(entDelta.keys)
        if fullRebuild {
            staged.full = true
            staged.takeOut = []
        }
        if buildTable && (staged.full || !staged.puts.isEmpty || !staged.takeOut.isEmpty || !staged.ents.isEmpty) {
            let (g, rebuilt) = rebuild(puts: staged.puts, takeOut: staged.takeOut, entTouched: staged.ents, full: staged.full)
            staged = Staged()
            globals = g
            out.globals = g
            out.globalsChanged = true
            out.shardsRebuilt = rebuilt
        }

        // Statuses that differ from the stored ones.
        for (key, d) in decided {
            guard let name = names[key] else { continue }
            if Self.digest(render(d, name, now: now)) != name.memo.digest {
                statusDirty.insert(key)
                out.statusesChanged += 1
            }
        }
        return out
    }

    /// The status `d` means for `name`, on the stored conditions' transition times.
    private func render(_ d: Decision, _ name: Name, now: WallTime) -> NameServiceStatus {
        var status = Self.status(from: name.memo, generation: name.generation)
        d.apply(to: &status, generation: name.generation, now: now.rfc3339)
        if !unprobed.isEmpty { noteUnprobed(&status, name.probes, generation: name.generation) }
        return status
    }

    /// Statuses waiting to be written.
    public var statusBacklog: Int { statusDirty.count }

    /// Up to `limit` statuses to write, rendered now (from the current inputs) and remembered as
    /// stored. A name whose status came back to the stored one meanwhile is skipped.
    /// Names waiting for a compile are left for after it (their status must match the plan).
    public mutating func takeStatuses(limit: Int = .max, now: WallTime) -> [StatusUpdate] {
        guard !zonesChanged else { return [] }
        var out: [StatusUpdate] = []
        var later: [String] = []
        defer { statusDirty.formUnion(later) }
        while out.count < limit, let key = statusDirty.popFirst() {
            guard let name = names[key] else { continue }
            if dirty.contains(key) {
                later.append(key)
                continue
            }
            let status = render(decide(key, name, now: now), name, now: now)
            let digest = Self.digest(status)
            guard digest != name.memo.digest else { continue }
            names[key]!.memo = StatusMemo(digest: digest, stamps: Self.stamps(of: status))
            out.append(StatusUpdate(name: key, status: status, ifGeneration: name.generation))
        }
        return out
    }

    /// Decides `keys` (reading the compiler's state only). A large set (a start-up page, a zone
    /// reload) is split over the cores: deciding is pure, each name on its own.
    private func decideAll(_ keys: Set<String>, now: WallTime) -> [(String, Decision)] {
        let list = Array(keys.filter { names[$0] != nil })
        guard settings.parallelDecide, list.count >= Self.parallelDecideThreshold, ProcessInfo.processInfo.activeProcessorCount > 1 else {
            return list.map { ($0, decide($0, names[$0]!, now: now)) }
        }
        let chunks = min(ProcessInfo.processInfo.activeProcessorCount * 4, list.count / 256 + 1)
        var results = [Decision?](repeating: nil, count: list.count)
        let snapshot = self
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                var i = c * list.count / chunks
                let end = (c + 1) * list.count / chunks
                while i < end {
                    out[i] = snapshot.decide(list[i], snapshot.names[list[i]]!, now: now)
                    i += 1
                }
            }
        }
        return zip(list, results).map { ($0, $1!) }
    }

    /// From this many names on, `decideAll` uses every core.
    static let parallelDecideThreshold = 2048

    /// Adds `delta` to the empty non-terminals between `fqdn` and its zone.
    private func placeEmptyNonTerminals(of fqdn: DNSName, delta: Int, into change: inout [DNSName: Int]) {
        guard let zone = deepestZone(containing: fqdn) else { return }
        var p = fqdn
        while let up = p.parent, up != zone, up.isSubdomain(of: zone) {
            change[up, default: 0] += delta
            p = up
        }
    }

    /// New shards for the ones touched (or all of them: zones changed, or the table outgrew its
    /// shard count).
    private mutating func rebuild(puts: [DNSName: (GlobalNameTable.Entry, NamePlan)], takeOut: Set<DNSName>,
                                  entTouched: Set<DNSName>, full: Bool) -> (GlobalNames, Int) {
        let old = globals
        let newCount = full || old.count == 0 ? puts.count
            : max(0, old.count + puts.keys.count(where: { old.lookup($0) == nil }) - takeOut.count(where: { old.lookup($0) != nil }))
        let wanted = GlobalNames.shardCount(forNames: newCount)
        let reshard = full || wanted > old.shards.count
        let shardCount = reshard ? max(wanted, full ? 1 : old.shards.count) : old.shards.count
        let shift = UInt32(32 - shardCount.trailingZeroBitCount)
        func shard(_ n: DNSName) -> Int { GlobalNames.shard(ofWire: n.wire, shift: shift) }

        var touched: [Int: (puts: [DNSName], removes: [DNSName], ents: [DNSName])] = [:]
        for n in puts.keys { touched[shard(n), default: ([], [], [])].puts.append(n) }
        for n in takeOut { touched[shard(n), default: ([], [], [])].removes.append(n) }
        for n in entTouched { touched[shard(n), default: ([], [], [])].ents.append(n) }
        var shards: [GlobalShard]
        var rebuilt = 0
        if reshard {
            // Every entry of every old shard goes where the new count puts it.
            var parts = [(entries: [GlobalNameTable.Entry], plans: [NamePlan])](repeating: ([], []), count: shardCount)
            if !full {
                for s in old.shards {
                    for i in 0..<s.table.count {
                        let e = s.table.entry(at: i)
                        guard puts[e.fqdn] == nil, !takeOut.contains(e.fqdn) else { continue }
                        let k = shard(e.fqdn)
                        parts[k].entries.append(e)
                        parts[k].plans.append(s.plans[i])
                    }
                }
            }
            for (n, (entry, p)) in puts {
                let k = shard(n)
                var e = entry
                e.fqdn = n
                parts[k].entries.append(e)
                parts[k].plans.append(p)
            }
            var ents = [[DNSName]](repeating: [], count: shardCount)
            var real = Set<DNSName>()
            if entRefs.count > 0 { for p in parts { for e in p.entries { real.insert(e.fqdn) } } }
            for (n, c) in entRefs where c > 0 && !real.contains(n) { ents[shard(n)].append(n) }
            shards = (0..<shardCount).map { GlobalShard(table: GlobalNameTable(entries: parts[$0].entries, emptyNonTerminals: ents[$0]),
                                                        plans: parts[$0].plans) }
            rebuilt = shardCount
        } else {
            shards = old.shards
            for (k, change) in touched {
                let s = old.shards[k]
                let replaced = Set(change.puts).union(change.removes)
                var entries: [GlobalNameTable.Entry] = []
                var plans: [NamePlan] = []
                entries.reserveCapacity(s.table.count + change.puts.count)
                plans.reserveCapacity(s.table.count + change.puts.count)
                for i in 0..<s.table.count {
                    let n = s.table.name(at: i)
                    guard !replaced.contains(n) else { continue }
                    entries.append(s.table.entry(at: i))
                    plans.append(s.plans[i])
                }
                for n in change.puts {
                    guard let (entry, p) = puts[n] else { continue }
                    var e = entry
                    e.fqdn = n
                    entries.append(e)
                    plans.append(p)
                }
                let real = Set(entries.map(\.fqdn))
                var ents = Set(s.table.emptyNonTerminals)
                ents.formUnion(change.ents)
                let kept = ents.filter { (entRefs[$0] ?? 0) > 0 && !real.contains($0) }
                shards[k] = GlobalShard(table: GlobalNameTable(entries: entries, emptyNonTerminals: Array(kept)), plans: plans)
                rebuilt += 1
            }
        }
        for (n, c) in entRefs where c <= 0 { entRefs[n] = nil }
        return (GlobalNames(shards: shards, count: shards.reduce(0) { $0 + $1.table.count }), rebuilt)
    }

    /// Records what `d` decided about `key`'s probes and upstream names in the reverse indexes.
    private mutating func linkDecision(_ key: String, _ d: Decision) {
        guard let name = names[key] else { return }
        let oldProbes = Set(name.probes)
        if oldProbes != d.probes {
            for k in oldProbes.subtracting(d.probes) {
                probeUsers[k]?.remove(key)
                if probeUsers[k]?.isEmpty == true { probeUsers[k] = nil }
                probesTouched.insert(k)
            }
            for k in d.probes.subtracting(oldProbes) {
                probeUsers[k, default: []].insert(key)
                probesTouched.insert(k)
            }
            names[key]!.probes = Array(d.probes)
        }
        let oldExternal = Set(name.external)
        if oldExternal != d.external {
            for n in oldExternal.subtracting(d.external) { releaseExternal(n) }
            for n in d.external.subtracting(oldExternal) {
                externalRefs[n, default: 0] += 1
                if externalRefs[n] == 1 { externalChanged = true }
            }
            names[key]!.external = Array(d.external)
        }
    }

    private mutating func releaseExternal(_ n: DNSName) {
        externalRefs[n, default: 0] -= 1
        if externalRefs[n]! <= 0 {
            externalRefs[n] = nil
            externalChanged = true
        }
    }

    /// Removes `key` from the reverse indexes its old form is in.
    private mutating func unlink(_ key: String, _ old: Name) {
        for r in old.references {
            referrers[r]?.remove(key)
            if referrers[r]?.isEmpty == true { referrers[r] = nil }
        }
        removeClaim(old.fqdn, key)
        for k in old.probes {
            probeUsers[k]?.remove(key)
            if probeUsers[k]?.isEmpty == true { probeUsers[k] = nil }
            probesTouched.insert(k)
        }
        for n in old.external { releaseExternal(n) }
    }

    // MARK: - Deciding one name

    /// Everything decided about one name.
    struct Decision {
        var entry: GlobalNameTable.Entry?
        var plan: NamePlan?
        var accepted: (ConditionStatus, ConditionReason, String)
        var targets: [TargetStatus]
        var external: Set<DNSName> = []
        var probes: Set<HealthKey> = []
        /// Targets with at least one healthy address / all targets, and why the others have none.
        var usableTargets = 0
        var totalTargets = 0
        var downReasons: [String] = []
        /// Drained targets: `name (reason (by who, until when))`.
        var drainReasons: [String] = []
        var allDown: AllDownBehavior = .failOpen
        /// allDown Fallback is answering for at least one family.
        var fallingBack = false
        var hasHealthCheck = false
        /// Addresses past `CandidateSet.maxAddresses` of their family: not answered.
        var droppedAddresses = 0

        /// The conditions this decision means. Nothing in them changes by itself (no plan
        /// numbers, no counters): the same decision gives the same status, so nothing is
        /// rewritten after a restart.
        func apply(to status: inout NameServiceStatus, generation: Int64, now: String) {
            status.observedGeneration = generation
            func set(_ type: ConditionType, _ s: ConditionStatus, _ reason: String, _ message: String) {
                _ = status.setCondition(Condition(type: type, status: s, reason: ConditionReason(rawValue: reason),
                                                  message: message, lastTransitionTime: now,
                                                  observedGeneration: generation))
            }
            set(.accepted, accepted.0, accepted.1.rawValue, accepted.2)
            guard let entry else {
                set(.programmed, .false, "NotAccepted", "not in the plan: \(accepted.2)")
                set(.healthy, .unknown, "NotProbed", "not resolved or probed while not accepted")
                set(.ready, .false, "NotAccepted", accepted.2)
                status.targets = targets
                return
            }
            set(.programmed, .true, "Served", "in the served plan: \(entry.fqdn) is answered by this server")
            let probing = hasHealthCheck ? " (TCP probes)" : " (no healthCheck: every target with an address counts as healthy)"
            var down = drainReasons.isEmpty ? "" : "; drained: " + drainReasons.joined(separator: ", ")
            if !downReasons.isEmpty { down += "; down: " + downReasons.joined(separator: ", ") }
            let addressCount = entry.ipv4.count + entry.ipv6.count
            if usableTargets == totalTargets {
                set(.healthy, .true, "AllTargetsHealthy", "\(usableTargets)/\(totalTargets) targets healthy\(probing)")
            } else if usableTargets > 0 {
                let reason = downReasons.isEmpty ? "SomeTargetsDrained" : "SomeTargetsDown"
                set(.healthy, .true, reason, "\(usableTargets)/\(totalTargets) targets healthy\(down)")
            } else {
                let undrained = drainReasons.isEmpty ? "" : " undrained"
                let behaviour = drainReasons.count == totalTargets
                    ? "every target is drained: answering NODATA"
                    : allDown == .failClosed
                    ? "allDown FailClosed: answering NODATA"
                    : allDown == .fallback
                    ? (fallingBack && addressCount > 0 ? "allDown Fallback: answering spec.fallback (\(addressCount) address(es))"
                                                       : "allDown Fallback: spec.fallback has no address to answer with: NODATA")
                    : (addressCount > 0 ? "allDown FailOpen: answering as if every\(undrained) target were healthy"
                                        : "allDown FailOpen: answering as if every\(undrained) target were healthy, but no target has an address")
                set(.healthy, .false, "AllTargetsDown", "0/\(totalTargets) targets healthy\(down); \(behaviour)")
            }
            if usableTargets == 0 && totalTargets > 0 && allDown == .failClosed {
                set(.ready, .false, "AllTargetsDown", "every target is down and allDown is FailClosed: NODATA\(down)")
            } else if addressCount > 0 {
                let dropped = droppedAddresses == 0 ? ""
                    : "; \(droppedAddresses) more address(es) from target FQDNs are not answered (at most \(CandidateSet.maxAddresses(.ipv4)) A and \(CandidateSet.maxAddresses(.ipv6)) AAAA per name, what one reply holds)"
                set(.ready, .true, "Serving", "\(addressCount) address(es) answered by \(entry.fqdn)\(dropped)")
            } else if usableTargets == 0 && totalTargets > 0 {
                set(.ready, .false, "AllTargetsDown", "no target has an address to answer with\(down)")
            } else {
                set(.ready, .false, "NoAddresses", "no target has an address to answer with")
            }
            status.targets = targets
        }
    }

    /// The deepest served zone containing `name`.
    private func deepestZone(containing name: DNSName) -> DNSName? {
        var best: DNSName?
        for z in zones.zones where name.isSubdomain(of: z.origin) {
            if best == nil || z.origin.labelCount > best!.labelCount { best = z.origin }
        }
        return best
    }

    private func decide(_ key: String, _ c: Name, now: WallTime) -> Decision {
        func refuse(_ reason: ConditionReason, _ message: String) -> Decision {
            Decision(entry: nil, plan: nil, accepted: (.false, reason, message), targets: [])
        }
        if let problems = c.problems { return refuse(.invalidSpec, problems) }
        guard let fqdn = try? DNSName(c.spec.fqdn) else { return refuse(.invalidSpec, "spec.fqdn is not a domain name") }
        guard let policy = c.spec.makePolicy() else { return refuse(.invalidSpec, "spec.policy is not known") }
        guard let zone = zones.zones.filter({ fqdn.isSubdomain(of: $0.origin) })
            .max(by: { $0.origin.labelCount < $1.origin.labelCount })
        else {
            return refuse(.outsideZones, "\(fqdn) is not inside any served zone (\(zones.zones.map { $0.origin.description }.joined(separator: ", ")))")
        }
        if fqdn.lowercased() == zone.origin {
            return refuse(.clashesWithStaticName, "\(fqdn) is the apex of zone \(zone.origin)")
        }
        switch zone.placement(of: fqdn) {
        case .hasRecords(let types):
            return refuse(.clashesWithStaticName,
                          "\(fqdn) already has static records (\(types.map(\.description).joined(separator: ", "))) in zone \(zone.origin)")
        case .delegated(let cut):
            return refuse(.belowDelegation, "\(fqdn) is delegated away at \(cut)")
        case .free:
            break
        }
        // The oldest claim on an FQDN keeps it (ties: name order), so a newcomer cannot take a
        // working name away.
        if let owner = owner(ofFQDN: c.fqdn), owner != key {
            let since = names[owner].map { " (the older claim: created at store revision \($0.firstSeen))" } ?? ""
            return refuse(.clashesWithNameService, "\(fqdn) is already served by NameService \(owner)\(since)")
        }

        var decision = Decision(entry: nil, plan: nil, accepted: (.true, .valid, "\(fqdn) is inside zone \(zone.origin)"),
                                targets: [])
        decision.allDown = c.spec.allDown
        decision.hasHealthCheck = c.spec.healthCheck != nil
        decision.totalTargets = c.spec.targets.count
        var inputs: [CandidateSet.Input] = []
        var drained: [String] = []
        var seen = Set<IPAddress>()
        let check = c.spec.healthCheck?.resolved(settings.healthCheckDefaults)
        for t in c.spec.targets {
            let drain = c.drains.active(for: t.name, at: now)
            var addresses: [IPAddress] = t.addresses.compactMap { IPAddress($0) }
            var failure: String?
            if let text = t.fqdn, let target = try? DNSName(text) {
                var visiting: Set<String> = [c.fqdn]
                switch resolveTarget(target.lowercased(), visiting: &visiting, external: &decision.external) {
                case .addresses(let found, _):
                    for a in found where !addresses.contains(a) { addresses.append(a) }
                case .failed(let why):
                    failure = why
                }
            }
            // An address answers once per name: a later target repeating it adds nothing.
            addresses = addresses.filter { seen.insert($0).inserted }
            var withHealth: [(address: IPAddress, healthy: Bool)] = []
            var probeErrors: [String] = []
            for a in addresses {
                var report: HealthReport?
                if let check, let port = UInt16(exactly: check.port) {
                    let key = HealthKey(address: a, port: port, check: check)
                    decision.probes.insert(key)
                    report = health[key]
                }
                // Before its first verdict a probed address counts as healthy (a restart must not
                // blank the zone).
                let healthy = report?.healthy ?? true
                withHealth.append((a, healthy))
                if !healthy { probeErrors.append("\(a): \(report?.lastError ?? "down")") }
                decision.targets.append(TargetStatus(name: t.name, address: a.description, healthy: healthy,
                                                     lastTransitionTime: report?.lastTransitionTime,
                                                     lastError: healthy ? nil : report?.lastError, drain: drain))
            }
            if let drain {
                // Never a candidate, whatever its probes say (even under allDown FailOpen); still
                // probed, so its verdict is current when the drain lifts.
                if addresses.isEmpty {
                    decision.targets.append(TargetStatus(name: t.name, address: "", healthy: false,
                                                         lastError: failure, drain: drain))
                }
                decision.drainReasons.append("\(t.name) (\(drain.summary))")
                drained.append(t.name)
                continue
            }
            if addresses.isEmpty {
                let why = failure ?? "no address (every address is another target's too)"
                decision.targets.append(TargetStatus(name: t.name, address: "", healthy: false, lastError: why))
                decision.downReasons.append("\(t.name) (\(why))")
            } else if withHealth.contains(where: \.healthy) {
                decision.usableTargets += 1
            } else {
                decision.downReasons.append("\(t.name) (\(probeErrors.joined(separator: ", ")))")
            }
            var locality: Locality?
            if let l = t.locality { locality = try? Locality(l) }
            inputs.append(CandidateSet.Input(name: t.name, locality: locality, ratio: t.ratio, addresses: withHealth))
        }
        let parts = CandidateSet.Parts.used(by: policy.kind)
        // allDown Fallback (issue 15): its literal addresses and what its fqdn resolves to, as a
        // target's fqdn resolves (kept resolved, so it is ready when every target goes down).
        var fallback: [IPAddress] = []
        if c.spec.allDown == .fallback, let fb = c.spec.fallback {
            fallback = fb.addresses.compactMap { IPAddress($0) }
            if let text = fb.fqdn, let name = try? DNSName(text) {
                var visiting: Set<String> = [c.fqdn]
                if case .addresses(let found, _) = resolveTarget(name.lowercased(), visiting: &visiting, external: &decision.external) {
                    for a in found where !fallback.contains(a) { fallback.append(a) }
                }
            }
        }
        let distribute = policy.kind == .locality ? c.spec.distribute : []
        let factor = c.spec.overprovisioningFactor ?? NameServiceSpec.defaultOverprovisioningFactor
        func candidates(_ family: AddressFamily) -> CandidateSet {
            CandidateSet(family: family, inputs: inputs, allDown: c.spec.allDown, drained: drained, parts: parts,
                         distribute: distribute, overprovisioningFactor: factor, fallback: fallback)
        }
        let plan = NamePlan(policy: policy, ipv4: candidates(.ipv4), ipv6: candidates(.ipv6))
        decision.plan = plan
        decision.fallingBack = plan.ipv4.mode == .allDownFallback || plan.ipv6.mode == .allDownFallback
        // Target FQDNs can resolve to more addresses than one reply holds: the plan keeps the
        // first `CandidateSet.maxAddresses` of each family, and the status says so.
        decision.droppedAddresses = plan.ipv4.droppedAddresses + plan.ipv6.droppedAddresses
        decision.entry = plan.tableEntry(fqdn: fqdn.lowercased(), ttl: UInt32(max(0, c.spec.ttl)), zone: zone.origin)
        return decision
    }

    /// The NameService that holds `fqdn`: the oldest claim (ties: name order).
    private func owner(ofFQDN fqdn: String) -> String? {
        guard let claimants = claims[fqdn] else { return nil }
        if case .one(let n) = claimants { return names[n] != nil ? n : nil }
        var best: (Int64, String)?
        for n in claimants.names {
            guard let c = names[n] else { continue }
            if best == nil || (c.firstSeen, n) < best! { best = (c.firstSeen, n) }
        }
        return best?.1
    }

    // MARK: - Target FQDNs

    /// What became of one target FQDN.
    enum TargetResolution: Equatable {
        case addresses([IPAddress], from: String)
        case failed(String)
    }

    /// The addresses of a target FQDN (lowercased):
    /// - inside a served zone and not delegated away: the NameService serving that name (its
    ///   literal addresses and, recursively, its own target FQDNs), else the zone's A/AAAA records
    ///   there (following CNAMEs, inside the zones or out to the upstream resolvers);
    /// - otherwise: the upstream resolvers' last result; the name is added to `external`.
    /// `visiting` stops reference loops.
    func resolveTarget(_ name: DNSName, visiting: inout Set<String>, external: inout Set<DNSName>,
                       depth: Int = 0) -> TargetResolution {
        guard depth < 8 else { return .failed("\(name): more than 8 levels of names referring to names") }
        let key = name.description
        guard visiting.insert(key).inserted else { return .failed("\(name): refers back to itself (a loop)") }
        defer { visiting.remove(key) }
        if let zone = zones.zones.filter({ name.isSubdomain(of: $0.origin) })
            .max(by: { $0.origin.labelCount < $1.origin.labelCount }) {
            if case .delegated = zone.placement(of: name) {
                return resolveUpstream(name, external: &external)
            }
            // Static data wins: a NameService claiming a name with static records is refused.
            guard let records = zoneAddresses[name] else {
                if let owner = owner(ofFQDN: key), let o = names[owner], o.problems == nil {
                    return resolveOwner(owner, o, name, visiting: &visiting, external: &external, depth: depth)
                }
                return .failed("\(name): no such name in zone \(zone.origin)")
            }
            if let cname = records.cname {
                return resolveTarget(cname, visiting: &visiting, external: &external, depth: depth + 1)
            }
            guard !records.addresses.isEmpty else {
                return .failed("\(name): no A or AAAA records in zone \(zone.origin)")
            }
            return .addresses(records.addresses, from: "zone \(zone.origin)")
        }
        return resolveUpstream(name, external: &external)
    }

    /// A target FQDN served by another NameService: its literal addresses and, recursively, its
    /// own target FQDNs.
    private func resolveOwner(_ ownerName: String, _ owner: Name, _ name: DNSName, visiting: inout Set<String>,
                              external: inout Set<DNSName>, depth: Int) -> TargetResolution {
        var found: [IPAddress] = []
        var errors: [String] = []
        for t in owner.spec.targets {
            for text in t.addresses { if let a = IPAddress(text), !found.contains(a) { found.append(a) } }
            if let f = t.fqdn, let n = try? DNSName(f) {
                switch resolveTarget(n.lowercased(), visiting: &visiting, external: &external, depth: depth + 1) {
                case .addresses(let more, _): for a in more where !found.contains(a) { found.append(a) }
                case .failed(let why): errors.append(why)
                }
            }
        }
        if found.isEmpty {
            return .failed("\(name): NameService \(ownerName) has no address"
                           + (errors.isEmpty ? "" : " (" + errors.joined(separator: "; ") + ")"))
        }
        return .addresses(found, from: "NameService \(ownerName)")
    }

    private func resolveUpstream(_ name: DNSName, external: inout Set<DNSName>) -> TargetResolution {
        guard settings.upstreamConfigured else {
            return .failed("\(name) is outside the served zones and no upstream resolvers are configured (upstream.resolvers)")
        }
        external.insert(name)
        switch upstream[name] {
        case .success(let addresses)?: return .addresses(addresses, from: "upstream")
        case .failure(let failure)?: return .failed("\(name): \(failure.message)")
        case nil: return .failed("\(name): waiting for the upstream resolvers")
        }
    }

    // MARK: - Probe limit (healthCheck.maxProbedAddresses)

    static let probeLimitReached = "ProbeLimitReached"

    /// Brings `probesWanted` (what the prober runs) and `unprobed` (wanted past
    /// `maxProbedAddresses`) up to date for the probes touched; returns what the prober must start
    /// and stop, and the names outside `decided` whose unprobed count changed (to compile again:
    /// their condition must say so). Under the cap every wanted probe runs. Past it, probes
    /// already run keep their place; freed room goes first to the unprobed (lowest address first),
    /// then to new probes in the same order, so replicas on the same specs probe the same ones.
    private mutating func updateProbes(decided: [String: Decision])
        -> (added: Set<HealthKey>, removed: Set<HealthKey>, recheck: Set<String>) {
        let touched = probesTouched
        probesTouched = []
        var added: Set<HealthKey> = []
        var removed: Set<HealthKey> = []
        var fresh: [HealthKey] = []
        var movedUnprobed: [HealthKey] = []
        for k in touched {
            if probeUsers[k] == nil {
                if probesWanted.remove(k) != nil { removed.insert(k) }
                if unprobed.remove(k) != nil { movedUnprobed.append(k) }
                health[k] = nil
            } else if !probesWanted.contains(k) && !unprobed.contains(k) {
                fresh.append(k)
            }
        }
        let cap = settings.maxProbedAddresses ?? .max
        var room = cap - probesWanted.count
        if room > 0 && !unprobed.isEmpty {
            for k in Self.ordered(unprobed).prefix(room) {
                unprobed.remove(k)
                probesWanted.insert(k)
                added.insert(k)
                movedUnprobed.append(k)
            }
            room = cap - probesWanted.count
        }
        if fresh.count > room { fresh = Self.ordered(Set(fresh)) }
        for (i, k) in fresh.enumerated() {
            if i < room {
                probesWanted.insert(k)
                added.insert(k)
            } else {
                unprobed.insert(k)
                movedUnprobed.append(k)
            }
        }
        var recheck: Set<String> = []
        for k in movedUnprobed { for n in probeUsers[k] ?? [] where decided[n] == nil { recheck.insert(n) } }
        return (added, removed, recheck)
    }

    /// Probes wanted but left out by `maxProbedAddresses`.
    public var unprobedCount: Int { unprobed.count }

    private static func ordered(_ keys: Set<HealthKey>) -> [HealthKey] {
        keys.sorted { a, b in
            switch (a.address, b.address) {
            case (.v4(let x), .v4(let y)) where x != y: return x < y
            case (.v6(let x), .v6(let y)) where x != y: return x < y
            case (.v4, .v6): return true
            case (.v6, .v4): return false
            default: return a.port != b.port ? a.port < b.port : a.check.intervalSeconds < b.check.intervalSeconds
            }
        }
    }

    /// The Healthy condition of a name with probes left out by the cap: reason `ProbeLimitReached`
    /// (while it is True: a False one keeps its reason, the message says it), and how many.
    private func noteUnprobed(_ status: inout NameServiceStatus, _ probes: [HealthKey], generation: Int64) {
        let left = probes.reduce(0) { $0 + (unprobed.contains($1) ? 1 : 0) }
        guard left > 0, let healthy = status.condition(.healthy) else { return }
        let note = "\(left) of \(probes.count) probed addresses not probed: healthCheck.maxProbedAddresses (\(settings.maxProbedAddresses ?? 0)) reached for this server; they count as healthy (unknown)"
        let reason = healthy.status == .true ? ConditionReason(rawValue: Self.probeLimitReached) : healthy.reason
        _ = status.setCondition(Condition(type: .healthy, status: healthy.status, reason: reason,
                                          message: note + "; " + healthy.message,
                                          lastTransitionTime: healthy.lastTransitionTime, observedGeneration: generation))
    }

    // MARK: - Status memo

    /// This replica's own view of a stored status.
    static func ownView(_ status: NameServiceStatus, replica: String?) -> NameServiceStatus {
        guard let replica, let mine = status.replicas.first(where: { $0.replica == replica }) else {
            var s = status
            s.replicas = []
            return s
        }
        return NameServiceStatus(observedGeneration: mine.observedGeneration, conditions: mine.conditions, targets: mine.targets)
    }

    static func memo(of status: NameServiceStatus?) -> StatusMemo {
        guard let status else { return StatusMemo(digest: 0) }
        return StatusMemo(digest: digest(status), stamps: stamps(of: status))
    }

    static func stamps(of status: NameServiceStatus) -> Stamps {
        var stamps = Stamps()
        for c in status.conditions {
            guard let i = Stamps.types.firstIndex(of: c.type), let s = Stamps.statuses.firstIndex(of: c.status) else { continue }
            stamps[i] = (UInt8(s + 1), WallTime(rfc3339: c.lastTransitionTime)?.secondsSinceEpoch ?? 0)
        }
        return stamps
    }

    /// The base a new status is computed on: the stored conditions' statuses and times (so a
    /// condition whose status holds keeps its `lastTransitionTime`).
    static func status(from memo: StatusMemo, generation: Int64) -> NameServiceStatus {
        var conditions: [Condition] = []
        for i in 0..<4 {
            let (s, since) = memo.stamps[i]
            guard s > 0 else { continue }
            conditions.append(Condition(type: Stamps.types[i], status: Stamps.statuses[Int(s) - 1], reason: ConditionReason(rawValue: ""),
                                        message: "", lastTransitionTime: WallTime(secondsSinceEpoch: since).rfc3339,
                                        observedGeneration: 0))
        }
        return NameServiceStatus(observedGeneration: generation, conditions: conditions)
    }

    /// A digest of everything in a status but the condition times (never 0).
    static func digest(_ status: NameServiceStatus) -> Int {
        var h = Hasher()
        h.combine(status.observedGeneration)
        for c in status.conditions {
            h.combine(c.type)
            h.combine(c.status)
            h.combine(c.reason)
            h.combine(c.message)
            h.combine(c.observedGeneration)
        }
        for t in status.targets {
            var t = t
            t.lastProbeTime = nil
            t.lastProbeLatencyMilliseconds = nil
            h.combine(t)
        }
        let d = h.finalize()
        return d == 0 ? 1 : d
    }

    // MARK: - Helpers

    static func fqdnKey(_ text: String) -> String {
        ((try? DNSName(text))?.lowercased().description) ?? text.lowercased()
    }

    /// The lowercased absolute FQDNs a spec's targets name.
    static func references(of spec: NameServiceSpec) -> [String] {
        var out: [String] = []
        for t in spec.targets {
            if let f = t.fqdn.flatMap({ try? DNSName($0) })?.lowercased().description, !out.contains(f) { out.append(f) }
        }
        return out
    }

    /// Every static name with its A/AAAA records and CNAME target, lowercased.
    static func indexAddresses(_ zones: ZoneSet) -> [DNSName: ZoneAddresses] {
        var index: [DNSName: ZoneAddresses] = [:]
        for zone in zones.zones {
            for r in zone.records {
                let owner = r.owner.lowercased()
                switch r.type {
                case .a, .aaaa, .cname:
                    switch r.data {
                    case .a(let a): index[owner, default: ZoneAddresses()].addresses.append(.v4(a))
                    case .aaaa(let a): index[owner, default: ZoneAddresses()].addresses.append(.v6(a))
                    case .cname(let t): index[owner, default: ZoneAddresses()].cname = t.lowercased()
                    default: break
                    }
                default:
                    if index[owner] == nil { index[owner] = ZoneAddresses() }
                }
            }
        }
        return index
    }
}

import Atomics
import DNSServer
import DNSWire
import DNSZone
import Foundation
import GSLB
import Logging
import NameServiceStore

/// Folds NameService specs and the served zones into the answer plan, swaps it into the DNS path,
/// and writes each NameService's status conditions back to the store.
///
/// - Follows the store with list-then-watch from the list's revision; on a compacted watch it
///   relists (etcd's contract, ARCHITECTURE.md "one persistence seam").
/// - Bursts are coalesced: events are queued, and one flush (after the queue stops growing within
///   the current scheduling turn) handles every changed name at once and publishes one plan.
/// - A change to one NameService re-validates and re-renders only that name; the plan's lookup
///   table is rebuilt from the kept entries (linear, no re-rendering of others).
/// - Status is written with `ifGeneration`, so a status computed for an older spec never lands on
///   a newer one; status-only events (its own writes) do not trigger work.
/// - The zones can change (SIGHUP): every name's placement is checked again and a plan published.
/// - Operator drains (`NameService.drains`) take a target out of the candidates, whatever its
///   probes say, until undrained or their `until` passes: the name is re-compiled then, and the
///   expired drain is removed from the store (best effort; any replica may do it).
/// - Targets given by `fqdn` are resolved here: from the served zones or another NameService when
///   the name is inside a served zone (and not delegated away), else from the results of the
///   upstream resolver (`resolved(_:_:)`), which follows the names `externalNames` lists. A change
///   to any of those re-compiles exactly the names that refer to it.
public actor Reconciler {
    public struct Configuration: Sendable {
        /// Delay before retrying the watch after the store failed.
        public var retryDelay: Duration = .milliseconds(500)
        /// The wall clock drains expire by (tests move it).
        public var now: @Sendable () -> WallTime = { .now }
        /// What a NameService's `healthCheck` leaves out (configuration key `healthCheck`).
        public var healthCheckDefaults = HealthCheckDefaults.standard
        /// What one NameService may hold (configuration section `limits`): a stored spec past
        /// them (the limits were lowered since it was written) is refused as InvalidSpec.
        public var specLimits = SpecLimits.standard
        /// Probes handed to the prober at most (`healthCheck.maxProbedAddresses`); nil: no cap.
        /// Past it the probes left out are not run: their addresses count as healthy (unknown) and
        /// the Healthy condition of each NameService using one says `ProbeLimitReached`.
        public var maxProbedAddresses: Int?
        public init() {}
    }

    struct Compiled {
        var object: NameService
        /// The FQDN, lowercased and absolute: what clashes are decided on (derived once).
        var fqdn: String
        /// The revision at which this name was first seen: the older claim on an FQDN wins.
        var firstSeen: Int64
        var entry: GlobalNameTable.Entry?
        var plan: NamePlan?
        var status: NameServiceStatus
        /// Lowercased absolute FQDNs of this spec's `fqdn` targets (for dependency tracking).
        var references: Set<String>
        /// The names among them the upstream resolvers must answer.
        var external: Set<DNSName> = []
        /// The probes this name's health depends on.
        var probes: Set<HealthKey> = []
    }

    /// What became of one target FQDN.
    enum TargetResolution: Equatable {
        case addresses([IPAddress], from: String)
        case failed(String)
    }

    private let store: any NameServiceStore
    private let holder: ServingStateHolder
    private let logger: Logger
    private let configuration: Configuration
    private var zones: ZoneSet
    private var clients: ClientMapping = .empty
    private var explainAllow: CIDRSet = .loopback
    /// Addresses (and in-zone CNAMEs) of every static name, for target FQDNs inside the zones.
    private var zoneAddresses: [DNSName: ZoneAddresses] = [:]
    /// Upstream results by lowercased name.
    private var upstream: [DNSName: Result<[IPAddress], UpstreamFailure>] = [:]
    /// Who asks the upstream resolvers; told the set of external names after each change.
    private let externalResolver: (any ExternalNameResolver)?
    private var externalNames: Set<DNSName> = []
    /// Who probes target addresses; told the set of probes after each change.
    private let prober: (any TargetProber)?
    private var probesWanted: Set<HealthKey> = []
    /// Probes wanted but not handed to the prober (past `maxProbedAddresses`).
    private var unprobed: Set<HealthKey> = []
    /// Probes whose users changed during this flush: only these are compared with what the
    /// prober has, so a flush costs O(probes of the changed names), not O(all probes).
    private var probesTouched: Set<HealthKey> = []
    /// The last verdict per probe; a probe without one counts as healthy.
    private var health: [HealthKey: HealthReport] = [:]
    /// Probe → names of the NameServices using it.
    private var probeUsers: [HealthKey: Set<String>] = [:]
    /// Lowercased FQDN → names of the NameServices with a target referring to it.
    private var referrers: [String: Set<String>] = [:]
    /// Lowercased FQDN → names of the NameServices claiming it (usually one).
    private var claims: [String: Set<String>] = [:]
    private var compiled: [String: Compiled] = [:]
    private var pending: [String: StoreEvent] = [:]
    private var flushScheduled = false
    private var pendingZoneChange = false
    private var servedFirstPlan = false
    private var revision: Int64 = 0
    private var publicationObserver: (@Sendable (PlanPublication) -> Void)?
    /// Names with a drain still to expire, and when the first of theirs does.
    private var drainExpiries: [String: WallTime] = [:]
    /// The wake-up for the earliest drain expiry, and when it fires.
    private var expiryTimer: (at: WallTime, task: Task<Void, Never>)?

    public init(store: any NameServiceStore, holder: ServingStateHolder, zones: ZoneSet, logger: Logger,
                configuration: Configuration = .init(), clients: ClientMapping = .empty,
                explainAllow: CIDRSet = .loopback, externalResolver: (any ExternalNameResolver)? = nil,
                prober: (any TargetProber)? = nil) {
        self.store = store
        self.holder = holder
        self.zones = zones
        self.logger = logger
        self.configuration = configuration
        self.clients = clients
        self.explainAllow = explainAllow
        self.externalResolver = externalResolver
        self.prober = prober
        self.zoneAddresses = Self.indexAddresses(zones)
    }

    /// The target FQDNs the upstream resolvers are asked for (those outside the served zones).
    public var upstreamNames: Set<DNSName> { externalNames }

    /// True once the store was listed and the first plan from it is being served.
    public var isReady: Bool { servedFirstPlan }

    /// The same, readable without awaiting the actor (for `/readyz`).
    public nonisolated var isReadyNow: Bool { readyFlag.load(ordering: .acquiring) }
    private nonisolated let readyFlag = ManagedAtomic(false)

    /// True from a failed store list or watch until the next list succeeds (for `/readyz`: the
    /// DNS path keeps answering from the last plan meanwhile).
    public nonisolated var isStoreFailing: Bool { storeFailingFlag.load(ordering: .acquiring) }
    private nonisolated let storeFailingFlag = ManagedAtomic(false)

    public var nameCount: Int { compiled.count }

    /// NameServices whose change waits for the next compile (the reconcile queue).
    public var queueDepth: Int { pending.count }

    /// Calls `observer` after every plan this reconciler publishes from a flush (the metrics
    /// exporter times compiles with it). Replaces any earlier observer.
    public func observePublications(_ observer: @escaping @Sendable (PlanPublication) -> Void) {
        publicationObserver = observer
    }

    /// Runs until cancelled: list, publish, then follow the watch (relisting when needed).
    public func run() async throws {
        while !Task.isCancelled {
            do {
                let (items, rev) = try await store.list(selector: nil)
                storeFailingFlag.store(false, ordering: .releasing)
                relist(items, revision: rev)
                await flush()
                let events = store.watch(fromRevision: rev)
                for try await event in events {
                    enqueue(event)
                }
                // The stream ended without error: the store is shutting down.
                if Task.isCancelled { return }
            } catch let error as StoreError where error.code == .compacted {
                logger.warning("watch compacted; relisting", metadata: ["oldest_revision": "\(error.oldestRevision ?? -1)"])
            } catch is CancellationError {
                return
            } catch {
                storeFailingFlag.store(true, ordering: .releasing)
                logger.error("store watch failed; DNS keeps answering from the last plan",
                             metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
    }

    /// New zones (SIGHUP reload): re-place every name and publish.
    public func setZones(_ zones: ZoneSet) async {
        self.zones = zones
        zoneAddresses = Self.indexAddresses(zones)
        pendingZoneChange = true
        await flush()
    }

    /// A new localities table / explain allow-list (SIGHUP): published at once with the same plan.
    public func setClientPolicy(_ clients: ClientMapping, explainAllow: CIDRSet) {
        self.clients = clients
        self.explainAllow = explainAllow
        // The holder numbers the snapshot: a flush suspended at an await cannot publish the same one.
        holder.publish { current, generation in
            current.with(clients: clients, explainAllow: explainAllow, generation: generation)
        }
    }

    /// A probe's verdict changed (or its first verdict arrived): the names using it are
    /// re-compiled and the plan swapped.
    public func healthChanged(_ key: HealthKey, _ report: HealthReport) async {
        guard health[key] != report else { return }
        health[key] = report
        for n in probeUsers[key] ?? [] where pending[n] == nil {
            if let c = compiled[n] { pending[n] = StoreEvent(kind: .modified, object: c.object, revision: revision) }
        }
        if !flushScheduled && !pending.isEmpty {
            flushScheduled = true
            Task { await self.flushSoon() }
        }
    }

    /// An upstream resolution result for `name` (a target FQDN outside the zones). Names that
    /// refer to it are re-compiled when the addresses or the error changed.
    public func resolved(_ name: DNSName, _ result: Result<[IPAddress], UpstreamFailure>) async {
        let key = name.lowercased()
        guard upstream[key] != result else { return }
        upstream[key] = result
        let dependents = referrers[key.description] ?? []
        guard !dependents.isEmpty else { return }
        for n in dependents where pending[n] == nil {
            if let c = compiled[n] {
                pending[n] = StoreEvent(kind: .modified, object: c.object, revision: revision)
            }
        }
        if !flushScheduled {
            flushScheduled = true
            Task { await self.flushSoon() }
        }
    }

    // MARK: - Events

    private func relist(_ items: [NameService], revision: Int64) {
        self.revision = revision
        let names = Set(items.map(\.metadata.name))
        for gone in compiled.keys where !names.contains(gone) {
            pending[gone] = StoreEvent(kind: .deleted, object: compiled[gone]!.object, revision: revision)
        }
        for item in items {
            pending[item.metadata.name] = StoreEvent(kind: .modified, object: item,
                                                     revision: Int64(item.metadata.resourceVersion ?? "") ?? revision)
        }
        pendingZoneChange = true
    }

    private func enqueue(_ event: StoreEvent) {
        revision = max(revision, event.revision)
        let name = event.object.metadata.name
        // Our own status writes come back as MODIFIED with an unchanged generation: nothing to do.
        if event.kind != .deleted, let known = compiled[name],
           known.object.metadata.generation == event.object.metadata.generation,
           known.object.metadata.labels == event.object.metadata.labels,
           known.object.drains == event.object.drains, pending[name] == nil {
            compiled[name]!.object.metadata.resourceVersion = event.object.metadata.resourceVersion
            return
        }
        pending[name] = event
        if !flushScheduled {
            flushScheduled = true
            Task { await self.flushSoon() }
        }
    }

    private func flushSoon() async {
        // Let the events already delivered join this flush.
        await Task.yield()
        await flush()
    }

    // MARK: - Compile and publish

    /// Applies every pending change, publishes one plan, then writes the statuses that changed.
    public func flush() async {
        flushScheduled = false
        guard !pending.isEmpty || pendingZoneChange else { return }
        let started = ContinuousClock.now
        let events = pending
        pending = [:]
        let zoneChange = pendingZoneChange
        pendingZoneChange = false

        var probesChanged = false
        for (name, event) in events {
            switch event.kind {
            case .deleted:
                if let old = compiled[name] { probesChanged = unlink(name, old) || probesChanged }
                compiled[name] = nil
            case .added, .modified:
                let firstSeen = compiled[name]?.firstSeen ?? event.revision
                if let old = compiled[name] { probesChanged = unlink(name, old) || probesChanged }
                let refs = Self.references(of: event.object)
                for r in refs { referrers[r, default: []].insert(name) }
                claims[fqdnKey(event.object), default: []].insert(name)
                // Keep the last status written: a re-compile caused by a dependency is not a new spec.
                let status = compiled[name]?.status ?? event.object.status ?? NameServiceStatus()
                compiled[name] = Compiled(object: event.object, fqdn: fqdnKey(event.object), firstSeen: firstSeen,
                                          entry: nil, plan: nil, status: status, references: refs)
            }
        }
        // Placement depends on the other names (FQDN clashes) and the zones: decide it for all names
        // whose outcome can have changed. A changed or removed name can free or take an FQDN, so
        // names sharing its FQDN are re-checked too.
        var affected = Set(events.keys.filter { compiled[$0] != nil })
        let touchedFQDNs = Set(events.values.map { fqdnKey($0.object) })
        for (name, c) in compiled where zoneChange || touchedFQDNs.contains(c.fqdn) { affected.insert(name) }
        // Names whose targets refer to an affected name's FQDN (transitively) resolve differently now.
        var queue = Array(touchedFQDNs.union(affected.compactMap { compiled[$0]?.fqdn }))
        var seenFQDNs = Set(queue)
        while let f = queue.popLast() {
            for n in referrers[f] ?? [] where compiled[n] != nil {
                affected.insert(n)
                if let nf = compiled[n]?.fqdn, seenFQDNs.insert(nf).inserted { queue.append(nf) }
            }
        }

        let now = configuration.now()
        var decisions: [String: Decision] = [:]
        for name in affected { decisions[name] = decide(name, now: now) }
        for name in events.keys where compiled[name] == nil { drainExpiries[name] = nil }
        var expiredDrains: [String] = []
        for name in affected {
            guard let drains = compiled[name]?.object.drains else { continue }
            drainExpiries[name] = drains.nextExpiry(after: now)
            if drains.contains(where: { !$0.isActive(at: now) }) { expiredDrains.append(name) }
        }
        scheduleDrainExpiry()
        var externalChanged = false
        for (name, d) in decisions {
            compiled[name]!.entry = d.entry
            compiled[name]!.plan = d.plan
            let oldProbes = compiled[name]!.probes
            if oldProbes != d.probes {
                unlinkProbes(name, oldProbes.subtracting(d.probes))
                for k in d.probes.subtracting(oldProbes) {
                    probeUsers[k, default: []].insert(name)
                    probesTouched.insert(k)
                }
                compiled[name]!.probes = d.probes
                probesChanged = true
            }
            if compiled[name]!.external != d.external {
                compiled[name]!.external = d.external
                externalChanged = true
            }
        }
        if probesChanged || !probesTouched.isEmpty {
            let (added, removed) = updateProbes(decided: decisions)
            if let prober, !added.isEmpty || !removed.isEmpty {
                await prober.updateTargets(adding: added, removing: removed, all: probesWanted)
            }
        }
        if externalChanged || events.values.contains(where: { $0.kind == .deleted }) {
            let wanted = compiled.values.reduce(into: Set<DNSName>()) { $0.formUnion($1.external) }
            if wanted != externalNames {
                externalNames = wanted
                for gone in upstream.keys where !wanted.contains(gone) { upstream[gone] = nil }
                await externalResolver?.setNames(wanted)
            }
        }
        // The table's order does not matter (it is a hash table); sorting 10k names per change did.
        var entries: [GlobalNameTable.Entry] = []
        var plans: [NamePlan] = []
        entries.reserveCapacity(compiled.count)
        plans.reserveCapacity(compiled.count)
        for c in compiled.values {
            guard let e = c.entry, let p = c.plan else { continue }
            entries.append(e)
            plans.append(p)
        }
        let table = GlobalNameTable(entries: entries)
        // The generation is the holder's: strictly above any other publish (setClientPolicy may
        // have published while this flush waited on the prober or the resolver above).
        let generation = holder.publish { _, generation in
            ServingState(zones: zones, globals: table, plans: plans, clients: clients,
                         explainAllow: explainAllow, generation: generation)
        }.generation
        servedFirstPlan = true
        readyFlag.store(true, ordering: .releasing)
        let elapsed = ContinuousClock.now - started
        logger.debug("plan published", metadata: ["plan": "\(generation)", "names": "\(entries.count)",
                                                  "changed": "\(events.count)", "compile": "\(elapsed)"])
        publicationObserver?(PlanPublication(generation: generation, names: entries.count, changed: events.count,
                                             compileDuration: elapsed))

        for (name, d) in decisions {
            guard let c = compiled[name] else { continue }
            var status = c.status
            status.observedGeneration = c.object.metadata.generation
            d.apply(to: &status, generation: c.object.metadata.generation, plan: generation)
            if !unprobed.isEmpty { noteUnprobed(&status, c.probes, generation: c.object.metadata.generation) }
            if status != c.status {
                compiled[name]!.status = status
                await writeStatus(name, status, generation: c.object.metadata.generation)
            }
        }
        for name in expiredDrains { await removeExpiredDrains(name, at: now) }
    }

    // MARK: - Drain expiry

    /// Wakes up when the earliest drain in force expires (one timer for all names).
    private func scheduleDrainExpiry() {
        guard let next = drainExpiries.values.min() else {
            expiryTimer?.task.cancel()
            expiryTimer = nil
            return
        }
        if let timer = expiryTimer, timer.at == next { return }
        expiryTimer?.task.cancel()
        let delay = max(.zero, next - configuration.now())
        expiryTimer = (next, Task { [weak self] in
            do { try await Task.sleep(for: delay + .milliseconds(1)) } catch { return }
            await self?.drainsExpired()
        })
    }

    /// Re-compiles the names whose drains expired and removes those drains from the store.
    func drainsExpired() async {
        expiryTimer = nil
        let now = configuration.now()
        for (name, at) in drainExpiries where at <= now {
            drainExpiries[name] = nil
            guard let c = compiled[name] else { continue }
            if pending[name] == nil { pending[name] = StoreEvent(kind: .modified, object: c.object, revision: revision) }
        }
        // The flush re-compiles them without the expired drains and removes those from the store.
        await flush()
        scheduleDrainExpiry()
    }

    /// Best effort: the store keeps an expired drain only until some replica removes it (it counts
    /// for nothing meanwhile). Read-modify-write guarded by the version read; a lost race is retried.
    private func removeExpiredDrains(_ name: String, at now: WallTime) async {
        for _ in 0..<3 {
            do {
                guard let object = try await store.get(name) else { return }
                let expired = object.drains.filter { !$0.isActive(at: now) }
                guard !expired.isEmpty else { return }
                _ = try await store.updateDrains(name, drains: object.drains.filter { $0.isActive(at: now) },
                                                 ifVersion: object.metadata.resourceVersion)
                for d in expired {
                    logger.info("drain expired", metadata: ["nameservice": "\(name)", "target": "\(d.target)", "drain": "\(d.summary)"])
                }
                return
            } catch where error.code == .conflict {
                continue
            } catch {
                logger.warning("could not remove an expired drain from the store (it no longer counts)",
                               metadata: ["nameservice": "\(name)", "error": "\(error)"])
                return
            }
        }
    }

    private func writeStatus(_ name: String, _ status: NameServiceStatus, generation: Int64) async {
        do {
            _ = try await store.updateStatus(name, status: status, ifGeneration: generation)
        } catch where error.code == .conflict || error.code == .notFound {
            // The spec moved on (or is gone); the newer event will be reconciled.
        } catch {
            logger.warning("status write failed", metadata: ["nameservice": "\(name)", "error": "\(error)"])
        }
    }

    private func fqdnKey(_ ns: NameService) -> String {
        ((try? DNSName(ns.spec.fqdn))?.lowercased().description) ?? ns.spec.fqdn.lowercased()
    }

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
        var hasHealthCheck = false
        /// Addresses past `CandidateSet.maxAddresses` of their family: not answered.
        var droppedAddresses = 0

        func apply(to status: inout NameServiceStatus, generation: Int64, plan planNumber: UInt64) {
            let now = rfc3339Now()
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
            set(.programmed, .true, "Served", "answering from plan \(planNumber)")
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

    private func decide(_ name: String, now: WallTime) -> Decision {
        let c = compiled[name]!
        let ns = c.object
        func refuse(_ reason: ConditionReason, _ message: String) -> Decision {
            Decision(entry: nil, plan: nil, accepted: (.false, reason, message), targets: [])
        }
        let problems = ns.validate(healthCheckDefaults: configuration.healthCheckDefaults, limits: configuration.specLimits)
        if !problems.isEmpty {
            return refuse(.invalidSpec, problems.map(\.description).joined(separator: "; "))
        }
        guard let fqdn = try? DNSName(ns.spec.fqdn) else { return refuse(.invalidSpec, "spec.fqdn is not a domain name") }
        guard let policy = ns.spec.makePolicy() else { return refuse(.invalidSpec, "spec.policy is not known") }
        // The deepest served zone containing the name.
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
        if let owner = owner(ofFQDN: c.fqdn), owner.object.metadata.name != name {
            return refuse(.clashesWithNameService, "\(fqdn) is already served by NameService \(owner.object.metadata.name)")
        }

        var decision = Decision(entry: nil, plan: nil, accepted: (.true, .valid, "\(fqdn) is inside zone \(zone.origin)"),
                                targets: [])
        decision.allDown = ns.spec.allDown
        decision.hasHealthCheck = ns.spec.healthCheck != nil
        decision.totalTargets = ns.spec.targets.count
        var inputs: [CandidateSet.Input] = []
        var drained: [String] = []
        var seen = Set<IPAddress>()
        for t in ns.spec.targets {
            let drain = ns.drains.active(for: t.name, at: now)
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
                if let check = ns.spec.healthCheck?.resolved(configuration.healthCheckDefaults),
                   let port = UInt16(exactly: check.port) {
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
        let plan = NamePlan(policy: policy,
                            ipv4: CandidateSet(family: .ipv4, inputs: inputs, allDown: ns.spec.allDown, drained: drained),
                            ipv6: CandidateSet(family: .ipv6, inputs: inputs, allDown: ns.spec.allDown, drained: drained))
        decision.plan = plan
        // Target FQDNs can resolve to more addresses than one reply holds: the plan keeps the
        // first `CandidateSet.maxAddresses` of each family, and the status says so.
        decision.droppedAddresses = plan.ipv4.droppedAddresses + plan.ipv6.droppedAddresses
        decision.entry = plan.tableEntry(fqdn: fqdn, ttl: UInt32(max(0, ns.spec.ttl)), zone: zone.origin)
        return decision
    }

    /// The NameService that holds `fqdn`: the oldest claim (ties: name order).
    private func owner(ofFQDN fqdn: String) -> Compiled? {
        (claims[fqdn] ?? []).compactMap { compiled[$0] }
            .min(by: { ($0.firstSeen, $0.object.metadata.name) < ($1.firstSeen, $1.object.metadata.name) })
    }

    // MARK: - Target FQDNs

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
                if let owner = owner(ofFQDN: key), owner.object.validate(healthCheckDefaults: configuration.healthCheckDefaults, limits: configuration.specLimits).isEmpty {
                    return resolveOwner(owner, name, visiting: &visiting, external: &external, depth: depth)
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
    private func resolveOwner(_ owner: Compiled, _ name: DNSName, visiting: inout Set<String>,
                              external: inout Set<DNSName>, depth: Int) -> TargetResolution {
        var found: [IPAddress] = []
        var errors: [String] = []
        for t in owner.object.spec.targets {
            for text in t.addresses { if let a = IPAddress(text), !found.contains(a) { found.append(a) } }
            if let f = t.fqdn, let n = try? DNSName(f) {
                switch resolveTarget(n.lowercased(), visiting: &visiting, external: &external, depth: depth + 1) {
                case .addresses(let more, _): for a in more where !found.contains(a) { found.append(a) }
                case .failed(let why): errors.append(why)
                }
            }
        }
        if found.isEmpty {
            return .failed("\(name): NameService \(owner.object.metadata.name) has no address"
                           + (errors.isEmpty ? "" : " (" + errors.joined(separator: "; ") + ")"))
        }
        return .addresses(found, from: "NameService \(owner.object.metadata.name)")
    }

    private func resolveUpstream(_ name: DNSName, external: inout Set<DNSName>) -> TargetResolution {
        guard externalResolver != nil else {
            return .failed("\(name) is outside the served zones and no upstream resolvers are configured (upstream.resolvers)")
        }
        external.insert(name)
        switch upstream[name] {
        case .success(let addresses)?: return .addresses(addresses, from: "upstream")
        case .failure(let failure)?: return .failed("\(name): \(failure.message)")
        case nil: return .failed("\(name): waiting for the upstream resolvers")
        }
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

    /// The lowercased absolute FQDNs a spec's targets name.
    static func references(of ns: NameService) -> Set<String> {
        Set(ns.spec.targets.compactMap { t in t.fqdn.flatMap { try? DNSName($0) }?.lowercased().description })
    }

    /// Removes `name` from every index its old compiled form is in (references, claims,
    /// probes); returns whether it used any probe.
    private func unlink(_ name: String, _ old: Compiled) -> Bool {
        for r in old.references {
            referrers[r]?.remove(name)
            if referrers[r]?.isEmpty == true { referrers[r] = nil }
        }
        claims[old.fqdn]?.remove(name)
        if claims[old.fqdn]?.isEmpty == true { claims[old.fqdn] = nil }
        unlinkProbes(name, old.probes)
        return !old.probes.isEmpty
    }

    private func unlinkProbes(_ name: String, _ probes: Set<HealthKey>) {
        probesTouched.formUnion(probes)
        for k in probes {
            probeUsers[k]?.remove(name)
            if probeUsers[k]?.isEmpty == true { probeUsers[k] = nil }
        }
    }
}

/// A static name's address data, for target FQDNs inside the zones.
struct ZoneAddresses {
    var addresses: [IPAddress] = []
    var cname: DNSName?
}

/// Asks upstream resolvers for the target FQDNs outside the served zones and reports back with
/// `Reconciler.resolved(_:_:)`.
public protocol ExternalNameResolver: Sendable {
    /// The names to keep resolved (lowercased); names no longer listed are forgotten.
    func setNames(_ names: Set<DNSName>) async
}

/// One TCP probe: an address, the port and the timing of a NameService's `healthCheck`. Probes
/// with equal keys are shared by every NameService using them.
public struct HealthKey: Sendable, Hashable {
    public var address: IPAddress
    public var port: UInt16
    /// The NameService's health check with the configured defaults filled in.
    public var check: HealthCheckSettings

    public init(address: IPAddress, port: UInt16, check: HealthCheckSettings) {
        self.address = address
        self.port = port
        self.check = check
    }
}

/// A probe's verdict as the status shows it.
public struct HealthReport: Sendable, Hashable {
    public var healthy: Bool
    /// RFC 3339, when the verdict last changed.
    public var lastTransitionTime: String?
    /// Why the last probe failed, in words (`connection refused`, `timed out after 3s`).
    public var lastError: String?

    public init(healthy: Bool, lastTransitionTime: String? = nil, lastError: String? = nil) {
        self.healthy = healthy
        self.lastTransitionTime = lastTransitionTime
        self.lastError = lastError
    }
}

/// Probes target addresses and reports verdicts with `Reconciler.healthChanged(_:_:)`.
public protocol TargetProber: Sendable {
    /// The probes to run; probes no longer listed stop.
    func setTargets(_ targets: Set<HealthKey>) async
    /// The same as a change: `added` start, `removed` stop; `all` is the whole set after it (a
    /// copy-on-write share of the reconciler's own, free to pass). The reconciler calls this one,
    /// so a change costs the prober O(changed probes); the default hands `all` to `setTargets`.
    func updateTargets(adding added: Set<HealthKey>, removing removed: Set<HealthKey>, all: Set<HealthKey>) async
}

extension TargetProber {
    public func updateTargets(adding added: Set<HealthKey>, removing removed: Set<HealthKey>, all: Set<HealthKey>) async {
        await setTargets(all)
    }
}

/// Why an upstream resolution failed, as the status shows it (`NXDOMAIN from 127.0.0.1:53`).
public struct UpstreamFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// RFC 3339 UTC time, seconds precision, as Kubernetes writes condition times.
func rfc3339Now() -> String {
    Date().ISO8601Format()
}

/// One plan published by a flush of the reconciler.
public struct PlanPublication: Sendable, Hashable {
    /// The serving snapshot's generation.
    public var generation: UInt64
    /// Global names in the plan.
    public var names: Int
    /// NameService events the flush applied.
    public var changed: Int
    /// From the start of the flush to the swap of the new plan (re-validation, placement,
    /// rendering and building the lookup table).
    public var compileDuration: Duration

    public init(generation: UInt64, names: Int, changed: Int, compileDuration: Duration) {
        self.generation = generation
        self.names = names
        self.changed = changed
        self.compileDuration = compileDuration
    }
}

// MARK: - Probe limit (healthCheck.maxProbedAddresses)

extension Reconciler {
    static let probeLimitReached = "ProbeLimitReached"

    /// Brings `probesWanted` (what the prober runs) and `unprobed` (wanted past
    /// `maxProbedAddresses`) up to date for the probes touched in this flush; returns what the
    /// prober must start and stop. Under the cap every wanted probe runs. Past it, probes already
    /// run keep their place; freed room goes first to the unprobed (lowest address first), then to
    /// new probes in the same order, so replicas on the same specs probe the same ones. Names
    /// whose unprobed count changed outside `decided` are re-compiled soon (their condition must
    /// say so). Cost: O(touched probes), plus sorting the unprobed when room frees up past the cap.
    func updateProbes(decided: [String: Decision]) -> (added: Set<HealthKey>, removed: Set<HealthKey>) {
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
        let cap = configuration.maxProbedAddresses ?? .max
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
                if unprobed.isEmpty {
                    logger.warning("healthCheck.maxProbedAddresses reached: addresses past it are not probed and count as healthy",
                                   metadata: ["maxProbedAddresses": "\(cap)"])
                }
                unprobed.insert(k)
                movedUnprobed.append(k)
            }
        }
        var names: Set<String> = []
        for k in movedUnprobed { names.formUnion(probeUsers[k] ?? []) }
        for n in names where decided[n] == nil && pending[n] == nil {
            if let c = compiled[n] { pending[n] = StoreEvent(kind: .modified, object: c.object, revision: revision) }
        }
        if !flushScheduled && !pending.isEmpty {
            flushScheduled = true
            Task { await self.flushSoon() }
        }
        return (added, removed)
    }

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
    func noteUnprobed(_ status: inout NameServiceStatus, _ probes: Set<HealthKey>, generation: Int64) {
        let left = probes.reduce(0) { $0 + (unprobed.contains($1) ? 1 : 0) }
        guard left > 0, let healthy = status.condition(.healthy) else { return }
        let note = "\(left) of \(probes.count) probed addresses not probed: healthCheck.maxProbedAddresses (\(configuration.maxProbedAddresses ?? 0)) reached for this server; they count as healthy (unknown)"
        let reason = healthy.status == .true ? ConditionReason(rawValue: Self.probeLimitReached) : healthy.reason
        _ = status.setCondition(Condition(type: .healthy, status: healthy.status, reason: reason,
                                          message: note + "; " + healthy.message,
                                          lastTransitionTime: healthy.lastTransitionTime, observedGeneration: generation))
    }
}
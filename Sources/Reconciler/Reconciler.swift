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
public actor Reconciler {
    public struct Configuration: Sendable {
        /// Delay before retrying the watch after the store failed.
        public var retryDelay: Duration = .milliseconds(500)
        public init() {}
    }

    struct Compiled {
        var object: NameService
        /// The FQDN, lowercased and absolute: what clashes are decided on (derived once).
        var fqdn: String
        /// The revision at which this name was first seen: the older claim on an FQDN wins.
        var firstSeen: Int64
        var entry: GlobalNameTable.Entry?
        var status: NameServiceStatus
    }

    private let store: any NameServiceStore
    private let holder: ServingStateHolder
    private let logger: Logger
    private let configuration: Configuration
    private var zones: ZoneSet
    private var compiled: [String: Compiled] = [:]
    private var pending: [String: StoreEvent] = [:]
    private var flushScheduled = false
    private var pendingZoneChange = false
    private var servedFirstPlan = false
    private var revision: Int64 = 0

    public init(store: any NameServiceStore, holder: ServingStateHolder, zones: ZoneSet, logger: Logger,
                configuration: Configuration = .init()) {
        self.store = store
        self.holder = holder
        self.zones = zones
        self.logger = logger
        self.configuration = configuration
    }

    /// True once the store was listed and the first plan from it is being served.
    public var isReady: Bool { servedFirstPlan }

    /// The same, readable without awaiting the actor (for `/readyz`).
    public nonisolated var isReadyNow: Bool { readyFlag.load(ordering: .acquiring) }
    private nonisolated let readyFlag = ManagedAtomic(false)

    public var nameCount: Int { compiled.count }

    /// Runs until cancelled: list, publish, then follow the watch (relisting when needed).
    public func run() async throws {
        while !Task.isCancelled {
            do {
                let (items, rev) = try await store.list(selector: nil)
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
                logger.error("store watch failed; DNS keeps answering from the last plan",
                             metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
    }

    /// New zones (SIGHUP reload): re-place every name and publish.
    public func setZones(_ zones: ZoneSet) async {
        self.zones = zones
        pendingZoneChange = true
        await flush()
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
           known.object.metadata.labels == event.object.metadata.labels, pending[name] == nil {
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

        for (name, event) in events {
            switch event.kind {
            case .deleted:
                compiled[name] = nil
            case .added, .modified:
                let firstSeen = compiled[name]?.firstSeen ?? event.revision
                compiled[name] = Compiled(object: event.object, fqdn: fqdnKey(event.object), firstSeen: firstSeen,
                                          entry: nil, status: event.object.status ?? NameServiceStatus())
            }
        }
        // Placement depends on the other names (FQDN clashes) and the zones: decide it for all names
        // whose outcome can have changed. A changed or removed name can free or take an FQDN, so
        // names sharing its FQDN are re-checked too.
        var affected = Set(events.keys.filter { compiled[$0] != nil })
        let touchedFQDNs = Set(events.values.map { fqdnKey($0.object) })
        for (name, c) in compiled where zoneChange || touchedFQDNs.contains(c.fqdn) { affected.insert(name) }

        let generation = holder.generation + 1
        var decisions: [String: Decision] = [:]
        for name in affected { decisions[name] = decide(name) }
        for (name, d) in decisions {
            compiled[name]!.entry = d.entry
        }
        // The table's order does not matter (it is a hash table); sorting 10k names per change did.
        let entries = compiled.values.compactMap(\.entry)
        let table = GlobalNameTable(entries: entries)
        holder.store(ServingState(zones: zones, globals: table, generation: generation))
        servedFirstPlan = true
        readyFlag.store(true, ordering: .releasing)
        let elapsed = ContinuousClock.now - started
        logger.debug("plan published", metadata: ["plan": "\(generation)", "names": "\(entries.count)",
                                                  "changed": "\(events.count)", "compile": "\(elapsed)"])

        for (name, d) in decisions {
            guard let c = compiled[name] else { continue }
            var status = c.status
            status.observedGeneration = c.object.metadata.generation
            d.apply(to: &status, generation: c.object.metadata.generation, plan: generation)
            if status != c.status {
                compiled[name]!.status = status
                await writeStatus(name, status, generation: c.object.metadata.generation)
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
        var accepted: (ConditionStatus, ConditionReason, String)
        var addressCount: Int
        var targets: [TargetStatus]

        func apply(to status: inout NameServiceStatus, generation: Int64, plan: UInt64) {
            let now = rfc3339Now()
            func set(_ type: ConditionType, _ s: ConditionStatus, _ reason: String, _ message: String) {
                _ = status.setCondition(Condition(type: type, status: s, reason: ConditionReason(rawValue: reason),
                                                  message: message, lastTransitionTime: now,
                                                  observedGeneration: generation))
            }
            set(.accepted, accepted.0, accepted.1.rawValue, accepted.2)
            if entry != nil {
                set(.programmed, .true, "Served", "answering from plan \(plan)")
                set(.healthy, .unknown, "NotProbed",
                    "health checks are not enabled in this version; every target address is served")
                if addressCount > 0 {
                    set(.ready, .true, "Serving", "\(addressCount) address(es) answered")
                } else {
                    set(.ready, .false, "NoAddresses", "no target has an address to answer with")
                }
            } else {
                set(.programmed, .false, "NotAccepted", "not in the plan: \(accepted.2)")
                set(.healthy, .unknown, "NotProbed", "not probed while not accepted")
                set(.ready, .false, "NotAccepted", accepted.2)
            }
            status.targets = targets
        }
    }

    private func decide(_ name: String) -> Decision {
        let c = compiled[name]!
        let ns = c.object
        func refuse(_ reason: ConditionReason, _ message: String) -> Decision {
            Decision(entry: nil, accepted: (.false, reason, message), addressCount: 0, targets: [])
        }
        let problems = ns.validate()
        if !problems.isEmpty {
            return refuse(.invalidSpec, problems.map(\.description).joined(separator: "; "))
        }
        guard let fqdn = try? DNSName(ns.spec.fqdn) else { return refuse(.invalidSpec, "spec.fqdn is not a domain name") }
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
        let key = c.fqdn
        if let owner = compiled.values.filter({ $0.fqdn == key && $0.object.metadata.name != name })
            .min(by: { ($0.firstSeen, $0.object.metadata.name) < ($1.firstSeen, $1.object.metadata.name) }),
            (owner.firstSeen, owner.object.metadata.name) < (c.firstSeen, name) {
            return refuse(.clashesWithNameService, "\(fqdn) is already served by NameService \(owner.object.metadata.name)")
        }
        var v4: [IPv4Address] = [], v6: [IPv6Address] = []
        var targets: [TargetStatus] = []
        for t in ns.spec.targets {
            for text in t.addresses {
                switch IPAddress(text) {
                case .v4(let a)?: if !v4.contains(a) { v4.append(a) }
                case .v6(let a)?: if !v6.contains(a) { v6.append(a) }
                case nil: continue
                }
                targets.append(TargetStatus(name: t.name, address: text, healthy: true))
            }
            if t.addresses.isEmpty, let f = t.fqdn {
                targets.append(TargetStatus(name: t.name, address: "", healthy: false,
                                            lastError: "target FQDN \(f) is not resolved in this version"))
            }
        }
        let entry = GlobalNameTable.Entry(fqdn: fqdn, ttl: UInt32(max(0, ns.spec.ttl)), ipv4: v4, ipv6: v6,
                                          zone: zone.origin)
        return Decision(entry: entry,
                        accepted: (.true, .valid, "\(fqdn) is inside zone \(zone.origin)"),
                        addressCount: v4.count + v6.count, targets: targets)
    }
}

/// RFC 3339 UTC time, seconds precision, as Kubernetes writes condition times.
func rfc3339Now() -> String {
    Date().ISO8601Format()
}

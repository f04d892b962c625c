import Atomics
import DNSWire
import Foundation
import DNSZone
import GSLB
import Logging
import NameServiceStore
import Plan

/// The loop around the `PlanCompiler`: follows the store, feeds the compiler, publishes what it
/// compiles into the DNS path and writes the statuses it reports. Nothing is decided here.
///
/// - Follows the store with a paged list, then a watch from the list's revision; on a compacted
///   watch it lists again (etcd's contract: the store is the one persistence seam). The first
///   plan is published once the whole list is compiled (a name is never NXDOMAIN because the
///   start-up had not reached it yet); each page is compiled as it arrives, so start-up work is
///   spread and cancellation is honoured between pages.
/// - Changes (store events, probe verdicts, upstream answers, drain expiries, zones) mark names
///   in the compiler; one flush compiles whatever accumulated and publishes one plan, so bursts
///   coalesce.
/// - Statuses are written in batches (`updateStatuses`, one transaction each) by their own loop,
///   only when they differ from the stored one (timestamps aside), with `ifGeneration` so a
///   status computed for an older spec never lands on a newer one, and never ahead of the watch:
///   a batch waits until the watch has delivered the previous batch's writes, so the store's
///   event history is never outrun by our own writes. Answering never waits for them.
/// - Every loop runs inside `run()` (a task group): no task outlives it.
public actor Reconciler {
    public struct Configuration: Sendable {
        /// Delay before retrying the watch (or a status write) after the store failed.
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
        /// With several replicas on one store: this replica's name in `status.replicas`.
        public var replica: String?
        /// NameServices per page when listing the store.
        public var listPageSize = 1000
        /// Status writes per store transaction at most.
        public var statusBatchSize = 500
        public init() {}
    }

    private let store: any NameServiceStore
    private let holder: ServingStateHolder
    private let logger: Logger
    private let configuration: Configuration
    private var compiler: PlanCompiler
    private var clients: ClientMapping = .empty
    private var explainAllow: CIDRSet = .loopback
    private let externalResolver: (any ExternalNameResolver)?
    private let prober: (any TargetProber)?
    /// The newest revision the store list or watch delivered.
    private var revision: Int64 = 0
    /// False while the first list is being compiled: nothing is published before it is whole.
    private var loaded = false
    private var servedFirstPlan = false
    private var publicationObserver: (@Sendable (PlanPublication) -> Void)?
    /// Changes waiting for the flush loop.
    private let flushWakeups: AsyncStream<Void>
    private let flushSignal: AsyncStream<Void>.Continuation
    /// Statuses to write are the compiler's (`statusBacklog`); the status loop renders and
    /// writes them in batches.
    private let statusWakeups: AsyncStream<Void>
    private let statusSignal: AsyncStream<Void>.Continuation
    /// Whether the watch is open (status writes wait for it).
    private var watching = false
    /// The earliest drain expiry, for the drain timer loop.
    private var nextDrainExpiry: WallTime?
    private let timerWakeups: AsyncStream<Void>
    private let timerSignal: AsyncStream<Void>.Continuation
    /// Store events applied since the last flush (for the publication record).
    private var changedSinceFlush = 0
    /// Watch events read off the stream and not applied yet: the watch is read apart from the
    /// actor, so a long compile never leaves it unread (the store would expire it, 410, and a
    /// relist of a million names would follow).
    private nonisolated let inbox = EventInbox()

    public init(store: any NameServiceStore, holder: ServingStateHolder, zones: ZoneSet, logger: Logger,
                configuration: Configuration = .init(), clients: ClientMapping = .empty,
                explainAllow: CIDRSet = .loopback, externalResolver: (any ExternalNameResolver)? = nil,
                prober: (any TargetProber)? = nil) {
        self.store = store
        self.holder = holder
        self.logger = logger
        self.configuration = configuration
        self.clients = clients
        self.explainAllow = explainAllow
        self.externalResolver = externalResolver
        self.prober = prober
        var settings = PlanCompiler.Settings()
        settings.healthCheckDefaults = configuration.healthCheckDefaults
        settings.specLimits = configuration.specLimits
        settings.maxProbedAddresses = configuration.maxProbedAddresses
        settings.upstreamConfigured = externalResolver != nil
        settings.replica = configuration.replica
        self.compiler = PlanCompiler(zones: zones, settings: settings)
        (flushWakeups, flushSignal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (statusWakeups, statusSignal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (timerWakeups, timerSignal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The target FQDNs the upstream resolvers are asked for (those outside the served zones).
    public var upstreamNames: Set<DNSName> { compiler.externalNames }

    /// True once the store was listed and the first plan from it is being served.
    public var isReady: Bool { servedFirstPlan }

    /// The same, readable without awaiting the actor (for `/readyz`).
    public nonisolated var isReadyNow: Bool { readyFlag.load(ordering: .acquiring) }
    private nonisolated let readyFlag = ManagedAtomic(false)

    /// True from a failed store list or watch until the next list succeeds (for `/readyz`: the
    /// DNS path keeps answering from the last plan meanwhile).
    public nonisolated var isStoreFailing: Bool { storeFailingFlag.load(ordering: .acquiring) }
    private nonisolated let storeFailingFlag = ManagedAtomic(false)

    public var nameCount: Int { compiler.count }

    /// NameServices whose change waits for the next compile (the reconcile queue).
    public var queueDepth: Int { compiler.pendingCount }

    /// Statuses computed and not yet written.
    public var statusBacklog: Int { compiler.statusBacklog }

    /// Calls `observer` after every plan this reconciler publishes from a flush (the metrics
    /// exporter times compiles with it). Replaces any earlier observer.
    public func observePublications(_ observer: @escaping @Sendable (PlanPublication) -> Void) {
        publicationObserver = observer
    }

    /// Runs until cancelled: list, publish, then follow the watch (listing again when needed),
    /// with the flush, status and drain-timer loops beside it.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.flushLoop() }
            group.addTask { await self.statusLoop() }
            group.addTask { await self.drainTimerLoop() }
            group.addTask { await self.followStore() }
            // The store loop ends on cancellation or when the store shuts down: stop the others.
            _ = await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Store intake

    private func followStore() async {
        while !Task.isCancelled {
            do {
                let rev = try await relist()
                storeFailingFlag.store(false, ordering: .releasing)
                // The watch opens before any status is written (they wait for `watching`).
                let events = store.watch(fromRevision: rev)
                watching = true
                await flush(publish: true)
                Self.returnFreedMemory()  // the list's pages and the compiles' temporaries
                statusSignal.yield()
                try await read(events)
                applyInbox()
                watching = false
                // The stream ended without error: the store is shutting down.
                return
            } catch let error as StoreError where error.code == .compacted {
                watching = false
                logger.warning("watch compacted; relisting", metadata: ["oldest_revision": "\(error.oldestRevision ?? -1)"])
            } catch is CancellationError {
                return
            } catch {
                watching = false
                if Task.isCancelled { return }
                storeFailingFlag.store(true, ordering: .releasing)
                logger.error("store watch failed; DNS keeps answering from the last plan",
                             metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
    }

    /// Lists the store in pages, compiling each page as it comes (the first plan is published
    /// by the caller once the list is whole); names no longer listed are removed. Returns the
    /// list's revision.
    private func relist() async throws -> Int64 {
        // Events read before a watch failed are older than this list: apply them first.
        applyInbox()
        var listRevision: Int64 = 0
        var seen = Set<String>()
        let store = self.store
        let limit = configuration.listPageSize
        var page: ListPage? = try await store.listPage(ListOptions(limit: limit))
        while let current = page {
            // The store reads (and decodes) the next page while this one is compiled.
            async let next = Self.page(of: store, limit: limit, after: current.continueToken)
            listRevision = current.revision
            for item in current.items {
                seen.insert(item.metadata.name)
                compiler.upsert(item, revision: Int64(item.metadata.resourceVersion ?? "") ?? current.revision)
            }
            changedSinceFlush += current.items.count
            // Compile as the pages come, a few pages at a time (published when the list is whole).
            if current.continueToken != nil && !loaded && compiler.pendingCount >= 8192 { await flush(publish: false) }
            try Task.checkCancellation()
            page = try await next
        }
        for gone in Array(compiler.knownNames) where !seen.contains(gone) { compiler.remove(gone) }
        revision = max(revision, listRevision)
        loaded = true
        return listRevision
    }

    /// The page after `token` (nil at the end of the list).
    private static func page(of store: any NameServiceStore, limit: Int, after token: String?) async throws -> ListPage? {
        guard let token else { return nil }
        return try await store.listPage(ListOptions(limit: limit, continueToken: token))
    }

    /// Reads the watch off the actor into the inbox and wakes the flush loop (which applies it).
    private nonisolated func read(_ events: AsyncThrowingStream<StoreEvent, any Error>) async throws {
        for try await event in events {
            inbox.append(event)
            flushSignal.yield()
        }
    }

    private func applyInbox() {
        for event in inbox.takeAll() { apply(event) }
    }

    private func apply(_ event: StoreEvent) {
        revision = max(revision, event.revision)
        let changed: Bool
        switch event.kind {
        case .deleted:
            compiler.remove(event.object.metadata.name)
            changed = true
        case .added, .modified:
            changed = compiler.upsert(event.object, revision: event.revision)
        }
        if changed {
            changedSinceFlush += 1
            flushSignal.yield()
        }
    }

    // MARK: - Other inputs

    /// New zones (SIGHUP reload): re-place every name and publish.
    public func setZones(_ zones: ZoneSet) async {
        compiler.setZones(zones)
        if loaded {
            await flush(publish: true)
        } else {
            // Before the first list: serve the new zones at once (the names follow with the list).
            holder.publish { current, generation in current.with(zones: zones, generation: generation) }
        }
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
    /// compiled again and the plan swapped.
    public func healthChanged(_ key: HealthKey, _ report: HealthReport) {
        if compiler.setHealth(key, report) { flushSignal.yield() }
    }

    /// An upstream resolution result for `name` (a target FQDN outside the zones). Names that
    /// refer to it are compiled again when the addresses or the error changed.
    public func resolved(_ name: DNSName, _ result: Result<[IPAddress], UpstreamFailure>) {
        if compiler.setUpstream(name, result) { flushSignal.yield() }
    }

    // MARK: - Flush

    private func flushLoop() async {
        for await _ in flushWakeups {
            // Let the events already delivered join this flush.
            await Task.yield()
            await flush(publish: loaded)
        }
    }

    /// Compiles what changed and, when `publish`, swaps the plan in.
    public func flush() async {
        await flush(publish: loaded)
    }

    private func flush(publish: Bool) async {
        applyInbox()
        let mustPublish = publish && !servedFirstPlan
        guard compiler.hasWork || mustPublish || (publish && compiler.hasStagedTable) else { return }
        let started = ContinuousClock.now
        let unprobedBefore = compiler.unprobedCount
        let out = compiler.compile(now: configuration.now(), buildTable: publish)
        if unprobedBefore == 0 && compiler.unprobedCount > 0 {
            logger.warning("healthCheck.maxProbedAddresses reached: addresses past it are not probed and count as healthy",
                           metadata: ["maxProbedAddresses": "\(configuration.maxProbedAddresses ?? 0)"])
        }
        if compiler.hasWork { flushSignal.yield() }  // names to look at again (probe cap moves)
        if let prober, !out.probesAdded.isEmpty || !out.probesRemoved.isEmpty {
            await prober.updateTargets(adding: out.probesAdded, removing: out.probesRemoved, all: out.probesWanted)
        }
        if let names = out.externalNames { await externalResolver?.setNames(names) }
        if nextDrainExpiry != out.nextDrainExpiry {
            nextDrainExpiry = out.nextDrainExpiry
            timerSignal.yield()
        }
        if compiler.statusBacklog > 0 { statusSignal.yield() }
        if publish && (out.globalsChanged || mustPublish) {
            // The holder numbers the snapshot: strictly above any other publish (setClientPolicy
            // may have published while this flush waited on the prober or the resolver above).
            let globals = compiler.globals
            let generation = holder.publish { current, generation in
                current.with(zones: compiler.zones, globals: globals, clients: clients, explainAllow: explainAllow,
                             generation: generation)
            }.generation
            servedFirstPlan = true
            readyFlag.store(true, ordering: .releasing)
            let elapsed = ContinuousClock.now - started
            logger.debug("plan published", metadata: ["plan": "\(generation)", "names": "\(globals.count)",
                                                      "compiled": "\(out.compiled)", "shards": "\(out.shardsRebuilt)",
                                                      "compile": "\(elapsed)"])
            publicationObserver?(PlanPublication(generation: generation, names: globals.count, changed: changedSinceFlush,
                                                 compileDuration: elapsed))
            changedSinceFlush = 0
        } else if publish && !servedFirstPlan {
            servedFirstPlan = true
            readyFlag.store(true, ordering: .releasing)
        }
        for name in out.expiredDrains { await removeExpiredDrains(name, at: configuration.now()) }
    }

    /// Gives the memory malloc holds free back to the system: a list leaves its decoded pages and
    /// the compiles' temporaries freed inside glibc's heaps (measured after a 100k start: 4 % of
    /// the RSS; the rest is live).
    static func returnFreedMemory() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }

    // MARK: - Status writes

    private func statusLoop() async {
        for await _ in statusWakeups {
            // Names waiting for a compile are left to it (the flush signals again after it).
            while !Task.isCancelled, watching, compiler.statusBacklog > 0, await writeStatusBatch() {}
        }
    }

    /// Writes up to `statusBatchSize` statuses in one store call, then waits until the watch
    /// has delivered them (so our own writes never outrun the watch and compact it away).
    private func writeStatusBatch() async -> Bool {
        let batch = compiler.takeStatuses(limit: configuration.statusBatchSize, now: configuration.now())
        guard !batch.isEmpty else { return false }
        let results = await store.updateStatuses(batch)
        var written: Int64 = 0
        var failed: [String] = []
        for (update, result) in zip(batch, results) {
            switch result {
            case .success(let object):
                written = max(written, Int64(object.metadata.resourceVersion ?? "") ?? 0)
            case .failure(let error) where error.code == .conflict || error.code == .notFound:
                // The spec moved on (or is gone); the newer event will be compiled.
                break
            case .failure(let error):
                logger.warning("status write failed", metadata: ["nameservice": "\(update.name)", "error": "\(error)"])
                failed.append(update.name)
            }
        }
        if !failed.isEmpty {
            // Written again after a pause (rendered anew then).
            compiler.forgetStatus(failed)
            try? await Task.sleep(for: configuration.retryDelay)
        }
        // Never ahead of the watch: wait (bounded) until it has delivered what was just written.
        let deadline = ContinuousClock.now + .seconds(5)
        while watching && revision < written && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    // MARK: - Drain expiry

    private func drainTimerLoop() async {
        for await _ in timerWakeups {
            while !Task.isCancelled, let next = nextDrainExpiry {
                let wait = next - configuration.now()
                if wait > .zero {
                    // Short naps, so an earlier drain added meanwhile is not overslept.
                    try? await Task.sleep(for: min(wait + .milliseconds(1), .milliseconds(50)))
                    continue
                }
                await drainsExpired()
            }
        }
    }

    /// Compiles again the names whose drains expired (the flush removes those from the store).
    func drainsExpired() async {
        compiler.drainsDue(now: configuration.now())
        nextDrainExpiry = nil
        await flush(publish: loaded)
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
}

/// Watch events between the reader and the actor (a lock and an array: appended by the reading
/// task, taken whole by the actor).
final class EventInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [StoreEvent] = []

    func append(_ event: StoreEvent) {
        lock.lock()
        events.append(event)
        lock.unlock()
    }

    func takeAll() -> [StoreEvent] {
        lock.lock()
        defer { lock.unlock() }
        let taken = events
        events = []
        return taken
    }
}

#if os(Linux)
/// glibc's `int malloc_trim(size_t pad)` (malloc.h, not in the Glibc module's headers).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

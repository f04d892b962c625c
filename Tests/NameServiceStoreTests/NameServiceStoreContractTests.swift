import GSLB
import NameServiceStore
import NameServiceStoreEtcd
import NameServiceStoreTesting
import Testing

/// The `NameServiceStore` contract, run against every implementation on a fresh store.
@Suite("NameServiceStore contract")
struct NameServiceStoreContractTests {
    @Test(arguments: StoreKind.allCases)
    func createsGetsAndReplaces(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            #expect(try await store.get("checkout") == nil)
            #expect(try await store.revision() == rev(0))

            let created = try await store.put(nameService("checkout", labels: ["team": "payments"]), ifVersion: nil)
            #expect(created.metadata.resourceVersion == rv(1))
            #expect(created.metadata.generation == 1)
            #expect(created.metadata.labels == ["team": "payments"])
            #expect(created.status == nil)
            #expect(try await store.get("checkout") == created)

            let replaced = try await store.put(nameService("checkout", addresses: ["192.0.2.2"]), ifVersion: nil)
            #expect(replaced.metadata.resourceVersion == rv(2))
            #expect(replaced.metadata.generation == 2)
            #expect(replaced.metadata.labels == [:])
            #expect(replaced.spec.targets[0].addresses == ["192.0.2.2"])
            #expect(try await store.get("checkout") == replaced)
            #expect(try await store.revision() == rev(2))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func listsSortedByNameWithSelectors(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await store.put(nameService("c"), ifVersion: nil)
            _ = try await store.put(nameService("a", labels: ["team": "pay", "tier": "canary"]), ifVersion: nil)
            _ = try await store.put(nameService("b", labels: ["team": "ops"]), ifVersion: nil)

            func names(_ selector: String?) async throws -> [String] {
                let s = try selector.map { text throws(StoreError) in try LabelSelector(parsing: text) }
                return try await store.list(selector: s).items.map(\.metadata.name)
            }
            let all = try await store.list(selector: nil)
            #expect(all.items.map(\.metadata.name) == ["a", "b", "c"])
            #expect(all.revision == rev(3))
            #expect(all.items[0].metadata.resourceVersion == rv(2))
            #expect(try await names("team=pay") == ["a"])
            #expect(try await names("team==pay,tier=canary") == ["a"])
            #expect(try await names("team!=pay") == ["b", "c"])
            #expect(try await names("team") == ["a", "b"])
            #expect(try await names("!team") == ["c"])
            #expect(try await names("team=nobody") == [])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func revisionIsStoreWideAndEveryWriteTakesTheNext(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var versions: [String?] = []
            for i in 0..<5 { versions.append(try await store.put(nameService("n\(i % 2)", ttl: 30 + i), ifVersion: nil).metadata.resourceVersion) }
            versions.append(try await store.updateStatus("n0", status: status("Valid", generation: 3), ifGeneration: nil).metadata.resourceVersion)
            versions.append(try await store.delete("n1", ifVersion: nil).metadata.resourceVersion)
            #expect(versions == (1...7).map { rv($0) })
            #expect(try await store.revision() == rev(7))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func generationBumpsOnlyOnSpecChange(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let v1 = try await store.put(nameService("x"), ifVersion: nil)
            #expect(v1.metadata.generation == 1)

            // Labels only: a write (new resourceVersion) but the same generation.
            let v2 = try await store.put(nameService("x", labels: ["a": "b"]), ifVersion: nil)
            #expect(v2.metadata.generation == 1)
            #expect(v2.metadata.resourceVersion == rv(2))

            // The client's generation and resourceVersion are ignored; the store's rule decides.
            var claimed = nameService("x", labels: ["a": "b"], ttl: 60)
            claimed.metadata.generation = 41
            claimed.metadata.resourceVersion = "999"
            let v3 = try await store.put(claimed, ifVersion: nil)
            #expect(v3.metadata.generation == 2)
            #expect(v3.metadata.resourceVersion == rv(3))

            // Nothing changed: a no-op that keeps the stored revision and emits no event.
            let v4 = try await store.put(nameService("x", labels: ["a": "b"], ttl: 60), ifVersion: rv(3))
            #expect(v4 == v3)
            #expect(try await store.revision() == rev(3))

            // Deleted and created again: a new object starts at generation 1.
            _ = try await store.delete("x", ifVersion: nil)
            let again = try await store.put(nameService("x"), ifVersion: nil)
            #expect(again.metadata.generation == 1)
            #expect(again.metadata.resourceVersion == rv(5))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func statusIsKeptAcrossPutAndDoesNotBumpGeneration(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await store.put(nameService("s"), ifVersion: nil)
            let st = status("Valid", generation: 1)
            let withStatus = try await store.updateStatus("s", status: st, ifGeneration: 1)
            #expect(withStatus.status == st)
            #expect(withStatus.metadata.generation == 1)
            #expect(withStatus.metadata.resourceVersion == rv(2))

            // The same status again changes nothing.
            let same = try await store.updateStatus("s", status: st, ifGeneration: nil)
            #expect(same == withStatus)
            #expect(try await store.revision() == rev(2))

            // A put ignores the status it carries and keeps the stored one.
            var incoming = nameService("s", ttl: 99)
            incoming.status = status("Bogus", generation: 7)
            let replaced = try await store.put(incoming, ifVersion: rv(2))
            #expect(replaced.status == st)
            #expect(replaced.metadata.generation == 2)
            #expect(try await store.get("s")?.status == st)

            // A status computed for generation 1 is refused now that the spec is at 2.
            await #expect(throws: StoreError(.conflict, "")) {
                try await store.updateStatus("s", status: status("Late", generation: 1), ifGeneration: 1)
            }
            #expect(try await store.get("s")?.status == st)
            await #expect(throws: StoreError(.notFound, "")) {
                try await store.updateStatus("missing", status: st, ifGeneration: nil)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func drainsAreTheirOwnPartKeptAcrossPutAndStatus(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            func twoTargets(ttl: Int = 30, targets: [String] = ["a", "b"]) -> NameService {
                var ns = nameService("d", ttl: ttl)
                ns.spec.targets = targets.enumerated().map { Target(name: $0.element, addresses: ["192.0.2.\($0.offset + 1)"]) }
                return ns
            }
            _ = try await store.put(twoTargets(), ifVersion: nil)  // revision 1
            let since = WallTime(secondsSinceEpoch: 1_738_324_800)
            let b = TargetDrain(target: "b", reason: "kernel upgrade", by: "bob", since: since, until: since + .seconds(3600))
            let a = TargetDrain(target: "a", reason: "maintenance", by: "alice", since: since)
            let drained = try await store.updateDrains("d", drains: [b, a], ifVersion: rv(1))
            #expect(drained.drains == [a, b])  // sorted by target
            #expect(drained.metadata.generation == 1)
            #expect(drained.metadata.resourceVersion == rv(2))
            #expect(try await store.get("d")?.drains == [a, b])

            // The same drains again change nothing; a stale version conflicts and changes nothing.
            #expect(try await store.updateDrains("d", drains: [a, b], ifVersion: nil) == drained)
            #expect(try await store.revision() == rev(2))
            await #expect(throws: StoreError(.conflict, "")) {
                try await store.updateDrains("d", drains: [], ifVersion: rv(1))
            }
            await #expect(throws: StoreError(.invalid, "")) {
                try await store.updateDrains("d", drains: [a, a], ifVersion: nil)
            }
            await #expect(throws: StoreError(.notFound, "")) {
                try await store.updateDrains("missing", drains: [a], ifVersion: nil)
            }

            // A put (which may carry drains of its own) and a status write keep the stored drains.
            var incoming = twoTargets(ttl: 99)
            incoming.drains = [TargetDrain(target: "a", reason: "bogus", by: "controller", since: since)]
            let replaced = try await store.put(incoming, ifVersion: nil)
            #expect(replaced.drains == [a, b])
            #expect(replaced.metadata.generation == 2)
            let withStatus = try await store.updateStatus("d", status: status("Valid", generation: 2), ifGeneration: 2)
            #expect(withStatus.drains == [a, b])

            // Watchers see the drain change as MODIFIED; undraining everything stores none.
            let from = try await store.revision()
            let undrained = try await store.updateDrains("d", drains: [], ifVersion: withStatus.metadata.resourceVersion)
            #expect(undrained.drains.isEmpty)
            var events = store.watch(fromRevision: from).makeAsyncIterator()
            let event = try await events.next()
            #expect(event?.kind == .modified && event?.object.drains == [])

            // A target taken out of the spec takes its drain with it; adding it back starts undrained.
            _ = try await store.updateDrains("d", drains: [a, b], ifVersion: nil)
            #expect(try await store.put(twoTargets(targets: ["a"]), ifVersion: nil).drains == [a])
            #expect(try await store.put(twoTargets(), ifVersion: nil).drains == [a])

            // A re-created object starts without drains.
            _ = try await store.delete("d", ifVersion: nil)
            #expect(try await store.put(twoTargets(), ifVersion: nil).drains.isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func putIfVersionConflicts(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            // A version for an object that does not exist.
            await #expect(throws: StoreError(.conflict, "")) {
                try await store.put(nameService("c"), ifVersion: rv(1))
            }
            #expect(try await store.get("c") == nil)
            #expect(try await store.revision() == rev(0))

            let v1 = try await store.put(nameService("c"), ifVersion: nil)
            let v2 = try await store.put(nameService("c", ttl: 10), ifVersion: v1.metadata.resourceVersion)
            #expect(v2.spec.ttl == 10)

            // Stale: v1's version is no longer current; nothing changes.
            do throws(StoreError) {
                _ = try await store.put(nameService("c", ttl: 20), ifVersion: v1.metadata.resourceVersion)
                Issue.record("a stale resourceVersion was accepted")
            } catch {
                #expect(error.code == .conflict)
                #expect(error.message.contains(rv(2)))
            }
            #expect(try await store.get("c") == v2)
            #expect(try await store.revision() == rev(2))

            // An empty version means "not given", as in Kubernetes.
            let v3 = try await store.put(nameService("c", ttl: 20), ifVersion: "")
            #expect(v3.metadata.resourceVersion == rv(3))

            await #expect(throws: StoreError(.invalid, "")) {
                try await store.put(nameService(""), ifVersion: nil)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentWritersWithTheSameVersionExactlyOneWins(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let base = try await store.put(nameService("race"), ifVersion: nil)
            let version = base.metadata.resourceVersion
            let outcomes = try await withThrowingTaskGroup(of: Result<NameService, StoreError>.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        do throws(StoreError) {
                            return .success(try await store.put(nameService("race", ttl: 100 + i), ifVersion: version))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var all: [Result<NameService, StoreError>] = []
                for try await r in group { all.append(r) }
                return all
            }
            let winners = outcomes.compactMap { try? $0.get() }
            let losers = outcomes.compactMap { r -> StoreError? in if case .failure(let e) = r { e } else { nil } }
            #expect(winners.count == 1)
            #expect(losers.count == 7)
            #expect(losers.allSatisfy { $0.code == .conflict })
            #expect(try await store.get("race") == winners.first)
            #expect(try await store.revision() == rev(2))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func deleteAndDeleteIfVersion(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let a = try await store.put(nameService("a"), ifVersion: nil)
            _ = try await store.put(nameService("b"), ifVersion: nil)

            await #expect(throws: StoreError(.conflict, "")) { try await store.delete("a", ifVersion: rv(2)) }
            #expect(try await store.get("a") == a)

            let gone = try await store.delete("a", ifVersion: a.metadata.resourceVersion)
            #expect(gone.metadata.resourceVersion == rv(3))
            #expect(gone.spec == a.spec)
            #expect(gone.metadata.generation == 1)
            #expect(try await store.get("a") == nil)
            #expect(try await store.list(selector: nil).items.map(\.metadata.name) == ["b"])

            await #expect(throws: StoreError(.notFound, "")) { try await store.delete("a", ifVersion: nil) }
            await #expect(throws: StoreError(.notFound, "")) { try await store.delete("a", ifVersion: rv(3)) }
            #expect(try await store.revision() == rev(3))
        }
    }

    /// The creation revision (etcd's `create_revision`) and timestamp are set once, at creation,
    /// whatever a writer sends, and kept by every later write, in gets, lists and watch events;
    /// deleting and creating the name again gives a new one. Claims on an FQDN are ordered by it.
    @Test(arguments: StoreKind.allCases)
    func creationRevisionIsSetOnceAndKept(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await store.put(nameService("first"), ifVersion: nil)
            var forged = nameService("a")
            forged.metadata.creationRevision = 1
            forged.metadata.creationTimestamp = "2000-01-01T00:00:00Z"
            let created = try await store.put(forged, ifVersion: nil)
            #expect(created.metadata.creationRevision == rev(2))
            let stamp = try #require(created.metadata.creationTimestamp)
            #expect(stamp != "2000-01-01T00:00:00Z" && WallTime(rfc3339: stamp) != nil)
            var update = nameService("a", ttl: 9)
            update.metadata.creationRevision = 99
            update.metadata.creationTimestamp = "2001-01-01T00:00:00Z"
            let replaced = try await store.put(update, ifVersion: nil)
            _ = try await store.updateStatus("a", status: status("Valid", generation: 2), ifGeneration: 2)
            _ = try await store.updateDrains("a", drains: [], ifVersion: nil)
            for object in [replaced, try #require(try await store.get("a")),
                           try #require(try await store.list(selector: nil).items.first { $0.metadata.name == "a" })] {
                #expect(object.metadata.creationRevision == rev(2))
                #expect(object.metadata.creationTimestamp == stamp)
            }
            let events = try await collect(store.watch(fromRevision: rev(1)), count: 3)
            #expect(events.allSatisfy { $0.object.metadata.creationRevision == rev(2) })
            _ = try await store.delete("a", ifVersion: nil)
            let again = try await store.put(nameService("a"), ifVersion: nil)
            #expect(again.metadata.creationRevision == again.metadata.resourceVersion.flatMap { Int64($0) })
            #expect(try await store.get("a")?.metadata.creationRevision == again.metadata.creationRevision)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func watchReplaysThenFollowsLive(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await store.put(nameService("a"), ifVersion: nil)
            _ = try await store.put(nameService("a", ttl: 5), ifVersion: nil)
            _ = try await store.updateStatus("a", status: status("Valid", generation: 2), ifGeneration: 2)

            let stream = store.watch(fromRevision: rev(0))
            let writer = Task {
                _ = try await store.put(nameService("b"), ifVersion: nil)
                _ = try await store.delete("a", ifVersion: nil)
            }
            let events = try await collect(stream, count: 5)
            try await writer.value
            #expect(events.map(\.revision) == revs(1, 2, 3, 4, 5))
            #expect(events.map(\.kind) == [.added, .modified, .modified, .added, .deleted])
            #expect(events.map(\.object.metadata.name) == ["a", "a", "a", "b", "a"])
            #expect(events.allSatisfy { $0.object.metadata.resourceVersion == String($0.revision) })
            #expect(events[1].object.metadata.generation == 2)
            #expect(events[2].object.status == status("Valid", generation: 2))
            #expect(events[4].object.status == status("Valid", generation: 2))
        }
    }

    /// Writes run while a watcher replays a long history: every revision arrives exactly once,
    /// in order, across the switch from replay to live events.
    @Test(arguments: StoreKind.allCases)
    func watchHasNoGapOrDuplicateWhileWritesRace(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for i in 0..<300 { _ = try await store.put(nameService("n\(i % 17)", ttl: i), ifVersion: nil) }
            let stream = store.watch(fromRevision: rev(0))
            let writer = Task {
                for i in 300..<600 { _ = try await store.put(nameService("n\(i % 17)", ttl: i), ifVersion: nil) }
            }
            let events = try await collect(stream, count: 600, seconds: 60)
            try await writer.value
            #expect(events.map(\.revision) == revs(1...600))
            #expect(events.map(\.object.spec.ttl) == Array(0..<600))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func watchResumesFromARevision(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for i in 0..<6 { _ = try await store.put(nameService("n\(i)"), ifVersion: nil) }
            let resumed = try await collect(store.watch(fromRevision: rev(4)), count: 2)
            #expect(resumed.map(\.revision) == revs(5, 6))

            // From a list's revision: only later changes.
            let (_, revision) = try await store.list(selector: nil)
            let stream = store.watch(fromRevision: revision)
            _ = try await store.delete("n0", ifVersion: nil)
            let next = try await collect(stream, count: 1)
            #expect(next.map(\.revision) == revs(7))
            #expect(next.first?.kind == .deleted)

            if kind == .etcd {
                // etcd: from a revision not reached yet, nothing until the cluster passes it.
                let future = store.watch(fromRevision: rev(8))
                _ = try await store.put(nameService("m8"), ifVersion: nil)
                _ = try await store.put(nameService("m9"), ifVersion: nil)
                #expect(try await collect(future, count: 1).map(\.revision) == revs(9))
            } else {
                // The single-owner stores know every revision there is: a future one fails at once.
                let future = try await failure(of: store.watch(fromRevision: rev(8)))
                #expect(future?.code == .tooLargeResourceVersion)
                #expect(future?.currentRevision == rev(7))
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func watchFromACompactedRevisionFails(_ kind: StoreKind) async throws {
        try await withStore(kind, eventHistoryLimit: 5) { store in
            for i in 0..<20 { _ = try await store.put(nameService("n\(i % 3)", ttl: i), ifVersion: nil) }
            try await compactHistory(store, keepingLast: 5)

            let tooOld = try await failure(of: store.watch(fromRevision: rev(0)))
            #expect(tooOld?.code == .compacted)
            #expect(tooOld?.oldestRevision == rev(16))
            #expect(try await failure(of: store.watch(fromRevision: rev(14)))?.code == .compacted)

            let kept = try await collect(store.watch(fromRevision: rev(15)), count: 5)
            #expect(kept.map(\.revision) == revs(16, 17, 18, 19, 20))

            // Compaction drops history only: every object is still there.
            #expect(try await store.list(selector: nil).items.count == 3)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func manyWatchersSeeTheSameEvents(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let streams = (0..<4).map { _ in store.watch(fromRevision: rev(0)) }
            for i in 0..<10 { _ = try await store.put(nameService("w\(i)"), ifVersion: nil) }
            for s in streams {
                #expect(try await collect(s, count: 10).map(\.revision) == revs(1...10))
            }
        }
    }

    /// A consumer that goes away (an HTTP watch client disconnecting) must not stay registered.
    @Test(arguments: StoreKind.allCases)
    func droppedWatchStreamsAreForgotten(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let stream = store.watch(fromRevision: rev(0))
            let seen = SeenCounter()
            let consumer = Task {
                for try await _ in stream { await seen.add() }
                return await seen.count
            }
            _ = try await store.put(nameService("a"), ifVersion: nil)
            try await waitUntil("the watch to register") { await liveWatchCount(store) == 1 }
            // etcd delivers the event a moment after the write returns: cancel once it has arrived.
            try await waitUntil("the event to arrive") { await seen.count == 1 }
            consumer.cancel()
            #expect(try await consumer.value == 1)
            // Forgotten when the stream ends, without waiting for the next write to find it dead.
            try await waitUntil("the dropped watch to be forgotten") { await liveWatchCount(store) == 0 }
        }
    }
}

/// How many events a watch consumer has taken so far.
actor SeenCounter {
    private(set) var count = 0
    func add() { count += 1 }
}

func liveWatchCount(_ store: any NameServiceStore) async -> Int {
    switch store {
    case let s as SQLiteNameServiceStore: await s.liveWatchCount()
    case let s as InMemoryNameServiceStore: await s.liveWatchCount()
    case let s as EtcdNameServiceStore: s.liveWatchCount()
    default: -1
    }
}

/// Polls `condition` every 10 ms for at most `seconds`.
func waitUntil(_ what: String, seconds: Double = 10, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(10))
    }
}

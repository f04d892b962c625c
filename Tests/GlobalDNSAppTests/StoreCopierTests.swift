import GSLB
import GlobalDNSApp
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// `globaldns store copy` between two in-memory stores: what is copied, what is left alone, and a
/// live replica writing status between the copier's read and its write.
@Suite struct StoreCopierTests {
    func nameService(_ name: String, address: String = "192.0.2.1", labels: [String: String] = [:]) -> NameService {
        NameService(metadata: ObjectMeta(name: name, labels: labels),
                    spec: NameServiceSpec(fqdn: "\(name).g.example.com", ttl: 30,
                                          targets: [Target(name: "t1", addresses: [address])]))
    }

    func status(generation: Int64) -> NameServiceStatus {
        NameServiceStatus(observedGeneration: generation, conditions: [],
                          targets: [TargetStatus(name: "t1", address: "192.0.2.1", healthy: true)])
    }

    let drain = TargetDrain(target: "t1", reason: "rack move", by: "alice", since: .now)

    @Test func copiesSpecLabelsAndDrainsNeverStatusAndIsIdempotent() async throws {
        let source = InMemoryNameServiceStore(), destination = InMemoryNameServiceStore()
        _ = try await source.put(nameService("a", labels: ["team": "pay"]), ifVersion: nil)
        _ = try await source.put(nameService("b"), ifVersion: nil)
        _ = try await source.updateDrains("b", drains: [drain], ifVersion: nil)
        _ = try await source.updateStatus("a", status: status(generation: 1), ifGeneration: nil)

        let first = try await StoreCopier(overwrite: false).copy(from: source, to: destination)
        #expect(first.lines.map(\.outcome) == [.created, .created])
        let a = try #require(try await destination.get("a"))
        #expect(a.metadata.labels == ["team": "pay"] && a.spec == nameService("a").spec)
        #expect(a.status == nil, "status is the destination's replicas' to write")
        #expect(try await destination.get("b")?.drains == [drain])

        let again = try await StoreCopier(overwrite: false).copy(from: source, to: destination)
        #expect(again.lines.map(\.outcome) == [.unchanged, .unchanged])
        #expect(again.summary == "2 NameService(s): 0 created, 0 replaced, 2 unchanged, 0 differ and were not copied")
    }

    @Test func aDifferentObjectIsKeptUnlessOverwrite() async throws {
        let source = InMemoryNameServiceStore(), destination = InMemoryNameServiceStore()
        _ = try await source.put(nameService("a"), ifVersion: nil)
        _ = try await destination.put(nameService("a", address: "192.0.2.99"), ifVersion: nil)

        let kept = try await StoreCopier(overwrite: false).copy(from: source, to: destination)
        #expect(kept.lines.map(\.outcome) == [.differs])
        #expect(kept.summary.hasSuffix("1 differ and were not copied (--overwrite replaces them)"))
        #expect(try await destination.get("a")?.spec.targets.first?.addresses == ["192.0.2.99"])

        let replaced = try await StoreCopier(overwrite: true).copy(from: source, to: destination)
        #expect(replaced.lines.map(\.outcome) == [.replaced])
        #expect(try await destination.get("a")?.spec.targets.first?.addresses == ["192.0.2.1"])
    }

    /// A replica on the destination writes status between the copier's read and each of its
    /// writes: every write loses its version race once, is read again and retried, and the copy
    /// still ends replaced, with the source's spec and drains and the replica's status.
    @Test func aStatusWriteBetweenReadAndWriteIsRetried() async throws {
        let source = InMemoryNameServiceStore(), inner = InMemoryNameServiceStore()
        _ = try await source.put(nameService("a"), ifVersion: nil)
        _ = try await source.updateDrains("a", drains: [drain], ifVersion: nil)
        _ = try await inner.put(nameService("a", address: "192.0.2.99"), ifVersion: nil)
        let destination = RacingStore(inner: inner, status: status(generation: 1))

        let report = try await StoreCopier(overwrite: true).copy(from: source, to: destination)
        #expect(report.lines.map(\.outcome) == [.replaced])
        let a = try #require(try await inner.get("a"))
        #expect(a.spec == nameService("a").spec && a.drains == [drain])
        #expect(a.status?.observedGeneration == 2, "the replica's last status write is kept")
        #expect(await destination.racedWrites == 2, "the spec write and the drains write each lost once")
    }

    @Test func aStoreThatKeepsConflictingGivesUpWithTheConflict() async throws {
        let source = InMemoryNameServiceStore(), inner = InMemoryNameServiceStore()
        _ = try await source.put(nameService("a"), ifVersion: nil)
        _ = try await inner.put(nameService("a", address: "192.0.2.99"), ifVersion: nil)
        let destination = RacingStore(inner: inner, status: status(generation: 1), everyTime: true)
        await #expect(throws: StoreError.self) { _ = try await StoreCopier(overwrite: true).copy(from: source, to: destination) }
        #expect(await destination.racedWrites == StoreCopier.attempts)
    }
}

/// Forwards to `inner`, but before a guarded write whose version is current it first writes a
/// status (as a replica would), so the write fails with a conflict: once per kind of write, or
/// every time.
actor RacingStore: NameServiceStore {
    let inner: InMemoryNameServiceStore
    let status: NameServiceStatus
    let everyTime: Bool
    private(set) var racedWrites = 0
    private var raced: Set<String> = []

    init(inner: InMemoryNameServiceStore, status: NameServiceStatus, everyTime: Bool = false) {
        self.inner = inner
        self.status = status
        self.everyTime = everyTime
    }

    private func race(_ kind: String, _ name: String, ifVersion: String?) async throws(StoreError) {
        guard ifVersion != nil, everyTime || !raced.contains(kind) else { return }
        raced.insert(kind)
        racedWrites += 1
        var changed = status
        changed.observedGeneration += Int64(racedWrites - 1)  // an unchanged status would not be a write
        _ = try await inner.updateStatus(name, status: changed, ifGeneration: nil)
    }

    func get(_ name: String) async throws(StoreError) -> NameService? { try await inner.get(name) }
    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) {
        try await inner.list(selector: selector)
    }
    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService {
        try await race("put", nameService.metadata.name, ifVersion: ifVersion)
        return try await inner.put(nameService, ifVersion: ifVersion)
    }
    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await inner.updateStatus(name, status: status, ifGeneration: ifGeneration)
    }
    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await race("drains", name, ifVersion: ifVersion)
        return try await inner.updateDrains(name, drains: drains, ifVersion: ifVersion)
    }
    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService {
        try await inner.delete(name, ifVersion: ifVersion)
    }
    func revision() async throws(StoreError) -> Int64 { try await inner.revision() }
    nonisolated func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        inner.watch(fromRevision: fromRevision)
    }
}

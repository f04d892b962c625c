import DNSServer
import DNSWire
import Foundation
import GSLB
import Logging
import NameServiceStore
import Reconciler
import Testing

/// Issue 12: one damaged row in the SQLite file made every global name NXDOMAIN (the reconciler's
/// list failed as a whole) while PUTs kept returning 201. Now the reconciler over that store
/// answers every intact name, the damaged one is reported by the store, and a new write of it
/// brings it back.
@Suite struct DamagedStoreTests {
    @Test func everyIntactNameIsAnsweredOverAStoreWithADamagedRow() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
        let names = (0..<12).map { "n\($0)" }
        do {
            let store = try SQLiteNameServiceStore(path: path)
            for n in names + ["victim"] {
                _ = try await store.put(ReconcilerTests.nameService(n, fqdn: "\(n).g.example.com"), ifVersion: nil)
            }
            await store.close()  // the WAL is checkpointed into the file
        }
        // Damage the victim's document in place, as a bad sector or a stray write would: same
        // length, so SQLite's pages stay well-formed and only the JSON no longer decodes.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array("\"fqdn\":\"victim.g.example.com\"".utf8)
        var hits = 0
        var i = 0
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) {
                bytes[i + 6] = UInt8(ascii: "!")  // "fqdn"!"victim…": not JSON
                hits += 1
            }
            i += 1
        }
        try #require(hits >= 1, "the victim's document is in the file")
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let store = try SQLiteNameServiceStore(path: path)
        let zones = try ReconcilerTests.zones()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        let reconciler = Reconciler(store: store, holder: holder, zones: zones, logger: Logger(label: "test"))
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        let responder = QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t"))
        func answers(_ name: String) throws -> Int {
            guard let reply = responder.respond(to: DNSMessage.query(try DNSName("\(name).g.example.com."), .a).encode()) else { return -1 }
            return try DNSMessage(decoding: reply).answers.count
        }
        try await eventually("every intact name answered") { try names.allSatisfy { try answers($0) == 1 } }
        // Found by the reconciler's list (the store decodes no document at open: issue 13).
        #expect(store.damagedObjects.map(\.name) == ["victim"])
        #expect(!reconciler.isStoreFailing)
        #expect(try answers("victim") == 0)

        // Writes still reach DNS, and writing the damaged name again repairs it.
        _ = try await store.put(ReconcilerTests.nameService("later", fqdn: "later.g.example.com"), ifVersion: nil)
        _ = try await store.put(ReconcilerTests.nameService("victim", fqdn: "victim.g.example.com"), ifVersion: nil)
        try await eventually("the new and the repaired names answered") { try answers("later") == 1 && answers("victim") == 1 }
        #expect(store.damagedObjects.isEmpty)
        await store.close()
    }

    /// A history of one event: the reconciler's watch falls behind it during any burst, gets
    /// `.compacted` (410) from the store, relists, and still ends up answering every name.
    @Test func aReconcilerThatFallsBehindTheHistoryRelistsAndConverges() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("behind-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir),
                                               history: EventHistoryLimits(maxEvents: 1))
        let zones = try ReconcilerTests.zones()
        let holder = ServingStateHolder(ServingState(zones: zones, generation: 1))
        var configuration = Reconciler.Configuration()
        configuration.retryDelay = .milliseconds(20)
        let reconciler = Reconciler(store: store, holder: holder, zones: zones, logger: Logger(label: "test"),
                                    configuration: configuration)
        let task = Task { try await reconciler.run() }
        defer { task.cancel() }
        let responder = QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t"))
        func answers(_ name: String) throws -> Int {
            guard let reply = responder.respond(to: DNSMessage.query(try DNSName("\(name).g.example.com."), .a).encode()) else { return -1 }
            return try DNSMessage(decoding: reply).answers.count
        }
        try await eventually("the first plan") { reconciler.isReadyNow }
        let names = (0..<40).map { "b\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in names {
                group.addTask { _ = try await store.put(ReconcilerTests.nameService(n, fqdn: "\(n).g.example.com"), ifVersion: nil) }
            }
            try await group.waitForAll()
        }
        try await eventually("every name answered after relisting") { try names.allSatisfy { try answers($0) == 1 } }
        #expect(!reconciler.isStoreFailing)
        await store.close()
    }

    private func eventually(_ what: String, within: Duration = .seconds(10), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestError("not reached within \(within): \(what)")
    }
}

import Foundation
import GSLB
import NameServiceStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 13: concurrent writes to the SQLite store share transactions (one fsync for many), and a
/// write that returned is still on disk after kill -9.
@Suite("SQLite group commit")
struct GroupCommitTests {
    /// 32 writers at once: every write gets its own revision and result, and they share far fewer
    /// transactions than there are writes.
    @Test func concurrentWritersShareTransactions() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir))
            let written = try await withThrowingTaskGroup(of: [NameService].self) { group in
                for w in 0..<32 {
                    group.addTask {
                        var mine: [NameService] = []
                        for i in 0..<40 { mine.append(try await store.put(nameService("w\(w)-\(i)", ttl: i + 1), ifVersion: nil)) }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(written.count == 1_280)
            #expect(Set(written.compactMap(\.metadata.resourceVersion)).count == 1_280)
            #expect(try await store.revision() == 1_280)
            let counts = store.commitCounts
            #expect(counts.writes == 1_280)
            #expect(counts.transactions < 1_280, "no two writes shared a transaction")
            let listed = try await store.list(selector: nil)
            #expect(listed.items.count == 1_280)
            let byName = Dictionary(uniqueKeysWithValues: written.map { ($0.metadata.name, $0) })
            for item in listed.items { #expect(byName[item.metadata.name] == item) }
            await store.close()
        }
    }

    /// Put-if-version inside one batch: many writers race to update one object from the same
    /// version, and writes to other names ride along: exactly one of the racers wins, the others
    /// get `.conflict`, and the conflicts fail nothing else in their transaction.
    @Test func putIfVersionRacesInOneBatchHaveOneWinner() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir))
            _ = try await store.put(nameService("x"), ifVersion: nil)
            let outcomes = await withTaskGroup(of: (Bool, Result<NameService, StoreError>).self) { group in
                for i in 0..<24 {
                    group.addTask {
                        do throws(StoreError) {
                            return (true, .success(try await store.put(nameService("x", ttl: 100 + i), ifVersion: "1")))
                        } catch {
                            return (true, .failure(error))
                        }
                    }
                    group.addTask {
                        do throws(StoreError) {
                            return (false, .success(try await store.put(nameService("other\(i)"), ifVersion: nil)))
                        } catch {
                            return (false, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let racers = outcomes.filter(\.0).map(\.1)
            let riders = outcomes.filter { !$0.0 }.map(\.1)
            #expect(racers.filter { if case .success = $0 { true } else { false } }.count == 1)
            #expect(racers.filter { $0.error?.code == .conflict }.count == 23)
            #expect(riders.allSatisfy { if case .success = $0 { true } else { false } })
            #expect(try await store.revision() == 26)
            #expect(try await store.get("x")?.metadata.generation == 2)
            await store.close()
        }
    }

    /// The real thing: a child process (this test binary, running `childWriter`) writes with 32
    /// concurrent writers and prints each write as soon as it is acknowledged; it is killed with
    /// SIGKILL in the middle of the burst. Every acknowledged write is in the file afterwards.
    @Test func killDuringAConcurrentBurstLosesNoAcknowledgedWrite() async throws {
        try await withTemporaryDirectory { dir in
            let path = SQLiteNameServiceStore.databasePath(stateDirectory: dir)
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            child.arguments = Self.childArguments()
            var environment = ProcessInfo.processInfo.environment
            environment[Self.childVariable] = path
            child.environment = environment
            let out = Pipe()
            child.standardOutput = out
            child.standardError = FileHandle.nullDevice
            try child.run()
            let acknowledged = AckLog()
            let reader = Task.detached {
                let handle = out.fileHandleForReading
                while true {
                    let data = handle.availableData
                    if data.isEmpty { return }
                    acknowledged.feed(data)
                }
            }
            try await waitUntil("the child to acknowledge 1,500 writes", seconds: 120) { acknowledged.count >= 1_500 }
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            await reader.value
            #expect(child.terminationReason == .uncaughtSignal)
            let acked = acknowledged.all
            #expect(acked.count >= 1_500)

            let store = try SQLiteNameServiceStore(path: path)
            let stored = try await store.list(selector: nil).items
            let byName = Dictionary(uniqueKeysWithValues: stored.map { ($0.metadata.name, $0) })
            var lost: [String] = []
            for (name, version) in acked {
                guard let object = byName[name], let v = Int64(object.metadata.resourceVersion ?? ""), v >= version else {
                    lost.append(name)
                    continue
                }
            }
            #expect(lost.isEmpty, "acknowledged writes lost after kill -9: \(lost.prefix(10))")
            #expect(stored.count >= acked.count)
            await store.close()
        }
    }

    static let childVariable = "GLOBALDNS_GROUP_COMMIT_CHILD_DB"

    /// How to run only `childWriter` in this test binary.
    static func childArguments() -> [String] {
        ["--testing-library", "swift-testing", "--filter", "childWriter"]
    }

    /// The child of the kill -9 test (does nothing unless that test started it): 32 writers put
    /// new objects until killed, printing `name version` once each put returned.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[childVariable] != nil))
    func childWriter() async throws {
        guard let path = ProcessInfo.processInfo.environment[Self.childVariable] else { return }
        let store = try SQLiteNameServiceStore(path: path)
        let lock = NSLock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<32 {
                group.addTask {
                    var i = 0
                    while true {
                        let ns = try await store.put(nameService("w\(w)-\(i)", labels: ["w": "\(w)"], ttl: i % 1000 + 1), ifVersion: nil)
                        let line = "\(ns.metadata.name) \(ns.metadata.resourceVersion ?? "0")\n"
                        lock.withLock { FileHandle.standardOutput.write(Data(line.utf8)) }
                        i += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// The acknowledged writes a child printed (`name version` lines).
final class AckLog: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var acked: [String: Int64] = [:]

    func feed(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        buffer += data
        while let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: buffer[..<nl], as: UTF8.self)
            buffer.removeFirst(nl + 1)
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = Int64(parts[1]) { acked[String(parts[0])] = v }
        }
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return acked.count
    }

    var all: [String: Int64] {
        lock.lock()
        defer { lock.unlock() }
        return acked
    }
}

import EtcdTestSupport
import Foundation
import GSLB
import NameServiceStore
import NameServiceStoreEtcd
import Testing

/// What only the etcd store promises: replicas share it, members fail over, watches survive a
/// member dying, and an unreachable etcd is `.unavailable` with a clear message.
@Suite("EtcdNameServiceStore")
struct EtcdNameServiceStoreTests {
    func withShared<T>(_ body: (EtcdCluster, String) async throws -> T) async throws -> T {
        let cluster = try await SharedEtcd.shared.acquire()
        do {
            let result = try await body(cluster, "/etcd-\(UUID().uuidString.prefix(8))/")
            await SharedEtcd.shared.release()
            return result
        } catch {
            await SharedEtcd.shared.release()
            throw error
        }
    }

    @Test func replicasWritingStatusAtOnceNeverOverwriteEachOther() async throws {
        try await withShared { cluster, prefix in
            let config = EtcdConfiguration(endpoints: cluster.endpoints, prefix: prefix)
            let stores = try ["a", "b", "c"].map { try EtcdNameServiceStore(configuration: config, replica: $0) }
            _ = try await stores[0].put(nameService("shared"), ifVersion: nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for round in 0..<5 {
                    for (i, store) in stores.enumerated() {
                        group.addTask {
                            var st = status("Valid", generation: 1)
                            st.targets[0].lastError = "round \(round) from \(i)"
                            _ = try await store.updateStatus("shared", status: st, ifGeneration: 1)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let final = try #require(try await stores[1].get("shared")?.status)
            #expect(final.replicas.map(\.replica) == ["a", "b", "c"])
            // A status for another generation is still refused, whoever writes it.
            await #expect(throws: StoreError(.conflict, "")) {
                try await stores[2].updateStatus("shared", status: status("Late", generation: 7), ifGeneration: 7)
            }
        }
    }

    /// A watcher that stops reading: once more than `watchMaxBufferBytes` of events wait unread
    /// its stream ends with `.compacted` (410 Expired: relist) after what was buffered, instead of
    /// buffering every later write; the follower (and its connection) is gone.
    @Test func aWatcherThatStopsReadingIsCutOffPastItsBufferBound() async throws {
        try await withShared { cluster, prefix in
            var config = EtcdConfiguration(endpoints: cluster.endpoints, prefix: prefix)
            config.watchMaxBufferBytes = 64 << 10
            let store = try EtcdNameServiceStore(configuration: config)
            let from = try await store.revision()
            let stream = store.watch(fromRevision: from)
            let big = NameService(metadata: ObjectMeta(name: "big"),
                                  spec: NameServiceSpec(fqdn: "big.g.example.com", targets: (0..<300).map {
                                      Target(name: "target-\($0)", addresses: ["192.0.2.\($0 % 250 + 1)"])
                                  }))
            for i in 0..<20 {
                var ns = big
                ns.spec.ttl = i + 1
                _ = try await store.put(ns, ifVersion: nil)
            }
            try await waitUntil("the follower to stop") { store.liveWatchCount() == 0 }
            var taken = 0
            do {
                for try await _ in stream { taken += 1 }
                Issue.record("the stream ended without an error")
            } catch let error as StoreError {
                #expect(error.code == .compacted)
                #expect(error.message.contains("store.etcd.watchMaxBufferBytes"))
            }
            #expect(taken >= 1 && taken < 20, "\(taken) events were buffered")
            store.close()
        }
    }

    @Test func anUnreachableEtcdIsUnavailableQuicklyWithTheEndpointsNamed() async throws {
        let store = try EtcdNameServiceStore(configuration: EtcdConfiguration(
            endpoints: ["http://127.0.0.1:1", "127.0.0.1:2"], dialTimeoutSeconds: 0.5, requestTimeoutSeconds: 1))
        let started = ContinuousClock.now
        do throws(StoreError) {
            _ = try await store.put(nameService("x"), ifVersion: nil)
            Issue.record("a write to nowhere succeeded")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.hasPrefix("etcd unreachable at http://127.0.0.1:1,http://127.0.0.1:2: "), "\(error.message)")
            #expect(error.message.contains("refused"), "\(error.message)")
        }
        // Refused at once: no timeout is involved (the bound is loose for a loaded two-core machine).
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(store.reachability.reachable == false)
        #expect(throws: StoreError(.invalid, "")) { try EtcdNameServiceStore(configuration: EtcdConfiguration(endpoints: ["nowhere"])) }
    }

    /// A guarded write whose Txn commits on member 0 but whose answer never comes back is sent
    /// again to member 1, where its compare fails against itself. The store sees its own bytes
    /// there and reports the write as done (with its revision), not as a conflict.
    @Test func aWriteWhoseAnswerIsLostIsNotASpuriousConflict() async throws {
        try await withShared { cluster, prefix in
            let proxy = try AnswerSwallowingProxy(upstreamPort: cluster.members[0].clientPort)
            defer { proxy.stop() }
            let store = try EtcdNameServiceStore(configuration: EtcdConfiguration(
                endpoints: ["http://127.0.0.1:\(proxy.port)", cluster.endpoints[1]], prefix: prefix,
                dialTimeoutSeconds: 1, requestTimeoutSeconds: 1))
            let v1 = try await store.put(nameService("lost"), ifVersion: nil)
            proxy.swallowTxnAnswers = true
            let v2 = try await store.put(nameService("lost", ttl: 99), ifVersion: v1.metadata.resourceVersion)
            #expect(proxy.swallowed == 1, "the answer of the first Txn was lost")
            #expect(v2.spec.ttl == 99 && v2.metadata.generation == 2)
            let stored = try #require(try await store.get("lost"))
            #expect(stored.metadata.resourceVersion == v2.metadata.resourceVersion)
            #expect(stored.spec.ttl == 99)
            // A write that really lost its race still conflicts.
            await #expect(throws: StoreError(.conflict, "")) {
                try await store.put(nameService("lost", ttl: 7), ifVersion: v1.metadata.resourceVersion)
            }
        }
    }

    @Test func aDeadMemberFirstInTheListIsSkipped() async throws {
        try await withShared { cluster, prefix in
            let store = try EtcdNameServiceStore(configuration: EtcdConfiguration(
                endpoints: ["http://127.0.0.1:1"] + cluster.endpoints, prefix: prefix, dialTimeoutSeconds: 0.5))
            let created = try await store.put(nameService("f"), ifVersion: nil)
            #expect(try await store.get("f") == created)
            #expect(store.reachability.reachable)
        }
    }

    /// The member the watch is connected to is killed: the watch moves to another member and
    /// delivers every revision exactly once; the consumer sees no error.
    @Test func aWatchSurvivesItsMemberBeingKilled() async throws {
        let cluster = try await EtcdCluster(members: 3)
        defer { cluster.shutdown() }
        let config = EtcdConfiguration(endpoints: cluster.endpoints, prefix: "/w/", dialTimeoutSeconds: 0.5,
                                       requestTimeoutSeconds: 2, keepaliveSeconds: 0.5)
        let watcher = try EtcdNameServiceStore(configuration: config)
        // The writer starts on another member, so killing member 0 leaves it a quorum to write to.
        var writerConfig = config
        writerConfig.endpoints = Array(cluster.endpoints.dropFirst())
        let writer = try EtcdNameServiceStore(configuration: writerConfig)
        let base = try await writer.revision()
        let stream = watcher.watch(fromRevision: base)
        for i in 0..<10 { _ = try await writer.put(nameService("n\(i)"), ifVersion: nil) }
        var events = stream.makeAsyncIterator()
        for _ in 0..<10 { _ = try await events.next() }
        await cluster.kill(0)
        for i in 10..<20 { _ = try await writer.put(nameService("n\(i)"), ifVersion: nil) }
        var later: [Int64] = []
        for _ in 0..<10 { if let e = try await events.next() { later.append(e.revision) } }
        #expect(later == Array(base + 11...base + 20))
        watcher.close()
    }

    @Test func authenticationWithAUserAndPassword() async throws {
        let cluster = try await EtcdCluster(members: 1)
        defer { cluster.shutdown() }
        let etcdctl = try findEtcdctl()
        for args in [["user", "add", "root", "--new-user-password=s3cret-pw"], ["user", "grant-role", "root", "root"],
                     ["auth", "enable"]] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: etcdctl)
            p.arguments = ["--endpoints", cluster.endpoints[0]] + args
            p.environment = ["ETCDCTL_API": "3"]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            while p.isRunning { try await Task.sleep(for: .milliseconds(10)) }  // not waitUntilExit: keep the pool's threads free
            #expect(p.terminationStatus == 0, "etcdctl \(args)")
        }
        let store = try EtcdNameServiceStore(configuration: EtcdConfiguration(
            endpoints: cluster.endpoints, username: "root", password: "s3cret-pw"))
        _ = try await store.put(nameService("auth"), ifVersion: nil)
        #expect(try await store.get("auth")?.metadata.name == "auth")

        let anonymous = try EtcdNameServiceStore(configuration: EtcdConfiguration(endpoints: cluster.endpoints))
        do throws(StoreError) {
            _ = try await anonymous.get("auth")
            Issue.record("etcd answered without a user")
        } catch {
            #expect(error.code == .unavailable && error.message.contains("refused access"), "\(error)")
        }
        let wrong = try EtcdNameServiceStore(configuration: EtcdConfiguration(
            endpoints: cluster.endpoints, username: "root", password: "wrong"))
        do throws(StoreError) {
            _ = try await wrong.get("auth")
            Issue.record("a wrong password was accepted")
        } catch {
            #expect(error.code == .unavailable && error.message.contains("refused user root"), "\(error)")
        }
    }

    func findEtcdctl() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") + ["/usr/bin"] {
            if FileManager.default.isExecutableFile(atPath: "\(dir)/etcdctl") { return "\(dir)/etcdctl" }
        }
        throw EtcdClusterError("etcdctl not found (Debian: etcd-client)")
    }
}

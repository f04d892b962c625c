import EtcdTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Many replicas on one etcd (issue 7), with the real binaries: a three-member etcd cluster on
/// loopback (`EtcdCluster`), two `globaldns` replicas on it, `dig` against each.
extension IntegrationSuite {
    @Suite("etcd store") struct EtcdStore {
        /// The `store:` and `replica:` sections of a replica on `cluster` (short timeouts: the
        /// fault tests wait on them).
        static func storeConfig(_ cluster: EtcdCluster, replica: String) -> String {
            """
            store:
              type: etcd
              etcd:
                endpoints: [\(cluster.endpoints.map { "\"\($0)\"" }.joined(separator: ", "))]
                prefix: /it/
                dialTimeoutSeconds: 0.5
                requestTimeoutSeconds: 2
                keepaliveSeconds: 1
            replica:
              name: \(replica)
            """
        }

        static func options(_ cluster: EtcdCluster, replica: String) throws -> GlobalDNSOptions {
            var o = try GlobalDNSOptions()
            o.identity = "it-\(replica)"
            o.extraConfig = storeConfig(cluster, replica: replica)
            return o
        }

        /// Two replicas on a fresh three-member cluster, both ready.
        func withReplicas(_ body: (EtcdCluster, RunningServer, RunningServer) async throws -> Void) async throws {
            let cluster = try await EtcdCluster(members: 3)
            defer { cluster.shutdown() }
            try await withGlobalDNS(try Self.options(cluster, replica: "a")) { a in
                try await withGlobalDNS(try Self.options(cluster, replica: "b")) { b in
                    try await eventually("both replicas ready", within: .seconds(10)) {
                        try readyz(a).status == 200 && readyz(b).status == 200
                    }
                    try await body(cluster, a, b)
                }
            }
        }

        static func manifest(_ name: String, _ address: String, resourceVersion: String? = nil) -> String {
            """
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata:
              name: \(name)
            \(resourceVersion.map { "  resourceVersion: \"\($0)\"\n" } ?? "")\
            spec:
              fqdn: \(name).g.example.com
              ttl: 5
              targets:
              - name: t1
                addresses: ["\(address)"]

            """
        }

        func put(_ server: RunningServer, _ name: String, _ address: String, resourceVersion: String? = nil) throws -> (status: Int, body: String) {
            try httpCall(port: server.apiPort, method: "PUT", path: "/v1/nameservices/\(name)",
                         body: Self.manifest(name, address, resourceVersion: resourceVersion))
        }

        func readyz(_ server: RunningServer) throws -> (status: Int, body: String) {
            try httpCall(port: server.apiPort, method: "GET", path: "/readyz")
        }

        func digShort(_ server: RunningServer, _ name: String) async throws -> [String] {
            let out = try await server.querier.run(.dig, [name, "A", "+short", "+time=1", "+tries=1"])
            return out.text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") }.sorted()
        }

        /// How long until `server`'s dig answers `name` with exactly `address` (polling), or a failure.
        func timeUntilAnswered(_ server: RunningServer, _ name: String, _ address: String,
                               within: Duration = .seconds(10)) async throws -> Duration {
            let started = ContinuousClock.now
            var last: [String] = []
            while ContinuousClock.now - started < within {
                last = try await digShort(server, name)
                if last == [address] { return ContinuousClock.now - started }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw HarnessError("\(server.name): \(name) not answered with \(address) within \(within); dig printed \(last)\n\(server.log.suffix(3000))")
        }

        @Test("a write through replica A is answered by replica B's DNS within 1 s; concurrent writers get exactly one 409; each replica's view is in the status")
        func twoReplicas() async throws {
            try await withReplicas { _, a, b in
                var worst: Duration = .zero
                for i in 1...5 {
                    let w = try put(a, "web\(i)", "192.0.2.\(i)")
                    #expect(w.status == 201, "\(w.body)")
                    let took = try await timeUntilAnswered(b, "web\(i).g.example.com", "192.0.2.\(i)")
                    worst = max(worst, took)
                }
                print("etcd store: a write through A answered by B's dig after at most \(worst) (5 writes)")
                #expect(worst < .seconds(1), "slowest A→B propagation \(worst)")

                // Both writers read resourceVersion v, then write with it: one wins, one gets 409.
                let current = try httpCall(port: a.apiPort, method: "GET", path: "/v1/nameservices/web1")
                let version = try #require(current.body.firstMatch(of: /"resourceVersion":"(\d+)"/)?.1)
                let (portA, portB, v) = (a.apiPort, b.apiPort, String(version))
                async let viaA = Task.detached {
                    try httpCall(port: portA, method: "PUT", path: "/v1/nameservices/web1",
                                 body: Self.manifest("web1", "192.0.2.101", resourceVersion: v))
                }.value
                async let viaB = Task.detached {
                    try httpCall(port: portB, method: "PUT", path: "/v1/nameservices/web1",
                                 body: Self.manifest("web1", "192.0.2.102", resourceVersion: v))
                }.value
                let outcomes = try await [viaA, viaB]
                #expect(outcomes.map(\.status).sorted() == [200, 409], "\(outcomes)")
                let loser = outcomes.first { $0.status == 409 }?.body ?? ""
                #expect(loser.contains("current resourceVersion is"), "\(loser)")
                let winner = outcomes.first { $0.status == 200 }?.body.contains("192.0.2.101") == true ? "192.0.2.101" : "192.0.2.102"
                _ = try await timeUntilAnswered(a, "web1.g.example.com", winner)
                _ = try await timeUntilAnswered(b, "web1.g.example.com", winner)

                // Each replica writes its own view of the targets; neither overwrites the other.
                try await eventually("status.replicas to hold a and b", within: .seconds(5)) {
                    let status = try httpCall(port: b.apiPort, method: "GET", path: "/v1/nameservices/web2/status").body
                    return status.contains("\"replica\":\"a\"") && status.contains("\"replica\":\"b\"")
                }
            }
        }

        /// Issue 14: claims on one FQDN written through different replicas are ordered by etcd's
        /// create_revision, so every replica (and one started later) serves the same owner.
        @Test("two claims on one FQDN through two replicas: every replica, and a new one, serves the older claim")
        func claimOrderIsTheSameOnEveryReplica() async throws {
            try await withReplicas { cluster, a, b in
                func manifest(_ name: String, _ address: String) -> String {
                    """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: \(name)}
                    spec:
                      fqdn: shared.g.example.com
                      targets:
                      - {name: t1, addresses: ["\(address)"]}

                    """
                }
                let first = try httpCall(port: a.apiPort, method: "PUT", path: "/v1/nameservices/zeta", body: manifest("zeta", "192.0.2.9"))
                #expect(first.status == 201, "\(first.body)")
                _ = try await timeUntilAnswered(b, "shared.g.example.com", "192.0.2.9")
                let second = try httpCall(port: b.apiPort, method: "PUT", path: "/v1/nameservices/alpha", body: manifest("alpha", "192.0.2.1"))
                #expect(second.status == 201, "\(second.body)")
                let created = try #require(first.body.firstMatch(of: /"creationRevision":(\d+)/)?.1)
                #expect(second.body.firstMatch(of: /"creationRevision":(\d+)/).map { Int($0.1)! > Int(created)! } == true, "\(second.body)")
                for server in [a, b] {
                    try await eventually("\(server.name): alpha refused as the newer claim", within: .seconds(10)) {
                        let status = try httpCall(port: server.apiPort, method: "GET", path: "/v1/nameservices/alpha/status").body
                        return status.contains("ClashesWithNameService")
                    }
                    #expect(try await digShort(server, "shared.g.example.com") == ["192.0.2.9"])
                }
                // a replica that starts now relists everything at once: the same owner
                try await withGlobalDNS(try Self.options(cluster, replica: "c")) { c in
                    _ = try await timeUntilAnswered(c, "shared.g.example.com", "192.0.2.9", within: .seconds(15))
                }
            }
        }

        @Test("kill -9 of one etcd member loses nothing; all of etcd down: DNS answers, writes 503, /readyz 503; etcd back: both replicas catch up without a restart")
        func faults() async throws {
            try await withReplicas { cluster, a, b in
                for i in 0..<10 { #expect(try put(i % 2 == 0 ? a : b, "n\(i)", "192.0.2.\(i + 1)").status == 201) }
                await cluster.kill(0)
                for i in 10..<20 {
                    let w = try put(i % 2 == 0 ? a : b, "n\(i)", "192.0.2.\(i + 1)")
                    #expect(w.status == 201, "write \(i) after killing one member: \(w.body)")
                }
                for server in [a, b] {
                    let list = try httpCall(port: server.apiPort, method: "GET", path: "/v1/nameservices").body
                    for i in 0..<20 { #expect(list.contains("\"name\":\"n\(i)\""), "n\(i) missing from \(server.name)'s list") }
                    _ = try await timeUntilAnswered(server, "n19.g.example.com", "192.0.2.20")
                    _ = try await timeUntilAnswered(server, "n0.g.example.com", "192.0.2.1")
                }

                // All of etcd down.
                await cluster.stopAll()
                let refused = try put(a, "during", "192.0.2.200")
                #expect(refused.status == 503, "\(refused)")
                #expect(refused.body.contains("etcd unreachable at"), "\(refused.body)")
                for server in [a, b] {
                    try await eventually("\(server.name) /readyz to turn 503", within: .seconds(5)) {
                        let r = try readyz(server)
                        return r.status == 503 && r.body.contains("unreachable")
                    }
                    #expect(try await digShort(server, "n7.g.example.com") == ["192.0.2.8"], "DNS stopped answering without etcd")
                }

                // etcd back: writes work again and reach both replicas, neither restarted.
                try cluster.startAll()
                try await cluster.waitHealthy()
                try await eventually("writes through B to work again", within: .seconds(15)) {
                    try put(b, "after", "192.0.2.201").status / 100 == 2
                }
                _ = try await timeUntilAnswered(a, "after.g.example.com", "192.0.2.201")
                _ = try await timeUntilAnswered(b, "after.g.example.com", "192.0.2.201")
                #expect(try put(a, "n3", "192.0.2.203").status == 200)
                _ = try await timeUntilAnswered(b, "n3.g.example.com", "192.0.2.203")
                for server in [a, b] {
                    try await eventually("\(server.name) ready again", within: .seconds(5)) { try readyz(server).status == 200 }
                    #expect(server.process.isRunning)
                }
            }
        }

        @Test("a replica on etcd over TLS (https on 127.0.0.1, a client certificate) answers dig for a NameService written through its API")
        func overTLS() async throws {
            let cluster = try await EtcdCluster(members: 1, tls: true)
            defer { cluster.shutdown() }
            let certificates = try #require(cluster.certificates)
            var o = try GlobalDNSOptions()
            o.identity = "it-tls"
            o.extraConfig = """
                store:
                  type: etcd
                  etcd:
                    endpoints: ["\(cluster.endpoints[0])"]
                    prefix: /it-tls/
                    dialTimeoutSeconds: 0.5
                    requestTimeoutSeconds: 2
                    keepaliveSeconds: 1
                    tls:
                      caFile: "\(certificates.caFile)"
                      certFile: "\(certificates.clientCertFile)"
                      keyFile: "\(certificates.clientKeyFile)"
                replica:
                  name: tls
                """
            try await withGlobalDNS(o) { server in
                try await eventually("the replica ready", within: .seconds(10)) { try readyz(server).status == 200 }
                #expect(server.log.contains("etcd \(cluster.endpoints[0]) prefix /it-tls/"), "\(server.log.suffix(2000))")
                let w = try put(server, "secure", "192.0.2.77")
                #expect(w.status == 201, "\(w.body)")
                _ = try await timeUntilAnswered(server, "secure.g.example.com", "192.0.2.77")
            }
        }

        @Test("globaldns store copy moves a node's NameServices into etcd, idempotently, and a replica on etcd serves them")
        func copyFromSQLite() async throws {
            let state = try TestEnvironment.makeScratchDirectory("copy-state")
            defer { TestEnvironment.removeScratch(state) }
            var single = try GlobalDNSOptions()
            single.stateDirectory = state
            let created = try await withGlobalDNS(single) { server in
                try (1...3).map { i in try put(server, "c\(i)", "192.0.2.\(30 + i)").status }
            }
            #expect(created == [201, 201, 201])
            let cluster = try await EtcdCluster(members: 3)
            defer { cluster.shutdown() }
            let globaldns = try TestEnvironment.globalDNSExecutable()
            let to = "etcd:" + cluster.endpoints.joined(separator: ",")
            var r = try await runCommand(globaldns, ["store", "copy", "--from", "sqlite:\(state.path)", "--to", to, "--prefix", "/it/"],
                                         scratch: state)
            #expect(r.exitCode == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("3 NameService(s): 3 created, 0 replaced, 0 unchanged"), "\(r.stdout)")
            r = try await runCommand(globaldns, ["store", "copy", "--from", "sqlite:\(state.path)", "--to", to, "--prefix", "/it/"],
                                     scratch: state)
            #expect(r.exitCode == 0 && r.stdout.contains("0 created, 0 replaced, 3 unchanged"), "\(r.stdout)\(r.stderr)")

            try await withGlobalDNS(try Self.options(cluster, replica: "a")) { replica in
                _ = try await timeUntilAnswered(replica, "c2.g.example.com", "192.0.2.32")
                // A different object at the destination is kept unless --overwrite.
                #expect(try put(replica, "c1", "192.0.2.99").status == 200)
                r = try await runCommand(globaldns, ["store", "copy", "--from", "sqlite:\(state.path)", "--to", to, "--prefix", "/it/"],
                                         scratch: state)
                #expect(r.exitCode == 1 && r.stdout.contains("nameservice/c1 differs"), "\(r.stdout)\(r.stderr)")
                r = try await runCommand(globaldns, ["store", "copy", "--from", "sqlite:\(state.path)", "--to", to, "--prefix", "/it/", "--overwrite"],
                                         scratch: state)
                #expect(r.exitCode == 0 && r.stdout.contains("1 replaced"), "\(r.stdout)\(r.stderr)")
                _ = try await timeUntilAnswered(replica, "c1.g.example.com", "192.0.2.31")
            }
        }
    }
}

/// Polls `condition` every 50 ms until it holds, at most `within`.
func eventually(_ what: String, within: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw HarnessError("timed out after \(within) waiting for \(what)")
}

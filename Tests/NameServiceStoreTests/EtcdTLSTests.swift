import EtcdTestSupport
import Foundation
import NameServiceStore
import NameServiceStoreEtcd
import Testing

/// The etcd store over TLS against a real etcd: one member serving https on 127.0.0.1 with a
/// throwaway CA (`openssl`) and `--client-cert-auth`.
@Suite("EtcdNameServiceStore over TLS")
struct EtcdTLSTests {
    /// One TLS member for the whole suite (each test writes under its own prefix).
    actor SharedTLSEtcd {
        static let shared = SharedTLSEtcd()
        private var starting: Task<EtcdCluster, any Error>?

        func cluster() async throws -> EtcdCluster {
            if let starting { return try await starting.value }
            let task = Task { try await EtcdCluster(members: 1, tls: true) }
            starting = task
            return try await task.value
        }
    }

    func store(_ cluster: EtcdCluster, endpoint: String? = nil, tls: EtcdConfiguration.TLS?) throws -> EtcdNameServiceStore {
        try EtcdNameServiceStore(configuration: EtcdConfiguration(
            endpoints: [endpoint ?? cluster.endpoints[0]], prefix: "/tls-\(UUID().uuidString.prefix(8))/",
            dialTimeoutSeconds: 1, requestTimeoutSeconds: 2, keepaliveSeconds: 1, tls: tls))
    }

    /// The error of a read through `store`, which must fail.
    func failure(_ what: String, _ store: EtcdNameServiceStore) async -> StoreError? {
        do throws(StoreError) {
            _ = try await store.get("x")
            Issue.record("a read succeeded")
            return nil
        } catch {
            print("etcd over TLS, \(what): \(error)")
            return error
        }
    }

    @Test func putGetAndWatchOverTLSWithAClientCertificate() async throws {
        let cluster = try await SharedTLSEtcd.shared.cluster()
        #expect(cluster.endpoints[0].hasPrefix("https://127.0.0.1:"))
        // An IP endpoint: the certificate is checked against its IP SAN (no SNI is sent).
        let store = try store(cluster, tls: cluster.clientTLS)
        let base = try await store.revision()
        let events = store.watch(fromRevision: base)
        let created = try await store.put(nameService("tls"), ifVersion: nil)
        #expect(try await store.get("tls") == created)
        var iterator = events.makeAsyncIterator()
        let event = try #require(try await iterator.next())
        #expect(event.kind == .added && event.object.metadata.name == "tls" && event.revision == base + 1)
        #expect(store.reachability.reachable)
        store.close()

        // HOST:PORT (https because tls is set) and the name checked given as serverName.
        var named = try #require(cluster.clientTLS)
        named.serverName = "localhost"
        let byName = try self.store(cluster, endpoint: "127.0.0.1:\(cluster.members[0].clientPort)", tls: named)
        _ = try await byName.put(nameService("named"), ifVersion: nil)
        #expect(try await byName.get("named")?.metadata.name == "named")
    }

    @Test func aCertificateFromAnotherCAFailsVerificationClearly() async throws {
        let cluster = try await SharedTLSEtcd.shared.cluster()
        let other = try EtcdTestCertificates(directory: cluster.directory.appendingPathComponent("other-\(UUID().uuidString.prefix(8))"))
        var tls = try #require(cluster.clientTLS)
        tls.caFile = other.caFile
        let store = try store(cluster, tls: tls)
        let started = ContinuousClock.now
        let error = try #require(await failure("a CA that did not sign the member", store))
        #expect(error.code == .unavailable)
        #expect(error.message.hasPrefix("etcd unreachable at \(cluster.endpoints[0]): "), "\(error.message)")
        #expect(error.message.contains("TLS") && error.message.contains("certificate verification failed")
                && error.message.contains("store.etcd.tls.caFile"), "\(error.message)")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(store.reachability.reachable == false)

        // An https endpoint without a tls section trusts the system's roots, which lack the test CA.
        let system = try #require(await failure("https without a tls section", try self.store(cluster, tls: nil)))
        #expect(system.code == .unavailable && system.message.contains("certificate verification failed"), "\(system.message)")
    }

    @Test func noClientCertificateAgainstClientCertAuthFailsClearly() async throws {
        let cluster = try await SharedTLSEtcd.shared.cluster()
        var tls = try #require(cluster.clientTLS)
        tls.certFile = nil
        tls.keyFile = nil
        let error = try #require(await failure("no client certificate", try store(cluster, tls: tls)))
        #expect(error.code == .unavailable)
        #expect(error.message.contains("TLS") && error.message.contains("client certificate")
                && error.message.contains("store.etcd.tls.certFile"), "\(error.message)")
    }

    @Test func aClientCertificateFromAnotherCAIsRejectedClearly() async throws {
        let cluster = try await SharedTLSEtcd.shared.cluster()
        let other = try EtcdTestCertificates(directory: cluster.directory.appendingPathComponent("other-\(UUID().uuidString.prefix(8))"))
        var tls = try #require(cluster.clientTLS)
        tls.certFile = other.clientCertFile
        tls.keyFile = other.clientKeyFile
        let error = try #require(await failure("a client certificate the member does not trust", try store(cluster, tls: tls)))
        #expect(error.code == .unavailable)
        #expect(error.message.contains("TLS") && error.message.contains("rejected the client certificate"), "\(error.message)")
    }

    @Test func plainHTTPToATLSMemberFailsClearly() async throws {
        let cluster = try await SharedTLSEtcd.shared.cluster()
        let error = try #require(await failure("plain http", try store(
            cluster, endpoint: "http://127.0.0.1:\(cluster.members[0].clientPort)", tls: nil)))
        #expect(error.code == .unavailable)
        #expect(error.message.contains("https"), "\(error.message)")
    }

    @Test(arguments: [
        EtcdConfiguration.TLS(caFile: "/nonexistent/ca.pem"),
        EtcdConfiguration.TLS(certFile: "/nonexistent/client.pem"),
        EtcdConfiguration.TLS(serverName: "127.0.0.1"),
        EtcdConfiguration.TLS(serverName: "::1"),
    ])
    func unusableTLSSettingsAreInvalidAtInit(_ tls: EtcdConfiguration.TLS) throws {
        #expect(throws: StoreError(.invalid, "")) {
            try EtcdNameServiceStore(configuration: EtcdConfiguration(endpoints: ["https://127.0.0.1:1"], tls: tls))
        }
    }
}

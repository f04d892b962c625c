import GlobalDNSApp
import Testing

@Suite struct StoreConfigurationTests {
    @Test func sqliteIsTheDefault() throws {
        let c = try ConfigurationReader.parse("")
        #expect(c.store.type == .sqlite)
        #expect(c.store.sqlite.path == "")
        #expect(c.store.etcd.prefix == "/globaldns/")
        #expect(c.replica.name == "")
    }

    @Test func etcdWithEveryKey() throws {
        let c = try ConfigurationReader.parse("""
            store:
              type: etcd
              etcd:
                endpoints: [http://127.0.0.1:2379, "https://etcd-2:2379", "127.0.0.3:2379"]
                prefix: /dns-prod/
                dialTimeoutSeconds: 0.5
                requestTimeoutSeconds: 3
                keepaliveSeconds: 1
                tls: {caFile: ca.pem, certFile: c.pem, keyFile: k.pem, serverName: etcd.internal}
            replica: {name: us-west-1}
            """)
        #expect(c.store.type == .etcd)
        #expect(c.store.etcd.endpoints.count == 3)
        #expect(c.store.etcd.prefix == "/dns-prod/")
        #expect(c.store.etcd.dialTimeoutSeconds == 0.5)
        #expect(c.store.etcd.tls?.serverName == "etcd.internal")
        #expect(c.replica.name == "us-west-1")
        let etcd = c.etcdConfiguration()
        #expect(etcd.endpoints == c.store.etcd.endpoints)
        #expect(etcd.requestTimeoutSeconds == 3)
        #expect(etcd.keepaliveSeconds == 1)
    }

    @Test(arguments: [
        ("store: {type: consul}", "store.type", 1),
        ("store: {type: etcd}", "store.etcd.endpoints", 1),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [\"127.0.0.1\"]", "store.etcd.endpoints[0]", 4),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    requestTimeoutSeconds: 0", "store.etcd.requestTimeoutSeconds", 5),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    tls: {certFile: c.pem}", "store.etcd.tls", 5),
        ("store:\n  etcd:\n    password: secret", "store.etcd.password", 3),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    tls: {serverName: 10.0.0.1}", "store.etcd.tls.serverName", 5),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    tls: {serverName: \"etcd internal\"}", "store.etcd.tls.serverName", 5),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    tls: {serverName: -etcd.example}", "store.etcd.tls.serverName", 5),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    tls: {serverName: \"etcd..example\"}", "store.etcd.tls.serverName", 5),
        ("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    tls: {serverName: \"*.etcd.example\"}", "store.etcd.tls.serverName", 5),
    ])
    func badStoreKeysNameTheKeyPathAndLine(_ text: String, _ keyPath: String, _ line: Int) {
        do {
            _ = try ConfigurationReader.parse(text, file: "g.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.keyPath == keyPath, "\(error)")
            #expect(error.line == line, "\(error)")
        }
    }

    @Test(arguments: ["localhost", "etcd-0.etcd.globaldns.svc.cluster.local.", "ETCD.Example"])
    func serverNamesThatAreHostNames(_ name: String) throws {
        let c = try ConfigurationReader.parse("store:\n  type: etcd\n  etcd:\n    endpoints: [h:1]\n    tls: {serverName: \"\(name)\"}")
        #expect(c.store.etcd.tls?.serverName == name)
    }
}

@testable import GlobalDNSApp
import NameServiceStore
import Testing

/// Issue 12's store limits: every one has a documented default and a checked key, and the
/// store's health reaches `/readyz`.
@Suite struct StoreLimitsConfigurationTests {
    @Test func defaultsAndEveryKey() throws {
        let d = try ConfigurationReader.parse("")
        #expect(d.store.history.maxEvents == 10_000)
        #expect(d.store.history.maxBytes == 64 << 20)
        #expect(d.store.history.maxAgeSeconds == 600)
        #expect(d.store.writeTimeoutSeconds == 5)
        #expect(d.store.sqlite.maxBatch == 1_000)
        #expect(d.store.etcd.watchMaxBufferBytes == 64 << 20)
        #expect(d.store.historyLimits == EventHistoryLimits())

        let c = try ConfigurationReader.parse("""
            store:
              history: {maxEvents: 500, maxBytes: 1048576, maxAgeSeconds: 30.5}
              writeTimeoutSeconds: 0.25
              etcd: {watchMaxBufferBytes: 4096}
              sqlite: {maxBatch: 64}
            """)
        #expect(c.store.sqlite.maxBatch == 64)
        #expect(c.store.historyLimits == EventHistoryLimits(maxEvents: 500, maxBytes: 1 << 20, maxAge: .milliseconds(30_500)))
        #expect(c.store.writeTimeoutSeconds == 0.25)
        #expect(c.etcdConfiguration().watchMaxBufferBytes == 4096)
    }

    /// Out of range, not a number, infinite or huge: a ConfigurationError naming the key, never a
    /// trap converting it to a Duration.
    @Test(arguments: [
        ("store: {writeTimeoutSeconds: 0}", "store.writeTimeoutSeconds"),
        ("store: {writeTimeoutSeconds: 1e300}", "store.writeTimeoutSeconds"),
        ("store: {writeTimeoutSeconds: .nan}", "store.writeTimeoutSeconds"),
        ("store: {writeTimeoutSeconds: soon}", "store.writeTimeoutSeconds"),
        ("store: {history: {maxEvents: 0}}", "store.history.maxEvents"),
        ("store: {history: {maxBytes: 10}}", "store.history.maxBytes"),
        ("store: {history: {maxAgeSeconds: .inf}}", "store.history.maxAgeSeconds"),
        ("store: {history: {maxAgeSeconds: -1}}", "store.history.maxAgeSeconds"),
        ("store: {history: {maxAge: 5}}", "store.history.maxAge"),
        ("store: {etcd: {watchMaxBufferBytes: 1}}", "store.etcd.watchMaxBufferBytes"),
        ("store: {sqlite: {maxBatch: 0}}", "store.sqlite.maxBatch"),
        ("store: {sqlite: {maxBatch: 1000001}}", "store.sqlite.maxBatch"),
        ("store: {sqlite: {maxBatch: many}}", "store.sqlite.maxBatch"),
    ])
    func badValuesNameTheKey(_ text: String, _ keyPath: String) {
        do {
            _ = try ConfigurationReader.parse(text, file: "g.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.keyPath == keyPath, "\(error)")
        }
    }

    @Test func readinessNamesDamagedObjectsAndFailsOnAStalledStore() {
        let damaged = GlobalDNSServer.readiness(failed: [], storeProblem: nil, planServed: true, damaged: ["a", "b"])
        #expect(damaged.ready, "every other name is served")
        #expect(damaged.reason.hasPrefix("warning: "), "shown in the 200 body of /readyz")
        #expect(damaged.reason.contains("2 stored NameServices cannot be read"))
        #expect(damaged.reason.contains("damagedObjects: a, b"))
        let many = GlobalDNSServer.readiness(failed: [], storeProblem: nil, planServed: true, damaged: (0..<30).map { "n\($0)" })
        #expect(many.reason.contains("n9, …") && !many.reason.contains("n10"))
        let stalled = GlobalDNSServer.readiness(failed: [], storeProblem: "the NameService store's oldest pending write has waited 6.0 s",
                                                planServed: true, damaged: ["a"])
        #expect(!stalled.ready)
        #expect(stalled.reason.contains("oldest pending write"))
    }
}

import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// The watch stream through `app.test(.router)`: the router framework collects a whole body, so
/// these watches end by `timeoutSeconds` (or by themselves, on error).
@Suite struct WatchRouterTests {
    /// Starts a watch on `uri`, runs `writes` once the watch follows the store, and returns its
    /// lines.
    func watch(_ client: some TestClientProtocol, _ uri: String, on store: CountingStore,
               during writes: @escaping @Sendable () async throws -> Void) async throws -> [(type: String, name: String, resourceVersion: String?)] {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { bodyText(try await client.execute(uri: uri, method: .get)) }
            group.addTask {
                #expect(try await eventually { store.openWatches == 1 }, "the watch never subscribed")
                try await writes()
                return nil
            }
            var text = ""
            for try await r in group { if let r { text = r } }
            return try watchLines(text)
        }
    }

    @Test func addedModifiedDeletedInOrderIncludingStatus() async throws {
        let store = CountingStore()
        _ = try await store.put(NameService.sample("before"), ifVersion: nil)
        let from = try await store.revision()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            let lines = try await watch(client, "/v1/nameservices?watch=true&resourceVersion=\(from)&timeoutSeconds=5", on: store) {
                #expect(try await put(client, "checkout", checkoutJSON()).status == .created)
                #expect(try await put(client, "checkout", checkoutJSON(ttl: 45)).status == .ok)
                _ = try await store.updateStatus("checkout", status: NameServiceStatus(observedGeneration: 2), ifGeneration: nil)
                #expect(try await client.execute(uri: "/v1/nameservices/checkout", method: .delete, headers: authHeaders).status == .ok)
            }
            #expect(lines.map(\.type) == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"])
            #expect(lines.allSatisfy { $0.name == "checkout" })
            let versions = lines.compactMap { $0.resourceVersion.flatMap { Int64($0) } }
            #expect(versions == versions.sorted() && Set(versions).count == 4 && versions.first! > from)
        }
    }

    @Test func withoutResourceVersionCurrentObjectsComeFirstAsAdded() async throws {
        let store = CountingStore()
        for n in ["b", "a"] { _ = try await store.put(NameService.sample(n), ifVersion: nil) }
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            let lines = try await watch(client, "/v1/nameservices?watch=true&timeoutSeconds=2", on: store) {
                _ = try await store.put(NameService.sample("c"), ifVersion: nil)
                _ = try await store.delete("a", ifVersion: nil)
            }
            #expect(lines.map { "\($0.type) \($0.name)" } == ["ADDED a", "ADDED b", "ADDED c", "DELETED a"])
        }
    }

    @Test func resumesAfterAResourceVersion() async throws {
        let store = InMemoryNameServiceStore()
        var written: [String] = []
        for n in ["a", "b", "c", "d"] {
            written.append(try await store.put(NameService.sample(n), ifVersion: nil).metadata.resourceVersion!)
        }
        let app = routerApp(makeAPI(store))
        let versions = written
        try await app.test(.router) { client in
            let r = try await client.execute(uri: "/v1/nameservices?watch=true&resourceVersion=\(versions[1])&timeoutSeconds=0.5", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
            let lines = try watchLines(bodyText(r))
            #expect(lines.map { "\($0.type) \($0.name) \($0.resourceVersion ?? "")" } == ["ADDED c \(versions[2])", "ADDED d \(versions[3])"])
        }
    }

    @Test func compactedResourceVersionIsOne410ErrorLine() async throws {
        let store = InMemoryNameServiceStore(eventHistoryLimit: 2)
        for n in ["a", "b", "c", "d", "e"] { _ = try await store.put(NameService.sample(n), ifVersion: nil) }
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            // no timeoutSeconds: the stream must end by itself
            let r = try await client.execute(uri: "/v1/nameservices?watch=true&resourceVersion=1", method: .get)
            #expect(r.status == .ok)
            let text = bodyText(r)
            let lines = text.split(separator: "\n")
            try #require(lines.count == 1)
            let event = try JSONDecoder().decode(WatchEvent<APIStatus>.self, from: Data(lines[0].utf8))
            #expect(event.type == "ERROR")
            #expect(event.object.code == 410 && event.object.reason == "Expired" && event.object.kind == "Status")
        }
    }

    @Test func labelSelectorFiltersAndSendsDeletedWhenAnObjectStopsMatching() async throws {
        let store = CountingStore()
        _ = try await store.put(NameService.sample("pay", labels: ["team": "payments"]), ifVersion: nil)
        _ = try await store.put(NameService.sample("other", labels: ["team": "search"]), ifVersion: nil)
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            let lines = try await watch(client, "/v1/nameservices?watch=true&labelSelector=team%3Dpayments&timeoutSeconds=2", on: store) {
                _ = try await store.put(NameService.sample("other", labels: ["team": "search"], ttl: 99), ifVersion: nil)
                _ = try await store.put(NameService.sample("new", labels: ["team": "payments"]), ifVersion: nil)
                _ = try await store.put(NameService.sample("pay", labels: ["team": "moved"]), ifVersion: nil)
                _ = try await store.delete("other", ifVersion: nil)
            }
            #expect(lines.map { "\($0.type) \($0.name)" } == ["ADDED pay", "ADDED new", "DELETED pay"])
        }
    }

    @Test func storeFailureEndsTheStreamWithAnErrorLine() async throws {
        let app = routerApp(makeAPI(FailingStore(code: .unavailable)))
        try await app.test(.router) { client in
            for uri in ["/v1/nameservices?watch=true", "/v1/nameservices?watch=true&resourceVersion=3"] {
                let r = try await client.execute(uri: uri, method: .get)
                let lines = bodyText(r).split(separator: "\n")
                #expect(lines.count == 1, "\(uri)")
                let event = try JSONDecoder().decode(WatchEvent<APIStatus>.self, from: Data(lines[0].utf8))
                #expect(event.type == "ERROR" && event.object.code == 503)
            }
        }
    }

    @Test func badWatchParametersAre400() async throws {
        let app = routerApp(makeAPI())
        try await app.test(.router) { client in
            for q in ["resourceVersion=abc", "resourceVersion=-4", "timeoutSeconds=0", "timeoutSeconds=soon"] {
                let r = try await client.execute(uri: "/v1/nameservices?watch=true&\(q)", method: .get)
                #expect(r.status == .badRequest, "\(q)")
            }
        }
    }
}

extension NameService {
    static func sample(_ name: String, labels: [String: String] = [:], ttl: Int = 30) -> NameService {
        NameService(metadata: ObjectMeta(name: name, labels: labels),
                    spec: NameServiceSpec(fqdn: "\(name).g.example.com", ttl: ttl, targets: [Target(name: "t", addresses: ["10.0.0.1"])]))
    }
}

import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// `PUT`/`DELETE /v1/nameservices/{name}/targets/{target}/drain` and the live status overlay.
@Suite struct DrainRouterTests {
    let path = "/v1/nameservices/checkout/targets/lvs-a/drain"

    func drainBody(_ json: String, _ client: some TestClientProtocol, path: String? = nil,
                   headers: HTTPFields = authHeaders) async throws -> TestResponse {
        try await client.execute(uri: path ?? self.path, method: .put, headers: headers, body: buffer(json))
    }

    @Test func drainRecordsTheTokenNameAndExpiryAndUndrainLiftsIt() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            #expect(try await put(client, "checkout", checkoutJSON()).status == .created)
            let before = WallTime.now
            let r = try await drainBody(#"{"reason": "kernel upgrade", "durationSeconds": 3600}"#, client)
            #expect(r.status == .ok, "\(bodyText(r))")
            let ns = try decode(NameService.self, r)
            let d = try #require(ns.drains.first)
            #expect(ns.drains.count == 1 && d.target == "lvs-a" && d.reason == "kernel upgrade" && d.by == "ci")
            #expect(d.since >= WallTime(secondsSinceEpoch: before.secondsSinceEpoch))
            let until = try #require(d.until)
            #expect(until - d.since == .seconds(3600))
            #expect(try await store.get("checkout")?.drains == [d])

            // Draining again replaces the drain (one per target); an RFC 3339 `until`, YAML body.
            var yaml = authHeaders
            yaml[.contentType] = "application/yaml"
            let again = try await drainBody("reason: rack move\nuntil: \"2200-01-01T00:00:00Z\"\n", client, headers: yaml)
            #expect(again.status == .ok, "\(bodyText(again))")
            #expect(try decode(NameService.self, again).drains.map(\.reason) == ["rack move"])
            #expect(try decode(NameService.self, again).drains.first?.until == WallTime(rfc3339: "2200-01-01T00:00:00Z"))

            // A controller's PUT keeps it; GET shows it.
            #expect(try await put(client, "checkout", checkoutJSON(ttl: 90)).status == .ok)
            let got = try decode(NameService.self, try await client.execute(uri: "/v1/nameservices/checkout", method: .get))
            #expect(got.drains.map(\.reason) == ["rack move"] && got.spec.ttl == 90)

            let undrained = try await client.execute(uri: path, method: .delete, headers: authHeaders)
            #expect(undrained.status == .ok)
            #expect(try decode(NameService.self, undrained).drains.isEmpty)
            let twice = try await client.execute(uri: path, method: .delete, headers: authHeaders)
            #expect(twice.status == .notFound)
            #expect(try decode(APIStatus.self, twice).message.contains("is not drained"))
        }
    }

    @Test func badDrainsAreRefusedWithTheFieldAndChangeNothing() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            #expect(try await put(client, "checkout", checkoutJSON()).status == .created)
            let revision = try await store.revision()
            let cases: [(String, Int, String)] = [
                (#"{}"#, 422, "reason: is required"),
                (#"{"reason": "  "}"#, 422, "reason: is required"),
                (#"{"reason": "x", "until": "tomorrow"}"#, 422, "until: \"tomorrow\" is not an RFC 3339 time"),
                (#"{"reason": "x", "until": "2001-01-01T00:00:00Z"}"#, 422, "until: 2001-01-01T00:00:00Z is not in the future"),
                (#"{"reason": "x", "durationSeconds": 0}"#, 422, "durationSeconds: 0 is not between"),
                (#"{"reason": "x", "durationSeconds": 60, "until": "2200-01-01T00:00:00Z"}"#, 422, "either until or durationSeconds"),
                (#"{"reason": "\#(String(repeating: "r", count: 300))"}"#, 422, "reason: is 300 characters long"),
                (#"{"reason": "x", "until": "2999-01-01T00:00:00Z"}"#, 422, "until: \"2999-01-01T00:00:00Z\" is not an RFC 3339 time"),
                (#"{"reason": 5}"#, 400, "malformed JSON"),
                ("", 400, "request body is empty"),
            ]
            for (body, code, message) in cases {
                let r = try await drainBody(body, client)
                #expect(Int(r.status.code) == code, "\(body): \(bodyText(r))")
                let status = try decode(APIStatus.self, r)
                #expect(status.message.contains(message), "\(body): \(status.message)")
                if code == 422 { #expect(status.message.contains("the drain of target \"lvs-a\" of NameService \"checkout\"")) }
            }
            let noTarget = try await drainBody(#"{"reason": "x"}"#, client, path: "/v1/nameservices/checkout/targets/nope/drain")
            #expect(noTarget.status == .notFound)
            #expect(try decode(APIStatus.self, noTarget).message.contains("has no target \"nope\" in spec.targets (it has: lvs-a)"))
            let noName = try await drainBody(#"{"reason": "x"}"#, client, path: "/v1/nameservices/nope/targets/lvs-a/drain")
            #expect(noName.status == .notFound)
            let anonymous = try await client.execute(uri: path, method: .put, headers: [.contentType: "application/json"],
                                                     body: buffer(#"{"reason": "x"}"#))
            #expect(anonymous.status == .unauthorized)
            let undrainAnonymous = try await client.execute(uri: path, method: .delete)
            #expect(undrainAnonymous.status == .unauthorized)
            #expect(try await store.revision() == revision, "nothing written")
        }
    }

    @Test func theStoreBeingDownIs503() async throws {
        let app = routerApp(makeAPI(FailingStore(code: .unavailable)))
        try await app.test(.router) { client in
            let r = try await drainBody(#"{"reason": "x"}"#, client)
            #expect(r.status == .serviceUnavailable)
        }
    }

    @Test func readsCarryTheLiveProbeResults() async throws {
        let store = InMemoryNameServiceStore()
        let stored = try await store.put(try JSONDecoder().decode(NameService.self, from: Data(checkoutJSON().utf8)), ifVersion: nil)
        _ = try await store.updateStatus("checkout", status: NameServiceStatus(observedGeneration: 1, targets: [
            TargetStatus(name: "lvs-a", address: "10.10.1.7", healthy: true),
        ]), ifGeneration: stored.metadata.generation)
        let api = NameServiceAPI(store: store, configuration: APIConfiguration(tokens: ["ci": writerToken], liveStatus: { items in
            items.map { ns in
                var ns = ns
                for i in ns.status?.targets.indices ?? 0..<0 {
                    ns.status!.targets[i].lastProbeTime = "2026-11-24T23:59:59Z"
                    ns.status!.targets[i].lastProbeLatencyMilliseconds = 0.25
                }
                return ns
            }
        }), logger: testLogger())
        try await routerApp(api).test(.router) { client in
            for uri in ["/v1/nameservices/checkout", "/v1/nameservices"] {
                let text = bodyText(try await client.execute(uri: uri, method: .get))
                #expect(text.contains(#""lastProbeTime":"2026-11-24T23:59:59Z""#), "\(uri)")
                #expect(text.contains(#""lastProbeLatencyMilliseconds":0.25"#), "\(uri)")
            }
            let status = try decode(NameServiceStatus.self, try await client.execute(uri: "/v1/nameservices/checkout/status", method: .get))
            #expect(status.targets.first?.lastProbeLatencyMilliseconds == 0.25)
            // Stored as it was: the overlay is never written back.
            #expect(try await store.get("checkout")?.status?.targets.first?.lastProbeTime == nil)
        }
    }
}

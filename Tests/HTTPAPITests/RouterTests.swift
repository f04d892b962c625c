import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// Every route and error code through `app.test(.router)` (no sockets).
@Suite struct RouterTests {
    @Test func healthzAndReadyz() async throws {
        let ready = ReadyFlag()
        let app = routerApp(makeAPI(readiness: { ready.value ? (true, "ready") : (false, "zones not loaded yet") }))
        try await app.test(.router) { client in
            let h = try await client.execute(uri: "/healthz", method: .get)
            #expect(h.status == .ok)
            #expect(bodyText(h) == "ok\n")
            let notReady = try await client.execute(uri: "/readyz", method: .get)
            #expect(notReady.status == .serviceUnavailable)
            let status = try decode(APIStatus.self, notReady)
            #expect(status.code == 503 && status.message.contains("zones not loaded yet"))
            ready.value = true
            let r = try await client.execute(uri: "/readyz", method: .get)
            #expect(r.status == .ok)
        }
    }

    /// `/metrics` serves what the configured closure renders, with the Prometheus content type and
    /// no token (a read); without the closure (metrics.enabled: false) it is 404.
    @Test func metricsIsReadOnlyAndCanBeOff() async throws {
        let on = routerApp(makeAPI(tokens: ["ci": writerToken], metrics: { "globaldns_build_info{version=\"x\"} 1\n" }))
        try await on.test(.router) { client in
            let r = try await client.execute(uri: "/metrics", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(bodyText(r) == "globaldns_build_info{version=\"x\"} 1\n")
        }
        let off = routerApp(makeAPI())
        try await off.test(.router) { client in
            let r = try await client.execute(uri: "/metrics", method: .get)
            #expect(r.status == .notFound)
            #expect(try decode(APIStatus.self, r).message.contains("metrics.enabled"))
        }
    }

    @Test func createReplaceGetDelete() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            let created = try await put(client, "checkout", checkoutJSON())
            #expect(created.status == .created)
            let c = try decode(NameService.self, created)
            #expect(c.metadata.generation == 1)
            #expect(c.metadata.resourceVersion != nil)
            #expect(created.headers[.contentType] == "application/json")

            let replaced = try await put(client, "checkout", checkoutJSON(ttl: 60))
            #expect(replaced.status == .ok)
            let r = try decode(NameService.self, replaced)
            #expect(r.spec.ttl == 60 && r.metadata.generation == 2)

            let got = try await client.execute(uri: "/v1/nameservices/checkout", method: .get)
            #expect(got.status == .ok)
            #expect(try decode(NameService.self, got) == r)

            let deleted = try await client.execute(uri: "/v1/nameservices/checkout", method: .delete, headers: authHeaders)
            #expect(deleted.status == .ok)
            let d = try decode(NameService.self, deleted)
            #expect(d.metadata.name == "checkout" && d.spec.ttl == 60)
            #expect(try await store.get("checkout") == nil)
            let gone = try await client.execute(uri: "/v1/nameservices/checkout", method: .get)
            #expect(gone.status == .notFound)
        }
    }

    @Test func yamlBodiesWithAndWithoutContentType() async throws {
        let app = routerApp(makeAPI())
        try await app.test(.router) { client in
            for contentType in ["application/yaml", "application/x-yaml", "text/yaml"] {
                var headers = authHeaders
                headers[.contentType] = contentType
                let r = try await put(client, "checkout", checkoutYAML, headers: headers)
                #expect(r.status == .created || r.status == .ok, "\(contentType): \(bodyText(r))")
                let ns = try decode(NameService.self, r)
                #expect(ns.spec.policy == .locality && ns.spec.ttl == 60)
                #expect(ns.spec.targets.first?.locality == "us-west/us-west-1a")
                #expect(ns.spec.healthCheck?.port == 443 && ns.spec.healthCheck?.resolved(.standard).failureThreshold == 3)
            }
            var sniffed = authHeaders
            sniffed[.contentType] = nil
            let y = try await put(client, "checkout", checkoutYAML.replacingOccurrences(of: "ttl: 60", with: "ttl: 61"), headers: sniffed)
            #expect(y.status == .ok)
            #expect(try decode(NameService.self, y).spec.ttl == 61)
            let j = try await put(client, "checkout", checkoutJSON(ttl: 62), headers: sniffed)
            #expect(j.status == .ok)
            #expect(try decode(NameService.self, j).spec.ttl == 62)
        }
    }

    @Test func unsupportedContentTypeIs415() async throws {
        let app = routerApp(makeAPI())
        try await app.test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = "application/xml"
            let r = try await put(client, "checkout", "<x/>", headers: headers)
            #expect(r.status == .unsupportedMediaType)
            #expect(try decode(APIStatus.self, r).reason == "UnsupportedMediaType")
        }
    }

    @Test func emptyMetadataNameIsTakenFromThePath() async throws {
        let app = routerApp(makeAPI())
        try await app.test(.router) { client in
            let r = try await put(client, "checkout", checkoutJSON(name: ""))
            #expect(r.status == .created)
            #expect(try decode(NameService.self, r).metadata.name == "checkout")
        }
    }

    @Test func writesNeedAValidBearerToken() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store, tokens: ["ci": writerToken, "ops": "another-secret"]))
        try await app.test(.router) { client in
            for auth in [nil, "Bearer wrong", "Bearer \(writerToken)x", "Basic \(writerToken)", "Bearer "] {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let auth { headers[.authorization] = auth }
                let r = try await put(client, "checkout", checkoutJSON(), headers: headers)
                #expect(r.status == .unauthorized, "\(auth ?? "no header")")
                #expect(r.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                let s = try decode(APIStatus.self, r)
                #expect(s.kind == "Status" && s.code == 401 && s.reason == "Unauthorized")
                let d = try await client.execute(uri: "/v1/nameservices/checkout", method: .delete, headers: headers)
                #expect(d.status == .unauthorized)
            }
            #expect(try await store.list(selector: nil).items.isEmpty)
            // the second token works too; reads need none
            let ok = try await put(client, "checkout", checkoutJSON(), headers: [.authorization: "Bearer another-secret"])
            #expect(ok.status == .created)
            #expect(try await client.execute(uri: "/v1/nameservices/checkout", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v1/nameservices", method: .get).status == .ok)
            // RFC 6750 §2.1: "Bearer" 1*SP token, so several spaces are fine (issue 14)
            let spaced = try await put(client, "checkout", checkoutJSON(ttl: 61), headers: [.authorization: "Bearer    another-secret"])
            #expect(spaced.status == .ok)
        }
    }

    @Test func withoutTokensWritesAreOpen() async throws {
        let api = makeAPI(tokens: [:])
        #expect(api.requiresAuth == false)
        #expect(makeAPI().requiresAuth)
        try await routerApp(api).test(.router) { client in
            let r = try await put(client, "checkout", checkoutJSON(), headers: [.contentType: "application/json"])
            #expect(r.status == .created)
        }
    }

    @Test func malformedBodiesAre400WithAPosition() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            let broken = try await put(client, "checkout", #"{"apiVersion": "globaldns.io/v1alpha1", "kind": }"#)
            #expect(broken.status == .badRequest)
            let s1 = try decode(APIStatus.self, broken)
            #expect(s1.reason == "BadRequest" && s1.message.hasPrefix("malformed JSON"))
            #expect(s1.message.contains("(line 1, column 49)"), "\(s1.message)")
            let multiLine = try await put(client, "checkout", "{\n  \"kind\": \"NameService\",\n  \"spec\": {,}\n}")
            #expect(try decode(APIStatus.self, multiLine).message.contains("line 3"), "\(bodyText(multiLine))")

            let wrongType = try await put(client, "checkout", checkoutJSON().replacingOccurrences(of: #""ttl":30"#, with: #""ttl":"thirty""#))
            #expect(wrongType.status == .badRequest)
            #expect(try decode(APIStatus.self, wrongType).message.contains("spec.ttl"))

            var yaml = authHeaders
            yaml[.contentType] = "application/yaml"
            let badYAML = try await put(client, "checkout", "apiVersion: x\nspec: [unclosed\n  fqdn: a\n", headers: yaml)
            #expect(badYAML.status == .badRequest)
            let s3 = try decode(APIStatus.self, badYAML)
            #expect(s3.message.hasPrefix("malformed YAML") && s3.message.contains("line"), "\(s3.message)")

            let nestedYAML = try await put(client, "checkout", checkoutYAML.replacingOccurrences(of: "ratio: 99", with: "ratio: [1]"), headers: yaml)
            #expect(nestedYAML.status == .badRequest)
            #expect(try decode(APIStatus.self, nestedYAML).message.contains("spec.targets[0].ratio"))

            let empty = try await put(client, "checkout", "")
            #expect(empty.status == .badRequest)
            #expect(try await store.list(selector: nil).items.isEmpty)
        }
    }

    @Test func invalidSpecIs422WithEveryProblemAndNothingStored() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        let doc = """
        {"apiVersion":"globaldns.io/v2","kind":"Gadget","metadata":{"name":"checkout"},
         "spec":{"fqdn":"checkout.g.example.com","ttl":-5,"policy":"Fastest",
                 "targets":[{"name":"lvs-a","addresses":["10.10.1.7","not-an-ip"]},{"name":"lvs-a","addresses":["10.0.0.1"],"ratio":-1}]}}
        """
        try await app.test(.router) { client in
            let r = try await put(client, "checkout", doc)
            #expect(r.status == .unprocessableContent)
            let s = try decode(APIStatus.self, r)
            #expect(s.kind == "Status" && s.apiVersion == "v1" && s.status == "Failure" && s.code == 422 && s.reason == "Invalid")
            #expect(s.details?.name == "checkout")
            let fields = s.details?.causes?.map(\.field) ?? []
            #expect(fields == ["apiVersion", "kind", "spec.ttl", "spec.policy", "spec.targets[0].addresses[1]",
                               "spec.targets[1].name", "spec.targets[1].ratio"])
            let byField = Dictionary(uniqueKeysWithValues: (s.details?.causes ?? []).map { ($0.field, $0) })
            #expect(byField["spec.targets[1].name"]?.reason == "FieldValueDuplicate")
            #expect(byField["spec.ttl"]?.reason == "FieldValueInvalid")
            #expect(byField["spec.targets[0].addresses[1]"]?.message.contains("not-an-ip") == true)
            #expect(try await store.list(selector: nil).items.isEmpty)
            #expect(try await store.revision() == 0)

            let mismatch = try await put(client, "checkout", checkoutJSON(name: "cart"))
            #expect(mismatch.status == .unprocessableContent)
            let m = try decode(APIStatus.self, mismatch)
            #expect(m.details?.causes?.map(\.field) == ["metadata.name"])

            let badPathName = try await put(client, "Not_A_Label", checkoutJSON(name: ""))
            #expect(badPathName.status == .unprocessableContent)
            #expect(try decode(APIStatus.self, badPathName).details?.causes?.first?.field == "metadata.name")

            let noTargets = try await put(client, "checkout", #"{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","spec":{}}"#)
            let n = try decode(APIStatus.self, noTargets)
            #expect(n.details?.causes?.map(\.field) == ["spec.fqdn", "spec.targets"])
            #expect(n.details?.causes?.map(\.reason) == ["FieldValueRequired", "FieldValueRequired"])
        }
    }

    @Test func bodyOverTheLimitIs413() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store, maxBodyBytes: 256))
        try await app.test(.router) { client in
            let big = checkoutJSON(labels: ["note": String(repeating: "x", count: 400)])
            let r = try await put(client, "checkout", big)
            #expect(r.status == .contentTooLarge)
            let s = try decode(APIStatus.self, r)
            #expect(s.code == 413 && s.reason == "RequestEntityTooLarge" && s.message.contains("256"))
            #expect(try await store.list(selector: nil).items.isEmpty)
            // a body within the limit still works
            let small = #"{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","spec":{"fqdn":"a.g.example.com","targets":[{"name":"t","addresses":["10.0.0.1"]}]}}"#
            #expect(small.utf8.count <= 256)
            #expect(try await put(client, "a", small).status == .created)
        }
    }

    @Test func notFoundEverywhere() async throws {
        let app = routerApp(makeAPI())
        try await app.test(.router) { client in
            for (uri, method) in [("/v1/nameservices/missing", HTTPRequest.Method.get), ("/v1/nameservices/missing/status", .get),
                                  ("/v1/nameservices/missing", .delete)] {
                let r = try await client.execute(uri: uri, method: method, headers: authHeaders)
                #expect(r.status == .notFound, "\(method) \(uri)")
                let s = try decode(APIStatus.self, r)
                #expect(s.reason == "NotFound" && s.details?.name == "missing" && s.message.contains("missing"))
            }
            let unknown = try await client.execute(uri: "/v2/elsewhere", method: .get)
            #expect(unknown.status == .notFound)
            #expect(try decode(APIStatus.self, unknown).kind == "Status")
        }
    }

    @Test func staleResourceVersionIs409WithTheCurrentVersion() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            let first = try decode(NameService.self, try await put(client, "checkout", checkoutJSON()))
            let rv1 = try #require(first.metadata.resourceVersion)
            let second = try await put(client, "checkout", checkoutJSON(ttl: 40, resourceVersion: rv1))
            #expect(second.status == .ok)
            let rv2 = try #require(try decode(NameService.self, second).metadata.resourceVersion)
            #expect(rv2 != rv1)

            let stale = try await put(client, "checkout", checkoutJSON(ttl: 50, resourceVersion: rv1))
            #expect(stale.status == .conflict)
            let s = try decode(APIStatus.self, stale)
            #expect(s.code == 409 && s.reason == "Conflict" && s.message.contains("current resourceVersion is \(rv2)"), "\(s.message)")
            #expect(try await store.get("checkout")?.spec.ttl == 40)

            let putIfVersionOfMissing = try await put(client, "cart", checkoutJSON(name: "cart", fqdn: "cart.g.example.com", resourceVersion: "1"))
            #expect(putIfVersionOfMissing.status == .conflict)
            #expect(try decode(APIStatus.self, putIfVersionOfMissing).message.contains("does not exist"))

            let staleDelete = try await client.execute(uri: "/v1/nameservices/checkout?resourceVersion=\(rv1)", method: .delete, headers: authHeaders)
            #expect(staleDelete.status == .conflict)
            #expect(try decode(APIStatus.self, staleDelete).message.contains(rv2))
            #expect(try await store.get("checkout") != nil)
            let delete = try await client.execute(uri: "/v1/nameservices/checkout?resourceVersion=\(rv2)", method: .delete, headers: authHeaders)
            #expect(delete.status == .ok)
            #expect(try await store.get("checkout") == nil)
        }
    }

    @Test func twoWritersWithOneVersionGetExactlyOne409() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            for round in 0..<10 {
                let current = try decode(NameService.self, try await put(client, "checkout", checkoutJSON(ttl: 30)))
                let rv = try #require(current.metadata.resourceVersion)
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for ttl in [41, 42] {
                        group.addTask { try await put(client, "checkout", checkoutJSON(ttl: ttl, resourceVersion: rv)).status }
                    }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                #expect(statuses.sorted { $0.code < $1.code } == [.ok, .conflict], "round \(round): \(statuses)")
                let ttl = try await store.get("checkout")?.spec.ttl
                #expect(ttl == 41 || ttl == 42)
            }
        }
    }

    @Test func listWithLabelSelectors() async throws {
        let app = routerApp(makeAPI())
        try await app.test(.router) { client in
            try await put(client, "checkout", checkoutJSON(labels: ["team": "payments", "tier": "web"]))
            try await put(client, "cart", checkoutJSON(name: "cart", fqdn: "cart.g.example.com", labels: ["team": "payments", "tier": "canary"]))
            try await put(client, "search", checkoutJSON(name: "search", fqdn: "search.g.example.com", labels: ["team": "discovery"]))
            try await put(client, "static", checkoutJSON(name: "static", fqdn: "static.g.example.com", labels: [:]))

            let all = try decode(NameServiceList.self, try await client.execute(uri: "/v1/nameservices", method: .get))
            #expect(all.kind == "NameServiceList" && all.apiVersion == "globaldns.io/v1alpha1")
            #expect(all.items.map(\.metadata.name) == ["cart", "checkout", "search", "static"])
            #expect(all.metadata.resourceVersion == "4")

            let cases: [(String, [String])] = [
                ("team%3Dpayments", ["cart", "checkout"]),
                ("team=payments", ["cart", "checkout"]),
                ("team%3Dpayments%2Ctier!%3Dcanary", ["checkout"]),
                ("team", ["cart", "checkout", "search"]),
                ("!team", ["static"]),
                ("team%3D%3Ddiscovery", ["search"]),
                ("team%3Dnobody", []),
            ]
            for (selector, names) in cases {
                let r = try await client.execute(uri: "/v1/nameservices?labelSelector=\(selector)", method: .get)
                #expect(r.status == .ok)
                #expect(try decode(NameServiceList.self, r).items.map(\.metadata.name) == names, "\(selector)")
            }
            let bad = try await client.execute(uri: "/v1/nameservices?labelSelector=%2Cx", method: .get)
            #expect(bad.status == .badRequest)
            #expect(try decode(APIStatus.self, bad).message.contains("labelSelector"))
        }
    }

    @Test func statusSubresourceAndIgnoredStatusOnWrites() async throws {
        let store = InMemoryNameServiceStore()
        let app = routerApp(makeAPI(store))
        try await app.test(.router) { client in
            // a status sent by a client is not stored
            let withStatus = checkoutJSON().dropLast() + #","status":{"observedGeneration":9,"conditions":[{"type":"Ready","status":"True","reason":"Fake","lastTransitionTime":"2025-01-01T00:00:00Z"}]}}"#
            let created = try await put(client, "checkout", String(withStatus))
            #expect(created.status == .created)
            let empty = try await client.execute(uri: "/v1/nameservices/checkout/status", method: .get)
            #expect(empty.status == .ok)
            #expect(try decode(NameServiceStatus.self, empty) == NameServiceStatus())

            var status = NameServiceStatus(observedGeneration: 1)
            status.setCondition(Condition(type: .accepted, status: .true, reason: .valid, message: "ok",
                                          lastTransitionTime: "2025-01-31T12:00:00Z", observedGeneration: 1))
            status.targets = [TargetStatus(name: "lvs-a", address: "10.10.1.7", healthy: false, lastError: "connection refused")]
            _ = try await store.updateStatus("checkout", status: status, ifGeneration: 1)
            let r = try await client.execute(uri: "/v1/nameservices/checkout/status", method: .get)
            #expect(try decode(NameServiceStatus.self, r) == status)
            #expect(try decode(NameService.self, try await client.execute(uri: "/v1/nameservices/checkout", method: .get)).status == status)
            // a replace keeps the server's status
            let replaced = try decode(NameService.self, try await put(client, "checkout", checkoutJSON(ttl: 90)))
            #expect(replaced.status == status)
        }
    }

    @Test(arguments: [(StoreError.Code.unavailable, 503, "ServiceUnavailable"), (.corrupt, 500, "InternalError"), (.invalid, 400, "BadRequest")])
    func storeFailuresMapToStatusCodes(code: StoreError.Code, http: Int, reason: String) async throws {
        let app = routerApp(makeAPI(FailingStore(code: code)))
        try await app.test(.router) { client in
            let requests: [(String, HTTPRequest.Method, String?)] = [
                ("/v1/nameservices/checkout", .get, nil), ("/v1/nameservices", .get, nil),
                ("/v1/nameservices/checkout/status", .get, nil), ("/v1/nameservices/checkout", .put, checkoutJSON()),
                ("/v1/nameservices/checkout", .delete, nil),
            ]
            for (uri, method, body) in requests {
                let r = try await client.execute(uri: uri, method: method, headers: authHeaders, body: body.map(buffer))
                #expect(Int(r.status.code) == http, "\(method) \(uri)")
                let s = try decode(APIStatus.self, r)
                #expect(s.reason == reason && s.message.contains("simulated"), "\(s.message)")
                if code == .unavailable { #expect(s.message.contains("unavailable, retry later")) }
            }
        }
    }
}

final class ReadyFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var _value = false
    var value: Bool {
        get { lock.withLock { _value } }
        set { lock.withLock { _value = newValue } }
    }
}

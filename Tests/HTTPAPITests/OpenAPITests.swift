import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Testing
import Yams

/// docs/openapi.yaml documents what the router serves and every field the resource encodes.
@Suite struct OpenAPITests {
    static func document() throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    @Test func everyRouteIsDocumented() async throws {
        let doc = try Self.document()
        #expect((doc["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(doc["paths"] as? [String: Any])
        for route in NameServiceAPI.routes {
            let item = paths[route.path] as? [String: Any]
            #expect(item?[route.method.rawValue.lowercased()] != nil, "\(route) is not in docs/openapi.yaml")
        }
        // and nothing documented that the router does not serve
        let served = Set(NameServiceAPI.routes.map { "\($0.method.rawValue.lowercased()) \($0.path)" })
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where ["get", "put", "post", "delete", "patch", "head"].contains(method) {
                #expect(served.contains("\(method) \(path)"), "docs/openapi.yaml documents \(method) \(path), which is not served")
            }
        }
        // every route in the table is really routed (not the router's 404)
        let app = routerApp(makeAPI(tokens: [:], metrics: { "" }))
        try await app.test(.router) { client in
            for route in NameServiceAPI.routes {
                let uri = route.path.replacingOccurrences(of: "{name}", with: "probe")
                let r = try await client.execute(uri: uri, method: route.method, body: route.method == .put ? buffer(checkoutJSON(name: "probe")) : nil)
                if r.status == .notFound {
                    #expect(try decode(APIStatus.self, r).details?.name == "probe", "\(route) is not routed")
                }
            }
        }
    }

    @Test func writesDocumentEveryErrorCodeAndBearerAuth() throws {
        let doc = try Self.document()
        let paths = try #require(doc["paths"] as? [String: Any])
        let item = try #require(paths["/v1/nameservices/{name}"] as? [String: Any])
        let put = try #require(item["put"] as? [String: Any])
        let codes = Set((put["responses"] as? [String: Any] ?? [:]).keys)
        #expect(codes.isSuperset(of: ["200", "201", "400", "401", "409", "413", "422", "500", "503"]))
        #expect((put["security"] as? [[String: Any]])?.first?["bearerAuth"] != nil)
        let schemes = (doc["components"] as? [String: Any])?["securitySchemes"] as? [String: Any]
        #expect((schemes?["bearerAuth"] as? [String: Any])?["scheme"] as? String == "bearer")
    }

    /// Every key the resource encodes has a property in the schema of the same name.
    @Test func schemasCoverEveryEncodedField() throws {
        let doc = try Self.document()
        let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
        func properties(_ name: String) -> Set<String> {
            Set(((schemas[name] as? [String: Any])?["properties"] as? [String: Any] ?? [:]).keys)
        }
        var status = NameServiceStatus(observedGeneration: 1)
        status.conditions = [Condition(type: .ready, status: .true, reason: .valid, lastTransitionTime: "2025-01-01T00:00:00Z", observedGeneration: 1)]
        let drain = TargetDrain(target: "t", reason: "r", by: "ci", since: WallTime(secondsSinceEpoch: 0), until: WallTime(secondsSinceEpoch: 60))
        status.targets = [TargetStatus(name: "t", address: "10.0.0.1", healthy: true, lastTransitionTime: "2025-01-01T00:00:00Z", lastError: "x",
                                       drain: drain, lastProbeTime: "2025-01-01T00:00:00Z", lastProbeLatencyMilliseconds: 1)]
        let ns = NameService(
            metadata: ObjectMeta(name: "n", labels: ["a": "b"], generation: 1, resourceVersion: "1", creationRevision: 1,
                                 creationTimestamp: "2025-01-01T00:00:00Z"),
            spec: NameServiceSpec(fqdn: "n.example.com", maxAnswers: 2, failover: [FailoverRule(from: "a", to: "b")],
                                  healthCheck: HealthCheckSpec(port: 443, intervalSeconds: 4, timeoutSeconds: 3, failureThreshold: 3,
                                                              successThreshold: 1, initialDelaySeconds: 0),
                                  targets: [Target(name: "t", addresses: ["10.0.0.1"], fqdn: "t.example.com", locality: "a/b", ratio: 2)]),
            status: status, drains: [drain])
        var populated = ns
        populated.spec.distribute = [DistributeRule(from: "a/*", to: ["a/*": 100])]
        populated.spec.overprovisioningFactor = 1.4
        populated.spec.fallback = FallbackSpec(addresses: ["10.0.0.9"], fqdn: "f.example.com")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(populated)) as? [String: Any])
        func keys(_ any: Any?) -> Set<String> { Set((any as? [String: Any] ?? [:]).keys) }
        func first(_ any: Any?) -> Any? { (any as? [Any])?.first }
        let spec = json["spec"] as? [String: Any]
        let st = json["status"] as? [String: Any]
        let pairs: [(String, Set<String>)] = [
            ("NameService", keys(json)), ("ObjectMeta", keys(json["metadata"])), ("NameServiceSpec", keys(spec)),
            ("HealthCheckSpec", keys(spec?["healthCheck"])), ("Target", keys(first(spec?["targets"]))),
            ("FailoverRule", keys(first(spec?["failover"]))), ("NameServiceStatus", keys(st)),
            ("Condition", keys(first(st?["conditions"]))), ("TargetStatus", keys(first(st?["targets"]))),
            ("TargetDrain", keys(first(json["drains"]))),
            ("DistributeRule", keys(first(spec?["distribute"]))), ("FallbackSpec", keys(spec?["fallback"])),
        ]
        for (schema, encoded) in pairs {
            #expect(!encoded.isEmpty, "\(schema): nothing encoded")
            #expect(encoded.subtracting(properties(schema)).isEmpty, "\(schema) lacks \(encoded.subtracting(properties(schema)))")
            #expect(properties(schema).subtracting(encoded).isEmpty, "\(schema) documents \(properties(schema).subtracting(encoded)) not encoded")
        }
    }
}

import Foundation
import GSLB
@testable import HTTPAPI
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NameServiceStoreTesting
import Testing

/// Issue 14: a field a NameService does not have is refused with its path (Kubernetes' strict
/// field validation), so a typo cannot silently turn health checks off; `?fieldValidation=Warn`
/// accepts it with a `Warning` header, `Ignore` as before.
@Suite struct StrictFieldTests {
    static let typoYAML = """
        apiVersion: globaldns.io/v1alpha1
        kind: NameService
        metadata:
          name: checkout
          labelz: {team: payments}
        spec:
          fqdn: checkout.g.example.com
          tll: 60
          polcy: Ratio
          healthcheck: {port: 443}
          targets:
          - name: a
            addresses: [192.0.2.1]
            adresses: [192.0.2.2]
            locality: us-west/us-west-1a
        """

    static let typoJSON = #"""
        {"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"checkout"},
         "spec":{"fqdn":"checkout.g.example.com","policy":"Ratio","targets":[{"name":"a","addresses":["192.0.2.1"]}],
                 "healthCheck":{"port":443,"intervalSecond":5}},"sttaus":{}}
        """#

    @Test(arguments: [
        (typoYAML, "application/yaml", ["metadata.labelz", "spec.tll", "spec.polcy", "spec.healthcheck", "spec.targets[0].adresses"]),
        (typoJSON, "application/json", ["spec.healthCheck.intervalSecond", "sttaus"]),
    ])
    func unknownFieldsAre422WithTheirPaths(_ body: String, _ type: String, _ paths: [String]) async throws {
        let store = InMemoryNameServiceStore()
        try await routerApp(makeAPI(store)).test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = type
            let r = try await put(client, "checkout", body, headers: headers)
            #expect(r.status == .unprocessableContent, "\(bodyText(r))")
            let status = try decode(APIStatus.self, r)
            let causes = status.details?.causes ?? []
            #expect(causes.filter { $0.reason == "FieldValueUnknown" }.map(\.field) == paths, "\(causes)")
            if type == "application/yaml" {
                #expect(causes.first { $0.field == "spec.polcy" }?.message.contains("did you mean \"policy\"") == true)
                #expect(causes.first { $0.field == "spec.healthcheck" }?.message.contains("did you mean \"healthCheck\"") == true)
                #expect(causes.first { $0.field == "spec.tll" }?.message.contains("did you mean \"ttl\"") == true)
            }
        }
        #expect(try await store.list(selector: nil).items.isEmpty)
    }

    @Test func warnAcceptsWithAWarningHeaderAndIgnoreSilently() async throws {
        let store = InMemoryNameServiceStore()
        try await routerApp(makeAPI(store)).test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = "application/yaml"
            let warned = try await client.execute(uri: "/v1/nameservices/checkout?fieldValidation=Warn", method: .put,
                                                  headers: headers, body: buffer(Self.typoYAML))
            #expect(warned.status == .created, "\(bodyText(warned))")
            let warnings = warned.headers[values: HTTPField.Name("Warning")!]
            #expect(warnings.count == 5)
            #expect(warnings.contains(#"299 - "unknown field \"spec.polcy\" (did you mean \"policy\"?)""#), "\(warnings)")
            // the accepted object is what the known fields say: the typo is not served
            #expect(try await store.get("checkout")?.spec.policy == .roundRobin)

            let ignored = try await client.execute(uri: "/v1/nameservices/checkout?fieldValidation=ignore", method: .put,
                                                   headers: headers, body: buffer(Self.typoYAML))
            #expect(ignored.status == .ok)
            #expect(ignored.headers[values: HTTPField.Name("Warning")!].isEmpty)

            let bad = try await client.execute(uri: "/v1/nameservices/checkout?fieldValidation=Loose", method: .put,
                                               headers: headers, body: buffer(Self.typoYAML))
            #expect(bad.status == .badRequest)
            #expect(try decode(APIStatus.self, bad).details?.causes?.first?.field == "fieldValidation")
        }
    }

    /// What a GET returns can be PUT back: status, drains and the server's metadata are known fields.
    @Test func aReadObjectPutsBackUnchanged() async throws {
        let store = InMemoryNameServiceStore()
        try await routerApp(makeAPI(store)).test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = "application/yaml"
            #expect(try await put(client, "checkout", checkoutYAML, headers: headers).status == .created)
            _ = try await store.updateStatus("checkout", status: NameServiceStatus(observedGeneration: 1), ifGeneration: 1)
            let read = try await client.execute(uri: "/v1/nameservices/checkout", method: .get)
            let again = try await put(client, "checkout", bodyText(read))
            #expect(again.status == .ok, "\(bodyText(again))")
        }
    }

    @Test func unknownFieldsOfADrainAre422() async throws {
        let store = InMemoryNameServiceStore()
        try await routerApp(makeAPI(store)).test(.router) { client in
            var yaml = authHeaders
            yaml[.contentType] = "application/yaml"
            #expect(try await put(client, "checkout", checkoutYAML, headers: yaml).status == .created)
            let r = try await client.execute(uri: "/v1/nameservices/checkout/targets/lvs-us-west-1a/drain", method: .put,
                                             headers: authHeaders, body: buffer(#"{"reason":"x","durationSecond":60}"#))
            #expect(r.status == .unprocessableContent)
            #expect(try decode(APIStatus.self, r).details?.causes?.contains { $0.field == "durationSecond" } == true)
        }
    }

    /// The schema knows every field the model writes: a fully populated NameService, encoded as
    /// the server stores and serves it, has no unknown field.
    @Test func theSchemaKnowsEveryFieldTheModelWrites() throws {
        var ns = NameService(metadata: ObjectMeta(name: "full", labels: ["team": "x"], generation: 3, resourceVersion: "9",
                                                  creationRevision: 2, creationTimestamp: "2026-01-01T00:00:00Z"),
                             spec: NameServiceSpec(fqdn: "full.g.example.com", ttl: 30, policy: .locality, maxAnswers: 2,
                                                   allDown: .failOpen, failover: [FailoverRule(from: "a", to: "b")],
                                                   healthCheck: HealthCheckSpec(port: 443, intervalSeconds: 5, timeoutSeconds: 2,
                                                                                failureThreshold: 3, successThreshold: 1, initialDelaySeconds: 0),
                                                   targets: [Target(name: "t", addresses: ["192.0.2.1"], fqdn: "x.example.net",
                                                                    locality: "r/z/s", ratio: 5)]))
        ns.drains = [TargetDrain(target: "t", reason: "r", by: "ci", since: WallTime(secondsSinceEpoch: 1), until: nil)]
        ns.spec.distribute = [DistributeRule(from: "r/*", to: ["r/*": 100])]  // issue 15
        ns.spec.overprovisioningFactor = 2
        ns.spec.fallback = FallbackSpec(addresses: ["192.0.2.9"], fqdn: "sorry.example.net")
        let json = Array(try JSONCoding.encoder().encode(ns))
        let tree = try #require(try BodyLimits.checkJSON(json))
        #expect(FieldSchema.nameService.unknownFields(in: tree).isEmpty)
        // and the YAML tree builder sees the same keys, with lines
        let yaml = Array("a: 1\nspec:\n  polcy: x\n  targets:\n  - {name: t, adresses: []}\n".utf8)
        let found = FieldSchema.nameService.unknownFields(in: try #require(try BodyLimits.checkYAML(yaml)))
        #expect(found == [UnknownField(path: "a", line: 1), UnknownField(path: "spec.polcy", line: 3, suggestion: "policy"),
                          UnknownField(path: "spec.targets[0].adresses", line: 5, suggestion: "addresses")])
    }
}

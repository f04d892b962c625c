import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// Issue 12: a spec past the configured `limits` gets 422 with the field path and the key that
/// raises the limit, and nothing is stored.
@Suite struct SpecLimitsRouterTests {
    static func body(targets: Int, addressesEach: Int = 1) -> String {
        let list = (0..<targets).map { i in
            let addresses = (0..<addressesEach).map { "\"10.\(i / 256).\(i % 256).\($0)\"" }.joined(separator: ",")
            return "{\"name\":\"t\(i)\",\"addresses\":[\(addresses)]}"
        }.joined(separator: ",")
        return """
        {"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"big"},
         "spec":{"fqdn":"big.g.example.com","targets":[\(list)]}}
        """
    }

    @Test func pastTheDefaultLimitsIs422NamingTheFieldAndTheKey() async throws {
        let store = InMemoryNameServiceStore()
        try await routerApp(makeAPI(store)).test(.router) { client in
            let r = try await put(client, "big", Self.body(targets: 1001))
            #expect(r.status == .unprocessableContent)
            let s = try decode(APIStatus.self, r)
            #expect(s.details?.causes?.map(\.field) == ["spec.targets"])
            #expect(s.details?.causes?.first?.message.contains("1001 targets; at most 1000 are accepted (limits.maxTargetsPerNameService)") == true)
            let perTarget = try await put(client, "big", Self.body(targets: 1, addressesEach: 65))
            #expect(perTarget.status == .unprocessableContent)
            #expect(try decode(APIStatus.self, perTarget).details?.causes?.map(\.field) == ["spec.targets[0].addresses"])
            #expect(try await store.list(selector: nil).items.isEmpty)
            // At the limit it is stored.
            #expect(try await put(client, "big", Self.body(targets: 1000)).status == .created)
        }
    }

    @Test func theConfiguredLimitsAreTheOnesChecked() async throws {
        var limits = SpecLimits.standard
        limits.maxTargetsPerNameService = 2
        let api = NameServiceAPI(store: InMemoryNameServiceStore(),
                                 configuration: APIConfiguration(tokens: ["ci": writerToken], specLimits: limits), logger: testLogger())
        try await routerApp(api).test(.router) { client in
            let r = try await put(client, "big", Self.body(targets: 3))
            #expect(r.status == .unprocessableContent)
            #expect(try decode(APIStatus.self, r).details?.causes?.first?.message.contains("at most 2 are accepted") == true)
            #expect(try await put(client, "big", Self.body(targets: 2)).status == .created)
        }
    }
}

import Foundation
import GlobalDNSClient
import GSLB
import Testing

@Suite struct ManifestLoaderTests {
    static let two = """
        # two NameServices in one file
        apiVersion: globaldns.io/v1alpha1
        kind: NameService
        metadata:
          name: checkout
          labels: {team: payments}
        spec:
          fqdn: checkout.g.example.com
          policy: Locality
          targets:
          - name: lvs-us-west-1a
            addresses: [10.10.1.7, "2001:db8::7"]
            locality: us-west/us-west-1a
            ratio: 99
        ---
        ---
        apiVersion: globaldns.io/v1alpha1
        kind: NameService
        metadata: {name: api, resourceVersion: "12"}
        spec: {fqdn: api.g.example.com, targets: [{name: a, addresses: [192.0.2.1]}]}
        ...
        """

    /// Issue 14: fields a NameService does not have are found with their file, line and path
    /// (the decoder would drop them), in every document and list item.
    @Test func unknownFieldsAreFoundWithFileAndLine() throws {
        let text = """
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata: {name: a}
            spec:
              fqdn: a.g.example.com
              polcy: Ratio
              targets: [{name: t, addresses: [192.0.2.1]}]
            ---
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata: {name: b}
            spec:
              fqdn: b.g.example.com
              healthcheck: {port: 443}
              targets: [{name: t, addresses: [192.0.2.1]}]
            """
        let manifests = try ManifestLoader.parse(text, source: "typos.yaml")
        #expect(manifests.map(\.unknownFieldMessages) == [
            [#"typos.yaml:6: unknown field "spec.polcy" (did you mean "policy"?) (document 1)"#],
            [#"typos.yaml:14: unknown field "spec.healthcheck" (did you mean "healthCheck"?) (document 2)"#],
        ])
        #expect(try ManifestLoader.parse(Self.two, source: "two.yaml").allSatisfy { $0.unknownFields.isEmpty })
    }

    @Test func severalDocumentsInOneFileSkippingEmptyOnes() throws {
        let manifests = try ManifestLoader.parse(Self.two, source: "ns.yaml")
        #expect(manifests.map(\.object.metadata.name) == ["checkout", "api"])
        #expect(manifests.map(\.source) == ["ns.yaml (document 1)", "ns.yaml (document 2)"])
        let checkout = manifests[0].object
        #expect(checkout.metadata.labels == ["team": "payments"])
        #expect(checkout.spec.policy == .locality)
        #expect(checkout.spec.targets[0].addresses == ["10.10.1.7", "2001:db8::7"])
        #expect(checkout.spec.targets[0].ratio == 99)
        #expect(manifests[1].object.metadata.resourceVersion == "12")
        #expect(manifests[1].object.spec.ttl == NameServiceSpec.defaultTTL)
    }

    @Test func jsonAndListDocuments() throws {
        let json = #"{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"j"},"spec":{"fqdn":"j.g.example.com","targets":[]}}"#
        #expect(try ManifestLoader.parse(json, source: "j.json").map(\.object.metadata.name) == ["j"])
        let list = """
            kind: NameServiceList
            items:
            - {apiVersion: globaldns.io/v1alpha1, kind: NameService, metadata: {name: one}, spec: {fqdn: one.g.example.com}}
            - {apiVersion: globaldns.io/v1alpha1, kind: NameService, metadata: {name: two}, spec: {fqdn: two.g.example.com}}
            """
        let items = try ManifestLoader.parse(list, source: "l.yaml")
        #expect(items.map(\.object.metadata.name) == ["one", "two"])
        #expect(items[1].source == "l.yaml items[1]")
    }

    @Test func documentsThatCannotBeSentAreRejectedWithTheirSource() throws {
        let noName = "apiVersion: globaldns.io/v1alpha1\nkind: NameService\nspec: {fqdn: x.g.example.com}\n"
        let e1 = #expect(throws: ClientError.self) { try ManifestLoader.parse(noName, source: "a.yaml") }
        #expect(e1?.message == "error parsing a.yaml: metadata.name is required")
        let otherKind = "kind: Deployment\nmetadata: {name: x}\n---\nkind: NameService\nmetadata: {name: y}\n"
        let e2 = #expect(throws: ClientError.self) { try ManifestLoader.parse(otherKind, source: "b.yaml") }
        #expect(e2?.message == "error parsing b.yaml (document 1): kind \"Deployment\"; globaldnsctl applies kind NameService")
        let badType = "kind: NameService\nmetadata: {name: x}\nspec: {ttl: [1]}\n"
        let e3 = #expect(throws: ClientError.self) { try ManifestLoader.parse(badType, source: "c.yaml") }
        #expect(e3?.message.hasPrefix("error parsing c.yaml: spec.ttl:") == true)
        let e4 = #expect(throws: ClientError.self) { try ManifestLoader.parse("a: [unclosed", source: "d.yaml") }
        #expect(e4?.code == .invalidManifest)
        #expect(e4?.message.hasPrefix("error parsing d.yaml:") == true)
        // A syntax error after a good document fails the whole file: nothing is half-applied.
        let goodThenBroken = "kind: NameService\nmetadata: {name: x}\n---\nkind: NameService\nmetadata: {name: [y\n"
        let e5 = #expect(throws: ClientError.self) { try ManifestLoader.parse(goodThenBroken, source: "e.yaml") }
        #expect(e5?.code == .invalidManifest)
    }

    @Test func directoryAppliesYAMLAndJSONFilesInNameOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("globaldnsctl-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func doc(_ name: String) -> String {
            "apiVersion: globaldns.io/v1alpha1\nkind: NameService\nmetadata: {name: \(name)}\nspec: {fqdn: \(name).g.example.com}\n"
        }
        try doc("b").write(toFile: dir + "/20-b.yml", atomically: true, encoding: .utf8)
        try (doc("a") + "---\n" + doc("a2")).write(toFile: dir + "/10-a.yaml", atomically: true, encoding: .utf8)
        try #"{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"c"},"spec":{"fqdn":"c.g.example.com"}}"#
            .write(toFile: dir + "/30-c.json", atomically: true, encoding: .utf8)
        try "not a manifest".write(toFile: dir + "/README.md", atomically: true, encoding: .utf8)
        try doc("hidden").write(toFile: dir + "/.hidden.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/sub.yaml", withIntermediateDirectories: true)

        #expect(try ManifestLoader.files(inDirectory: dir) == [dir + "/10-a.yaml", dir + "/20-b.yml", dir + "/30-c.json"])
        let manifests = try ManifestLoader.load(path: dir)
        #expect(manifests.map(\.object.metadata.name) == ["a", "a2", "b", "c"])
        #expect(manifests[2].source == dir + "/20-b.yml")

        let missing = #expect(throws: ClientError.self) { try ManifestLoader.load(path: dir + "/nope") }
        #expect(missing?.message.contains("does not exist") == true)
    }
}

import Foundation
import DNSWire
@testable import GSLB
import Testing

/// Issue 15: every problem with `distribute`, `overprovisioningFactor` and `fallback`, by path.
@Suite("distribute and fallback validation")
struct DistributeValidationTests {
    static let valid: NameService = {
        var spec = NameServiceSpec(
            fqdn: "checkout.g.example.com", policy: .locality,
            failover: [FailoverRule(from: "us-west", to: "us-east")],
            targets: [
                Target(name: "west", addresses: ["10.10.1.7"], locality: "us-west/us-west-1a"),
                Target(name: "east", addresses: ["10.20.1.7"], locality: "us-east/us-east-1a"),
                Target(name: "eu", addresses: ["10.30.1.7"], locality: "eu-central"),
            ])
        spec.distribute = [
            DistributeRule(from: "us-west/*", to: ["us-west/*": 99, "us-east/*": 1]),
            DistributeRule(from: "us-east/*", to: ["us-east/*": 70, "us-west/*": 20, "eu-central": 10]),
        ]
        spec.overprovisioningFactor = 1.4
        return NameService(metadata: ObjectMeta(name: "checkout"), spec: spec)
    }()

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let change: @Sendable (inout NameService) -> Void
        let expected: [String]
        init(_ name: String, _ expected: [String], _ change: @escaping @Sendable (inout NameService) -> Void) {
            self.name = name
            self.change = change
            self.expected = expected
        }
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case("valid as written", []) { _ in },
        Case("distribute and failover together are fine", []) { $0.spec.failover = [FailoverRule(from: "us-west", to: "eu-central")] },
        Case("a catch-all rule last is fine", []) {
            $0.spec.distribute.append(DistributeRule(from: "*", to: ["eu-central/*": 100]))
        },
        Case("not Locality", ["spec.distribute: only the Locality policy distributes by client locality (policy is Ratio)"]) {
            $0.spec.policy = .ratio
        },
        Case("weights must sum to 100", ["spec.distribute[0].to: the weights sum to 98; they must sum to 100 (percent, as Istio's distribute)"]) {
            $0.spec.distribute[0].to["us-west/*"] = 97
        },
        Case("weight out of range", ["spec.distribute[0].to[\"us-east/*\"]: weight -1 is outside 0...100 (percent of the client's traffic)"]) {
            $0.spec.distribute[0].to["us-east/*"] = -1
        },
        Case("to pattern matching no target", ["spec.distribute[0].to[\"ap-south/*\"]: matches no target's locality: the bucket would never answer"]) {
            $0.spec.distribute[0].to = ["us-west/*": 99, "ap-south/*": 1]
        },
        Case("to pattern shadowed by a more specific one",
             ["spec.distribute[0].to[\"us-west/*\"]: every target it matches is in a more specific pattern of this rule: the bucket would never answer"]) {
            $0.spec.distribute[0].to = ["us-west/*": 50, "us-west/us-west-1a/*": 49, "us-east/*": 1]
        },
        Case("the same pattern twice", ["spec.distribute[0].to[\"us-west/*\"]: is the same pattern as \"us-west\" (us-west/*): a target can be in one bucket only"]) {
            $0.spec.distribute[0].to = ["us-west": 50, "us-west/*": 49, "us-east/*": 1]
        },
        Case("bad patterns", [
            "spec.distribute[0].from: \"*/us-west-1a\": * is allowed only as the last segment (as Istio: us-west/*, not */us-west-1a)",
            "spec.distribute[0].to[\"us west/*\"]: \"us west/*\": the region holds a space, control character or *",
        ]) {
            $0.spec.distribute[0].from = "*/us-west-1a"
            $0.spec.distribute[0].to = ["us-west/*": 99, "us west/*": 1]
        },
        Case("missing from and to", [
            "spec.distribute[1].from: must name the client locality pattern (region[/zone[/subzone]], * for any part, \"*\" for every client)",
            "spec.distribute[1].to: needs at least one target locality pattern with a weight",
        ]) { $0.spec.distribute[1] = DistributeRule(from: "", to: [:]) },
        Case("a repeated from", ["spec.distribute[1].from: \"us-west\" repeats spec.distribute[0].from; the first matching rule applies, so this one never would"]) {
            $0.spec.distribute[1].from = "us-west"
        },
        Case("a rule behind a wider one", [
            "spec.distribute[1].from: \"us-west/us-west-1a/*\" is inside spec.distribute[0].from (\"us-west/*\"), which comes first and matches every client this rule would: it never applies",
        ]) { $0.spec.distribute[1].from = "us-west/us-west-1a/*" },
        Case("overprovisioningFactor below 1", ["spec.overprovisioningFactor: 0.5 is outside 1...100 (Envoy's default is 1.4; below 1 a fully healthy bucket would lose weight)"]) {
            $0.spec.overprovisioningFactor = 0.5
        },
        Case("overprovisioningFactor without rules", ["spec.overprovisioningFactor: only distribute rules use it; set spec.distribute or remove it"]) {
            $0.spec.distribute = []
        },
        Case("Fallback with addresses is fine", []) {
            $0.spec.allDown = .fallback
            $0.spec.fallback = FallbackSpec(addresses: ["192.0.2.99", "2001:db8::99"])
        },
        Case("Fallback with an fqdn is fine", []) {
            $0.spec.allDown = .fallback
            $0.spec.fallback = FallbackSpec(fqdn: "sorry.example.net")
        },
        Case("Fallback without fallback", ["spec.fallback: allDown Fallback needs spec.fallback (addresses or fqdn) to answer when every target is down"]) {
            $0.spec.allDown = .fallback
        },
        Case("an empty fallback", ["spec.fallback: needs addresses or fqdn: there is nothing to answer with when every target is down"]) {
            $0.spec.allDown = .fallback
            $0.spec.fallback = FallbackSpec()
        },
        Case("fallback without allDown Fallback", ["spec.fallback: is used only by allDown: Fallback (allDown is FailOpen); set it or remove the fallback"]) {
            $0.spec.fallback = FallbackSpec(addresses: ["192.0.2.99"])
        },
        Case("bad fallback addresses and fqdn", [
            "spec.fallback.addresses[0]: \"10.0.0.999\" is not an IPv4 or IPv6 address",
            "spec.fallback.addresses[1]: \"0.0.0.0\" is the unspecified address: not an address a client can connect to",
            "spec.fallback.addresses[3]: \"192.0.2.9\" repeats spec.fallback.addresses[2]",
            "spec.fallback.fqdn: \"*.example.net\" is not a host name: each label must be letters, digits and inner hyphens",
        ]) {
            $0.spec.allDown = .fallback
            $0.spec.fallback = FallbackSpec(addresses: ["10.0.0.999", "0.0.0.0", "192.0.2.9", "192.0.2.9"], fqdn: "*.example.net")
        },
    ]

    @Test(arguments: cases)
    func problems(_ c: Case) {
        var ns = Self.valid
        c.change(&ns)
        #expect(ns.validate().map(\.description) == c.expected)
    }

    @Test func everyProblemAtOnce() {
        var ns = Self.valid
        ns.spec.distribute[0].to["us-west/*"] = 97
        ns.spec.distribute[1].to["eu-central"] = 11
        ns.spec.overprovisioningFactor = 0
        #expect(ns.validate().map(\.field) == ["spec.distribute[0].to", "spec.distribute[1].to", "spec.overprovisioningFactor"])
    }

    @Test func theNewFieldsDecodeAndRoundTrip() throws {
        let json = """
        {"fqdn": "a.g.example.com", "policy": "Locality", "allDown": "Fallback",
         "distribute": [{"from": "us-west/*", "to": {"us-west/*": 99, "us-east/*": 1}}],
         "overprovisioningFactor": 2, "fallback": {"addresses": ["192.0.2.99"], "fqdn": "sorry.example.net"},
         "targets": []}
        """
        let spec = try JSONDecoder().decode(NameServiceSpec.self, from: Data(json.utf8))
        #expect(spec.distribute == [DistributeRule(from: "us-west/*", to: ["us-west/*": 99, "us-east/*": 1])])
        #expect(spec.overprovisioningFactor == 2 && spec.allDown == .fallback)
        #expect(spec.fallback == FallbackSpec(addresses: ["192.0.2.99"], fqdn: "sorry.example.net"))
        let again = try JSONDecoder().decode(NameServiceSpec.self, from: JSONEncoder().encode(spec))
        #expect(again == spec)
        // A spec without the new fields encodes as before: no distribute, fallback or factor keys.
        let plain = NameServiceSpec(fqdn: "a.g.example.com", targets: [])
        let text = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        #expect(!text.contains("distribute") && !text.contains("fallback") && !text.contains("overprovisioning"))
    }
}

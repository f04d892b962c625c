import DNSWire
@testable import GSLB
import Testing

/// Issue 12: what one NameService may hold is capped (configuration section `limits`), with the
/// field path and the key that raises it; past a count, the problem list stays bounded.
@Suite("Spec limits")
struct SpecLimitsTests {
    static func spec(targets: Int, addressesEach: Int = 1, rules: Int = 0) -> NameService {
        NameService(metadata: ObjectMeta(name: "big"), spec: NameServiceSpec(
            fqdn: "big.g.example.com", policy: .locality,
            failover: (0..<rules).map { FailoverRule(from: "r\($0)", to: "s\($0)") },
            targets: (0..<targets).map { i in
                Target(name: "t\(i)", addresses: (0..<addressesEach).map { j in "10.\(i / 256).\(i % 256).\(j)" })
            }))
    }

    @Test func theDefaultsAreTheDocumentedOnes() {
        let s = SpecLimits.standard
        #expect(s.maxTargetsPerNameService == 1000 && s.maxAddressesPerTarget == 64 && s.maxAddressesPerNameService == 1024)
        #expect(s.maxFailoverRules == 256 && s.maxLabels == 64 && s.maxLabelKeyBytes == 317 && s.maxLabelValueBytes == 63)
    }

    @Test func atTheLimitsIsValid() {
        // 1,000 targets, 1,024 addresses in all, 64 on one target, 256 rules, 64 labels at the sizes.
        var ns = Self.spec(targets: 1000, rules: 256)
        ns.spec.targets[0].addresses = (0..<64).map { "10.200.0.\($0)" }
        for i in 961..<1000 {
            ns.spec.targets[i].addresses = []
            ns.spec.targets[i].fqdn = "t\(i).example.net"
        }
        #expect(ns.spec.targets.reduce(0) { $0 + $1.addresses.count } == 1024)
        // keys as long as Kubernetes allows: a 253-character DNS-subdomain prefix, '/', a 63-character name
        let prefix = (0..<4).map { _ in String(repeating: "p", count: 62) }.joined(separator: ".") + ".p"
        ns.metadata.labels = Dictionary(uniqueKeysWithValues: (0..<64).map {
            let name = String(repeating: "k", count: 61) + String(format: "%02d", $0)
            return (prefix + "/" + name, String(repeating: "v", count: 63))
        })
        #expect(ns.metadata.labels.keys.allSatisfy { $0.utf8.count == 317 })
        #expect(ns.validate() == [])
    }

    @Test func pastEachLimitIsA422WithTheFieldAndTheKey() {
        #expect(Self.spec(targets: 1001).validate().map(\.description) == [
            "spec.targets: 1001 targets; at most 1000 are accepted (limits.maxTargetsPerNameService)",
        ])
        var perTarget = Self.spec(targets: 2)
        perTarget.spec.targets[1].addresses = (0..<65).map { "10.9.0.\($0)" }
        #expect(perTarget.validate().map(\.description) == [
            "spec.targets[1].addresses: 65 addresses; at most 64 are accepted per target (limits.maxAddressesPerTarget)",
        ])
        #expect(Self.spec(targets: 20, addressesEach: 52).validate().map(\.description) == [
            "spec.targets: 1040 addresses in all targets; at most 1024 are accepted (limits.maxAddressesPerNameService)",
        ])
        #expect(Self.spec(targets: 1, rules: 257).validate().map(\.description) == [
            "spec.failover: 257 rules; at most 256 are accepted (limits.maxFailoverRules)",
        ])
        var labels = Self.spec(targets: 1)
        labels.metadata.labels = Dictionary(uniqueKeysWithValues: (0..<65).map { ("k\($0)", "v") })
        #expect(labels.validate().map(\.description) == ["metadata.labels: 65 labels; at most 64 are accepted (limits.maxLabels)"])
        let longKey = String(repeating: "k", count: 318)
        labels.metadata.labels = [longKey: "v", "team": String(repeating: "v", count: 64), "": "x"]
        #expect(labels.validate().map(\.description) == [
            "metadata.labels: a label key must not be empty",
            "metadata.labels[\"\(String(repeating: "k", count: 60))...\"]: the key is 318 bytes; at most 317 are accepted (limits.maxLabelKeyBytes)",
            "metadata.labels[\"team\"]: the value is 64 bytes; at most 63 are accepted (limits.maxLabelValueBytes)",
        ])
    }

    /// Configured limits are the ones checked (the API and the reconciler pass the server's).
    @Test func theConfiguredLimitsApply() {
        var small = SpecLimits.standard
        small.maxTargetsPerNameService = 3
        small.maxAddressesPerTarget = 2
        small.maxAddressesPerNameService = 5
        small.maxFailoverRules = 0
        let ns = Self.spec(targets: 3, addressesEach: 2, rules: 1)
        #expect(ns.validate().isEmpty)
        #expect(ns.validate(limits: small).map(\.description) == [
            "spec.failover: 1 rules; at most 0 are accepted (limits.maxFailoverRules)",
            "spec.targets: 6 addresses in all targets; at most 5 are accepted (limits.maxAddressesPerNameService)",
        ])
        var raised = SpecLimits.standard
        raised.maxTargetsPerNameService = 2000
        raised.maxAddressesPerNameService = 2048
        #expect(Self.spec(targets: 1500).validate(limits: raised).isEmpty)
    }

    /// A flood past a count limit does not make a flood of problems: only the elements within the
    /// limit are checked one by one.
    @Test func problemsStayBoundedPastALimit() {
        var ns = Self.spec(targets: 50_000)
        for i in ns.spec.targets.indices { ns.spec.targets[i].addresses = ["bad"] }
        let problems = ns.validate()
        // The two counts, then the first 1,000 targets' bad address.
        #expect(problems.count == 2 + 1000)
        #expect(problems.prefix(2).map(\.field) == ["spec.targets", "spec.targets"])
        var rules = Self.spec(targets: 1, rules: 0)
        rules.spec.failover = Array(repeating: FailoverRule(from: "a", to: "a"), count: 100_000)
        #expect(rules.validate().count == 1 + 256)
    }
}

import Foundation
@testable import GSLB
import Testing

@Suite("NameService coding")
struct NameServiceCodingTests {
    static let issueExample = """
    {
      "apiVersion": "globaldns.io/v1alpha1",
      "kind": "NameService",
      "metadata": {"name": "checkout", "labels": {"team": "payments"}, "generation": 3, "resourceVersion": "1042"},
      "spec": {
        "fqdn": "checkout.g.example.com",
        "ttl": 30,
        "policy": "Locality",
        "maxAnswers": 2,
        "allDown": "FailClosed",
        "failover": [{"from": "us-west", "to": "us-east"}],
        "healthCheck": {"port": 443, "intervalSeconds": 4, "timeoutSeconds": 3, "failureThreshold": 3, "successThreshold": 1},
        "targets": [{
          "name": "lvs-us-west-1a",
          "addresses": ["10.10.1.7", "2001:db8::7"],
          "fqdn": "checkout.gw.us-west-1a.example.net",
          "locality": "us-west/us-west-1a",
          "ratio": 99
        }]
      },
      "status": {
        "observedGeneration": 3,
        "conditions": [
          {"type": "Accepted", "status": "True", "reason": "Valid", "message": "", "lastTransitionTime": "2025-01-31T12:00:00Z", "observedGeneration": 3},
          {"type": "Healthy", "status": "False", "reason": "TargetsDown", "message": "1 of 3 targets down", "lastTransitionTime": "2025-01-31T12:01:00Z", "observedGeneration": 3}
        ],
        "targets": [{"name": "lvs-us-west-1a", "address": "10.10.1.7", "healthy": false, "lastTransitionTime": "2025-01-31T12:01:00Z", "lastError": "connection refused"}]
      }
    }
    """

    func decode(_ json: String) throws -> NameService {
        try JSONDecoder().decode(NameService.self, from: Data(json.utf8))
    }

    @Test func decodesTheIssueExample() throws {
        let ns = try decode(Self.issueExample)
        #expect(ns.metadata == ObjectMeta(name: "checkout", labels: ["team": "payments"], generation: 3, resourceVersion: "1042"))
        #expect(ns.spec.policy == .locality)
        #expect(ns.spec.allDown == .failClosed)
        #expect(ns.spec.maxAnswers == 2)
        #expect(ns.spec.failover == [FailoverRule(from: "us-west", to: "us-east")])
        #expect(ns.spec.healthCheck == HealthCheckSpec(port: 443, intervalSeconds: 4, timeoutSeconds: 3, failureThreshold: 3,
                                                       successThreshold: 1))
        #expect(ns.spec.targets == [Target(name: "lvs-us-west-1a", addresses: ["10.10.1.7", "2001:db8::7"],
                                           fqdn: "checkout.gw.us-west-1a.example.net", locality: "us-west/us-west-1a", ratio: 99)])
        let status = try #require(ns.status)
        #expect(status.observedGeneration == 3)
        #expect(status.condition(.accepted)?.status == .true)
        #expect(status.condition(.healthy)?.reason == ConditionReason(rawValue: "TargetsDown"))
        #expect(status.targets.first?.lastError == "connection refused")
        #expect(ns.validate() == [])
    }

    @Test func roundTripsThroughJSON() throws {
        let ns = try decode(Self.issueExample)
        let again = try JSONDecoder().decode(NameService.self, from: JSONEncoder().encode(ns))
        #expect(again == ns)
    }

    @Test func encodesEnumsAsTheirWords() throws {
        let spec = NameServiceSpec(fqdn: "a.example.com", policy: .ratio, allDown: .failClosed, targets: [])
        let text = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(text.contains("\"policy\":\"Ratio\""))
        #expect(text.contains("\"allDown\":\"FailClosed\""))
    }

    @Test func missingFieldsTakeDefaults() throws {
        let ns = try decode("""
        {"apiVersion": "globaldns.io/v1alpha1", "kind": "NameService", "metadata": {"name": "web"},
         "spec": {"fqdn": "web.g.example.com", "healthCheck": {"port": 80}, "targets": [{"name": "a", "addresses": ["192.0.2.1"]}]}}
        """)
        #expect(ns.metadata == ObjectMeta(name: "web", labels: [:], generation: 0, resourceVersion: nil))
        #expect(ns.spec.ttl == 30)
        #expect(ns.spec.policy == .roundRobin)
        #expect(ns.spec.allDown == .failOpen)
        #expect(ns.spec.maxAnswers == nil)
        #expect(ns.spec.failover == [])
        // Timing left out stays left out (the server's configured defaults fill it in when compiled)
        // and is not written back.
        #expect(ns.spec.healthCheck == HealthCheckSpec(port: 80))
        #expect(ns.spec.healthCheck?.resolved(.standard) == HealthCheckSettings(
            port: 80, intervalSeconds: 4, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 1, initialDelaySeconds: 0))
        let custom = HealthCheckDefaults(intervalSeconds: 10, timeoutSeconds: 2, failureThreshold: 5, successThreshold: 2,
                                         initialDelaySeconds: 7)
        #expect(HealthCheckSpec(port: 80, timeoutSeconds: 1).resolved(custom) == HealthCheckSettings(
            port: 80, intervalSeconds: 10, timeoutSeconds: 1, failureThreshold: 5, successThreshold: 2, initialDelaySeconds: 7))
        #expect(String(decoding: try JSONEncoder().encode(HealthCheckSpec(port: 80)), as: UTF8.self) == #"{"port":80}"#)
        #expect(ns.spec.targets == [Target(name: "a", addresses: ["192.0.2.1"], fqdn: nil, locality: nil, ratio: 1)])
        #expect(ns.status == nil)
        #expect(ns.validate() == [])
    }

    @Test func anEmptyDocumentDecodesAndValidationSaysWhatIsMissing() throws {
        let ns = try decode("{}")
        #expect(ns.validate().map(\.field) == ["apiVersion", "kind", "metadata.name", "spec.fqdn", "spec.targets"])
    }

    @Test func unknownPolicyWordsDecodeSoValidationCanReportThem() throws {
        let ns = try decode("""
        {"apiVersion": "globaldns.io/v1alpha1", "kind": "NameService", "metadata": {"name": "web"},
         "spec": {"fqdn": "web.g.example.com", "policy": "roundrobin", "allDown": "Open", "targets": [{"name": "a", "addresses": ["192.0.2.1"]}]}}
        """)
        #expect(!ns.spec.policy.isKnown)
        #expect(ns.spec.policy.rawValue == "roundrobin")
        #expect(ns.validate().map(\.description) == [
            "spec.policy: unknown policy \"roundrobin\"; use RoundRobin, Ratio or Locality",
            "spec.allDown: unknown behaviour \"Open\"; use FailOpen, FailClosed or Fallback",
        ])
    }

    @Test(arguments: ["RoundRobin", "Ratio", "Locality"])
    func knownPolicyWords(_ word: String) {
        let kind = PolicyKind(rawValue: word)
        #expect(kind.isKnown)
        #expect(kind.rawValue == word)
        #expect(PolicyKind.known.contains(kind))
    }

    @Test func conditionStatusIsAClosedSet() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Condition.self, from: Data("""
            {"type": "Ready", "status": "Maybe", "reason": "X", "message": "", "lastTransitionTime": "", "observedGeneration": 1}
            """.utf8))
        }
    }

    @Test func setConditionKeepsTheTransitionTimeWhileTheStatusHolds() {
        var status = NameServiceStatus()
        let t0 = "2025-01-31T12:00:00Z", t1 = "2025-01-31T12:05:00Z"
        func healthy(_ s: ConditionStatus, _ reason: String, _ message: String = "", time: String, _ gen: Int64) -> Condition {
            Condition(type: .healthy, status: s, reason: ConditionReason(rawValue: reason), message: message,
                      lastTransitionTime: time, observedGeneration: gen)
        }
        var changed = status.setCondition(healthy(.true, "AllUp", time: t0, 1))
        #expect(changed)
        // Same status, new message and generation: updated, time kept.
        changed = status.setCondition(healthy(.true, "AllUp", "3 of 3 up", time: t1, 2))
        #expect(changed)
        #expect(status.condition(.healthy)?.lastTransitionTime == t0)
        #expect(status.condition(.healthy)?.observedGeneration == 2)
        // Nothing new: no change reported.
        changed = status.setCondition(healthy(.true, "AllUp", "3 of 3 up", time: t1, 2))
        #expect(!changed)
        // Status flips: time moves.
        changed = status.setCondition(healthy(.false, "TargetsDown", time: t1, 2))
        #expect(changed)
        #expect(status.condition(.healthy)?.lastTransitionTime == t1)
        #expect(status.conditions.count == 1)
    }
}

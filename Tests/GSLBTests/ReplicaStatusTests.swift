import Foundation
import GSLB
import Testing

/// `NameServiceStatus.merging`: how replicas sharing an etcd store write status side by side.
@Suite struct ReplicaStatusTests {
    static let t0 = "2025-01-31T12:00:00Z"
    static let t1 = "2025-01-31T12:05:00Z"

    /// One replica's own status: t1 at 192.0.2.1 and t2 at 192.0.2.2, with `down` unhealthy.
    static func view(generation: Int64 = 1, down: Set<String> = [], time: String = t0) -> NameServiceStatus {
        let targets = [("t1", "192.0.2.1"), ("t2", "192.0.2.2")].map { name, address in
            TargetStatus(name: name, address: address, healthy: !down.contains(name),
                         lastError: down.contains(name) ? "connection refused" : nil)
        }
        let healthy = down.isEmpty
        return NameServiceStatus(observedGeneration: generation, conditions: [
            Condition(type: .accepted, status: .true, reason: .valid, message: "ok", lastTransitionTime: time, observedGeneration: generation),
            Condition(type: .healthy, status: down.count == 2 ? .false : .true,
                      reason: ConditionReason(rawValue: healthy ? "AllTargetsHealthy" : "SomeTargetsDown"),
                      message: "\(2 - down.count)/2 targets healthy", lastTransitionTime: time, observedGeneration: generation),
        ], targets: targets)
    }

    @Test func aSingleReplicaKeepsItsOwnViewAndIsListed() {
        let merged = NameServiceStatus.merging(Self.view(), from: "a", into: nil, generation: 1)
        #expect(merged.replicas.map(\.replica) == ["a"])
        #expect(merged.conditions == Self.view().conditions)
        #expect(merged.targets == Self.view().targets)
    }

    @Test func replicasNeverOverwriteEachOther() {
        let afterA = NameServiceStatus.merging(Self.view(), from: "a", into: nil, generation: 1)
        let afterB = NameServiceStatus.merging(Self.view(), from: "b", into: afterA, generation: 1)
        let againA = NameServiceStatus.merging(Self.view(), from: "a", into: afterB, generation: 1)
        #expect(afterB.replicas.map(\.replica) == ["a", "b"])
        #expect(againA.replicas.map(\.replica) == ["a", "b"])
        // Agreeing replicas: the condition is the writer's.
        #expect(againA.condition(.healthy)?.reason.rawValue == "AllTargetsHealthy")
    }

    @Test func disagreementNamesWhichReplicaSeesWhichTargetDown() {
        let afterA = NameServiceStatus.merging(Self.view(), from: "a", into: nil, generation: 1)
        let merged = NameServiceStatus.merging(Self.view(down: ["t2"], time: Self.t1), from: "b", into: afterA, generation: 1)
        let healthy = merged.condition(.healthy)
        #expect(healthy?.status == .false)
        #expect(healthy?.reason == .someReplicasSeeTargetsDown)
        #expect(healthy?.message == "a sees every target healthy; b sees t2 192.0.2.2 down")
        // A target is healthy only where every replica sees it healthy; the error names who sees it down.
        #expect(merged.targets.map { $0.healthy } == [true, false])
        #expect(merged.targets[1].lastError == "b: connection refused")
        // Each replica's own view is kept as it wrote it.
        #expect(merged.replicas[1].targets[1].healthy == false)
        #expect(merged.replicas[0].targets[1].healthy == true)
        // Once they agree again, Healthy is True again and keeps no stale message.
        let healed = NameServiceStatus.merging(Self.view(time: Self.t1), from: "b", into: merged, generation: 1)
        #expect(healed.condition(.healthy)?.status == .true)
        #expect(healed.targets.allSatisfy { $0.healthy })
    }

    @Test func theSameTargetsDownEverywhereKeepsTheWritersCondition() {
        let afterA = NameServiceStatus.merging(Self.view(down: ["t1"]), from: "a", into: nil, generation: 1)
        let merged = NameServiceStatus.merging(Self.view(down: ["t1"]), from: "b", into: afterA, generation: 1)
        #expect(merged.condition(.healthy)?.reason.rawValue == "SomeTargetsDown")
        #expect(merged.targets[0].lastError == "a: connection refused; b: connection refused")
    }

    @Test func entriesForAnOlderSpecAreDroppedAndNotAggregated() {
        let old = NameServiceStatus.merging(Self.view(down: ["t1"]), from: "gone", into: nil, generation: 1)
        let merged = NameServiceStatus.merging(Self.view(generation: 2), from: "a", into: old, generation: 2)
        #expect(merged.replicas.map(\.replica) == ["a"])
        #expect(merged.condition(.healthy)?.status == .true)
    }

    @Test func aStatusWithoutReplicasEncodesAsBefore() throws {
        let json = String(decoding: try JSONEncoder().encode(Self.view()), as: UTF8.self)
        #expect(!json.contains("replicas"))
    }
}

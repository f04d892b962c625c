import DNSServer
import DNSWire
import GSLB
import NameServiceStore
import Reconciler
import Testing

/// Operator drains through the reconciler: a drained target is never a candidate, whatever its
/// probes say; status shows who drained it and until when; an expired drain lifts itself (answers
/// come back and the drain leaves the store); a controller's spec write keeps the drains.
@Suite struct DrainTests {
    typealias H = HealthTests

    func drain(_ target: String, until: WallTime? = nil, by: String = "alice") -> TargetDrain {
        TargetDrain(target: target, reason: "kernel upgrade", by: by, since: .now, until: until)
    }

    @Test func aDrainedTargetIsNotAnsweredAndStatusSaysWhoAndWhy() async throws {
        try await HealthTests().withProbedHarness { h, prober in
            _ = try await h.store.put(H.probed("svc", fqdn: "svc.g.example.com"), ifVersion: nil)
            try await h.eventually("served") { try h.addresses("svc.g.example.com.") == ["10.0.0.1", "10.0.0.2"] }
            let until = WallTime.now + .seconds(3600)
            _ = try await h.store.updateDrains("svc", drains: [drain("b", until: until)], ifVersion: nil)
            try await h.eventually("b out") { try h.addresses("svc.g.example.com.") == ["10.0.0.1"] }
            #expect(try h.addresses("svc.g.example.com.", .aaaa).isEmpty, "b's IPv6 address is drained too")
            try await h.eventually("status") { try await h.condition("svc", .healthy)?.reason.rawValue == "SomeTargetsDrained" }
            let status = try #require(try await h.store.get("svc")?.status)
            let b = status.targets.filter { $0.name == "b" }
            #expect(b.count == 2 && b.allSatisfy { $0.drain?.by == "alice" && $0.drain?.until == until })
            #expect(status.targets.first { $0.name == "a" }?.drain == nil)
            #expect(status.condition(.healthy)?.message.contains("drained: b (kernel upgrade (by alice, until \(until.rfc3339)))") == true)
            // Still probed while drained, so the verdict is current when the drain lifts.
            #expect(await prober.targets.contains(H.key("10.0.0.2")))

            // A controller re-applying its spec keeps the drain.
            var respec = H.probed("svc", fqdn: "svc.g.example.com")
            respec.spec.ttl = 45
            _ = try await h.store.put(respec, ifVersion: nil)
            try await h.eventually("new ttl") { try h.ask("svc.g.example.com.", .a).answers.first?.ttl == 45 }
            #expect(try h.addresses("svc.g.example.com.") == ["10.0.0.1"])

            // Undrained: back at once.
            let current = try #require(try await h.store.get("svc"))
            _ = try await h.store.updateDrains("svc", drains: [], ifVersion: current.metadata.resourceVersion)
            try await h.eventually("b back") { try h.addresses("svc.g.example.com.") == ["10.0.0.1", "10.0.0.2"] }
            try await h.eventually("healthy") { try await h.condition("svc", .healthy)?.reason.rawValue == "AllTargetsHealthy" }
        }
    }

    @Test func aDrainedTargetIsNotAnsweredEvenWhenEveryOtherIsDownUnderFailOpen() async throws {
        try await HealthTests().withProbedHarness { h, _ in
            _ = try await h.store.put(H.probed("svc", fqdn: "svc.g.example.com", allDown: .failOpen), ifVersion: nil)
            try await h.eventually("served") { try h.addresses("svc.g.example.com.").count == 2 }
            _ = try await h.store.updateDrains("svc", drains: [drain("a")], ifVersion: nil)
            for a in ["10.0.0.2", "2001:db8::2"] {
                await h.reconciler.healthChanged(H.key(a), HealthReport(healthy: false, lastError: "connection refused"))
            }
            // b is down and a drained: FailOpen answers b (as if healthy), never the drained a.
            try await h.eventually("fail open over undrained") { try h.addresses("svc.g.example.com.") == ["10.0.0.2"] }
            try await h.eventually("AllTargetsDown") { try await h.condition("svc", .healthy)?.reason.rawValue == "AllTargetsDown" }
            let message = try #require(try await h.condition("svc", .healthy)?.message)
            #expect(message.contains("every undrained target were healthy"), "\(message)")

            // Everything drained: NODATA, and the status says so.
            _ = try await h.store.updateDrains("svc", drains: [drain("a"), drain("b")], ifVersion: nil)
            try await h.eventually("nothing answered") { try h.addresses("svc.g.example.com.").isEmpty }
            #expect(try h.ask("svc.g.example.com.", .a).rcode == .noError)
            try await h.eventually("all drained") {
                try await h.condition("svc", .healthy)?.message.contains("every target is drained") == true
            }
        }
    }

    @Test func anExpiredDrainLiftsItselfAndLeavesTheStore() async throws {
        try await HealthTests().withProbedHarness { h, _ in
            _ = try await h.store.put(H.probed("svc", fqdn: "svc.g.example.com"), ifVersion: nil)
            try await h.eventually("served") { try h.addresses("svc.g.example.com.").count == 2 }
            let keep = drain("b")
            // Long enough to see both out even on a loaded machine; a's return is timed from its expiry.
            let expiry = ContinuousClock.now + .seconds(3)
            _ = try await h.store.updateDrains("svc", drains: [drain("a", until: .now + .seconds(3)), keep], ifVersion: nil)
            try await h.eventually("both out") { try h.addresses("svc.g.example.com.").isEmpty }
            try await h.eventually("a back by itself", within: .seconds(10)) { try h.addresses("svc.g.example.com.") == ["10.0.0.1"] }
            #expect(ContinuousClock.now >= expiry - .milliseconds(50), "a came back before its drain expired")
            #expect(ContinuousClock.now - expiry < .seconds(2), "a came back late")
            try await h.eventually("expired drain removed, the other kept") { try await h.store.get("svc")?.drains == [keep] }
            // An already expired drain written later counts for nothing.
            _ = try await h.store.updateDrains("svc", drains: [drain("a", until: .now - .seconds(1)), keep], ifVersion: nil)
            try await h.eventually("cleaned") { try await h.store.get("svc")?.drains == [keep] }
            #expect(try h.addresses("svc.g.example.com.") == ["10.0.0.1"])
        }
    }
}

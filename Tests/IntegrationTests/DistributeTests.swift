import Foundation
import Testing

/// Issue 15 end to end: a Locality name with `distribute` rules answered to dig clients by ECS,
/// a drain of the local bucket, the explain answer, describe, a 422 with its field path, and
/// `allDown: Fallback` with live health checks.
extension IntegrationSuite {
    @Suite("Locality distribute") struct Distribute {
        /// us-west clients: 80 % us-west, 20 % us-east (wide enough to see both in 200 queries).
        static let dist = """
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata: {name: dist}
            spec:
              fqdn: dist.g.example.com
              ttl: 5
              policy: Locality
              distribute:
              - from: "us-west/*"
                to: {"us-west/*": 80, "us-east/*": 20}
              failover: [{from: us-east, to: eu-central}]
              targets:
              - {name: w1, addresses: [192.0.2.10], locality: us-west/us-west-1a}
              - {name: w2, addresses: [192.0.2.11], locality: us-west/us-west-1a}
              - {name: e1, addresses: [192.0.2.20], locality: us-east/us-east-1a}
              - {name: eu, addresses: [192.0.2.30], locality: eu-central/eu-central-1a}

            """

        func options() throws -> GlobalDNSOptions {
            var o = try GlobalDNSOptions()
            o.extraConfig = GSLBAnswering.config
            return o
        }

        /// `count` queries in one dig run (`+subnet` applies to all); the first answer of each.
        func answers(_ server: RunningServer, _ name: String, _ subnet: String, count: Int) async throws -> [String] {
            let args = ["+subnet=\(subnet)"] + Array(repeating: [name, "A"], count: count).flatMap { $0 }
            let out = try await server.querier.run(.dig, args, timeout: .seconds(60))
            return out.messages.map { m in m.answer.map(\.rdata).sorted().joined(separator: ",") }
        }

        func waitForOnly(_ server: RunningServer, _ name: String, _ subnet: String, _ expected: String,
                         within: Duration = .seconds(5)) async throws {
            let deadline = ContinuousClock.now + within
            var last: [String] = []
            while ContinuousClock.now < deadline {
                last = try await answers(server, name, subnet, count: 20)
                if last.count == 20 && last.allSatisfy({ $0 == expected }) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw HarnessError("\(name) +subnet=\(subnet): expected only \(expected), got \(last)\n\(server.log)")
        }

        @Test("us-west clients split 80/20 with one bucket per reply; draining the local bucket moves them all to us-east; explain and describe show the rule")
        func splitDrainAndExplain() async throws {
            try await withGlobalDNS(try options()) { server in
                let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/dist", yaml: Self.dist)
                #expect(code / 100 == 2, "PUT: HTTP \(code)")
                // A us-east client has no rule: its own region only.
                try await waitForOnly(server, "dist.g.example.com", "10.20.0.0/16", "192.0.2.20")

                let replies = try await answers(server, "dist.g.example.com", "10.10.1.0/24", count: 200)
                #expect(replies.count == 200)
                let local = replies.filter { $0 == "192.0.2.10,192.0.2.11" }.count
                let remote = replies.filter { $0 == "192.0.2.20" }.count
                #expect(local + remote == 200, "every reply is one whole bucket: \(Set(replies))")
                // 20 % of 200 is 40 (sd 5.7): 10...90 is more than five deviations either side.
                #expect(remote >= 10 && remote <= 90, "remote share \(remote)/200")
                let scoped = try await server.querier.query("dist.g.example.com", "A", ["+subnet=10.10.1.0/24"])
                #expect(scoped.edns?.clientSubnet == "10.10.1.0/24/16", "Locality's scope: the matched /16")

                let explained = try await server.querier.run(.dig, ["dist.g.example.com", "CH", "TXT", "+subnet=10.10.0.0/16"])
                for part in ["\"tier=distribute[0]\"", "\"distribute=spec.distribute[0] from=us-west/*\"",
                             "\"bucket=us-west/* weight=80 healthy=2/2 effective=80 share=80%\"",
                             "\"bucket=us-east/* weight=20 healthy=1/1 effective=20 share=20%\"", "\"drawn=us-"] {
                    #expect(explained.text.contains(part), "missing \(part) in \(explained.text)")
                }

                let ctl = try TestEnvironment.executableNextToTests("globaldnsctl")
                let describe = try await runCommand(ctl, ["describe", "--server", server.apiURL, "dist"], scratch: server.scratch)
                #expect(describe.stdout.contains("Distribute:       us-west/* -> us-east/* 20%, us-west/* 80%"), "\(describe.stdout)")

                // Drain the local bucket: every us-west reply goes to us-east.
                for t in ["w1", "w2"] {
                    let r = try await runCommand(ctl, ["drain", "--server", server.apiURL, "dist", t, "--reason", "bucket drain", "--for", "1h"],
                                                 scratch: server.scratch)
                    #expect(r.exitCode == 0, "\(r.stderr)")
                }
                try await waitForOnly(server, "dist.g.example.com", "10.10.1.0/24", "192.0.2.20")
                let drained = try await answers(server, "dist.g.example.com", "10.10.1.0/24", count: 100)
                #expect(drained.count == 100 && drained.allSatisfy { $0 == "192.0.2.20" }, "\(Set(drained))")
                let after = try await server.querier.run(.dig, ["dist.g.example.com", "CH", "TXT", "+subnet=10.10.0.0/16"])
                #expect(after.text.contains("\"bucket=us-east/* weight=20 healthy=1/1 effective=20 share=100%\""), "\(after.text)")
                #expect(after.text.contains("\"drawn=us-east/*\""), "\(after.text)")
            }
        }

        @Test("a distribute rule whose weights do not sum to 100 or whose bucket holds no target is a 422 naming each field")
        func invalidRulesAre422() async throws {
            try await withGlobalDNS(try options()) { server in
                let bad = Self.dist.replacingOccurrences(of: "{\"us-west/*\": 80, \"us-east/*\": 20}",
                                                         with: "{\"us-west/*\": 80, \"ap-south/*\": 10}")
                let r = try httpCall(port: server.apiPort, method: "PUT", path: "/v1/nameservices/dist", body: bad)
                #expect(r.status == 422, "\(r.body)")
                #expect(r.body.contains("spec.distribute[0].to"), "\(r.body)")
                #expect(r.body.contains("the weights sum to 90"), "\(r.body)")
                #expect(r.body.contains("ap-south/*") && r.body.contains("matches no target's locality"), "\(r.body)")
                let typo = Self.dist.replacingOccurrences(of: "  distribute:", with: "  distribut:")
                let t = try httpCall(port: server.apiPort, method: "PUT", path: "/v1/nameservices/dist", body: typo)
                #expect(t.status == 422 && t.body.contains("spec.distribut"), "strict fields know distribute: \(t.body)")
            }
        }

        @Test("allDown Fallback answers spec.fallback while every probed target is down, Healthy says so, and the targets return")
        func fallbackWhileEverythingIsDown() async throws {
            let port = try TestEnvironment.freePort()
            let a = try LoopbackListener(address: "127.0.0.31", port: port, accepting: true)
            let b = try LoopbackListener(address: "127.0.0.32", port: port, accepting: true)
            defer { a.stop(); b.stop() }
            try await withGlobalDNS(try options()) { server in
                let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/backup", yaml: """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: backup}
                    spec:
                      fqdn: backup.g.example.com
                      ttl: 5
                      policy: Locality
                      allDown: Fallback
                      fallback: {addresses: [127.0.0.99]}
                      healthCheck: {port: \(port), intervalSeconds: 1, timeoutSeconds: 0.5, failureThreshold: 1, successThreshold: 1}
                      targets:
                      - {name: a, addresses: [127.0.0.31], locality: us-west/us-west-1a}
                      - {name: b, addresses: [127.0.0.32], locality: us-east/us-east-1a}

                    """)
                #expect(code / 100 == 2)
                try await waitForOnly(server, "backup.g.example.com", "10.10.1.0/24", "127.0.0.31")
                a.stop()
                b.stop()
                try await waitForOnly(server, "backup.g.example.com", "10.10.1.0/24", "127.0.0.99", within: .seconds(10))
                let ctl = try TestEnvironment.executableNextToTests("globaldnsctl")
                // The status is written after the answer changes: wait for it, bounded.
                let deadline = ContinuousClock.now + .seconds(10)
                var text = ""
                while ContinuousClock.now < deadline {
                    text = try await runCommand(ctl, ["describe", "--server", server.apiURL, "backup"], scratch: server.scratch).stdout
                    if text.contains("allDown Fallback: answering spec.fallback") { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(text.contains("allDown Fallback: answering spec.fallback (1 address(es))"), "\(text)")
                let explained = try await server.querier.run(.dig, ["backup.g.example.com", "CH", "TXT"])
                #expect(explained.text.contains("mode=all down, fallback"), "\(explained.text)")
                try a.listen()
                try await waitForOnly(server, "backup.g.example.com", "10.10.1.0/24", "127.0.0.31", within: .seconds(10))
            }
        }
    }
}

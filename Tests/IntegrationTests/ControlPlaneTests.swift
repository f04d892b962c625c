import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The control plane end to end, with the real binaries: `globaldnsctl` against the server's API,
/// `dig` against its DNS, and `kill -9` against its store.
extension IntegrationSuite {
    @Suite("Control plane") struct ControlPlane {
        static func manifest(name: String, fqdn: String, addresses: [String]) -> String {
            """
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata:
              name: \(name)
              labels: {team: payments}
            spec:
              fqdn: \(fqdn)
              ttl: 30
              policy: RoundRobin
              targets:
              - name: gw-a
                addresses: [\(addresses.map { "\"\($0)\"" }.joined(separator: ", "))]
                locality: us-west/us-west-1a

            """
        }

        /// Polls `dig +short` until it prints exactly `expected` (sorted), bounded.
        func eventuallyAnswers(_ server: RunningServer, _ name: String, _ type: String, _ expected: [String],
                               within: Duration = .seconds(3)) async throws {
            let deadline = ContinuousClock.now + within
            var last: [String] = []
            while ContinuousClock.now < deadline {
                let out = try await server.querier.run(.dig, [name, type, "+short"])
                last = out.text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") }.sorted()
                if last == expected.sorted() { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw HarnessError("\(name) \(type): expected \(expected.sorted()), dig printed \(last)\n\(server.log)")
        }

        @Test("globaldnsctl apply / update / delete, seen by dig; an invalid FQDN shows Accepted=False")
        func applyUpdateDelete() async throws {
            try await withGlobalDNS { server in
                let file = server.scratch.appendingPathComponent("checkout.yaml")
                try Self.manifest(name: "checkout", fqdn: "checkout.g.example.com", addresses: ["192.0.2.10", "2001:db8::10"])
                    .write(to: file, atomically: true, encoding: .utf8)
                var r = try await ctl(server, ["apply", "-f", file.path])
                #expect(r.exitCode == 0, "\(r.stderr)")
                #expect(r.stdout.contains("nameservice/checkout created"))
                try await eventuallyAnswers(server, "checkout.g.example.com", "A", ["192.0.2.10"])
                try await eventuallyAnswers(server, "checkout.g.example.com", "AAAA", ["2001:db8::10"])

                // Update: dig sees the change.
                try Self.manifest(name: "checkout", fqdn: "checkout.g.example.com", addresses: ["192.0.2.11", "192.0.2.12"])
                    .write(to: file, atomically: true, encoding: .utf8)
                r = try await ctl(server, ["apply", "-f", file.path])
                #expect(r.stdout.contains("nameservice/checkout configured"), "\(r.stdout)\(r.stderr)")
                try await eventuallyAnswers(server, "checkout.g.example.com", "A", ["192.0.2.11", "192.0.2.12"])
                // No AAAA any more: NODATA, not NXDOMAIN.
                let aaaa = try await server.querier.query("checkout.g.example.com.", "AAAA")
                #expect(aaaa.status == "NOERROR" && aaaa.records(.answer).isEmpty)

                r = try await ctl(server, ["get"])
                #expect(r.stdout.contains("checkout") && r.stdout.contains("checkout.g.example.com"), "\(r.stdout)")

                // Delete: NXDOMAIN.
                r = try await ctl(server, ["delete", "checkout"])
                #expect(r.exitCode == 0, "\(r.stderr)")
                let deadline = ContinuousClock.now + .seconds(3)
                var status = ""
                while ContinuousClock.now < deadline {
                    status = try await server.querier.query("checkout.g.example.com.", "A").status
                    if status == "NXDOMAIN" { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(status == "NXDOMAIN")

                // An FQDN outside every served zone is stored but not accepted, and says why.
                let bad = server.scratch.appendingPathComponent("elsewhere.yaml")
                try Self.manifest(name: "elsewhere", fqdn: "shop.other.example", addresses: ["192.0.2.30"])
                    .write(to: bad, atomically: true, encoding: .utf8)
                r = try await ctl(server, ["apply", "-f", bad.path])
                #expect(r.exitCode == 0, "\(r.stderr)")
                var described = ""
                let until = ContinuousClock.now + .seconds(3)
                while ContinuousClock.now < until {
                    described = try await ctl(server, ["describe", "elsewhere"]).stdout
                    if described.contains("OutsideZones") { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let acceptedLine = described.split(separator: "\n").first { $0.contains("Accepted") } ?? ""
                #expect(acceptedLine.contains("False") && acceptedLine.contains("OutsideZones"), "\(described)")
            }
        }

        @Test("an unprivileged user serves DNS over UDP and TCP and drives the API with globaldnsctl")
        func unprivileged() async throws {
            var options = try GlobalDNSOptions()
            options.unprivileged = true
            try await withGlobalDNS(options) { server in
                // TCP accepts with only the options an ordinary user may set (TCP_NODELAY at the
                // TCP level, not SO_DEBUG at the socket level).
                let tcp = try await server.querier.query("www.g.example.com.", "A", client: .dig, transport: .tcp)
                #expect(tcp.status == "NOERROR" && !tcp.records(.answer).isEmpty, "\(server.log)")
                let udp = try await server.querier.query("www.g.example.com.", "A")
                #expect(udp.status == "NOERROR" && !udp.records(.answer).isEmpty)
                let file = server.scratch.appendingPathComponent("np.yaml")
                try Self.manifest(name: "np", fqdn: "np.g.example.com", addresses: ["192.0.2.77"])
                    .write(to: file, atomically: true, encoding: .utf8)
                chmod(file.path, 0o644)
                var ctl = try TestEnvironment.executableNextToTests("globaldnsctl")
                var prefix: [String] = []
                if getuid() == 0 {
                    ctl = try TestEnvironment.worldExecutableCopy(of: ctl, in: server.scratch)
                    prefix = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", ctl]
                    ctl = try findTool("setpriv")
                }
                let r = try await runCommand(ctl, prefix + ["apply", "--server", server.apiURL, "-f", file.path],
                                             scratch: server.scratch)
                #expect(r.exitCode == 0, "\(r.stdout)\(r.stderr)")
                try await eventuallyAnswers(server, "np.g.example.com", "A", ["192.0.2.77"])
            }
        }

        /// Issue 14: the older claim on an FQDN keeps it across a restart (the claim order is the
        /// stored creation revision, not the order a relist sees), and so does a NameService that
        /// targets that FQDN.
        @Test("two claims on one FQDN: the older one keeps it after a restart, and a target following it too")
        func claimOrderSurvivesARestart() async throws {
            let state = try TestEnvironment.makeScratchDirectory("state")
            defer { TestEnvironment.removeScratch(state) }
            var options = try GlobalDNSOptions()
            options.stateDirectory = state
            let follower = """
                apiVersion: globaldns.io/v1alpha1
                kind: NameService
                metadata: {name: follower}
                spec:
                  fqdn: follower.g.example.com
                  targets:
                  - {name: app, fqdn: app.g.example.com}

                """
            func check(_ server: RunningServer) async throws {
                try await eventuallyAnswers(server, "app.g.example.com", "A", ["192.0.2.9"])
                try await eventuallyAnswers(server, "follower.g.example.com", "A", ["192.0.2.9"])
                try await eventually("alpha's status names zeta as the older claim", within: .seconds(10)) {
                    let status = try httpCall(port: server.apiPort, method: "GET", path: "/v1/nameservices/alpha/status").body
                    return status.contains("ClashesWithNameService") && status.contains("NameService zeta (the older claim")
                }
            }
            try await withGlobalDNS(options) { server in
                // zeta first, then alpha: alpha sorts first, which is what a restart used to pick
                for (name, address) in [("zeta", "192.0.2.9"), ("alpha", "192.0.2.1")] {
                    let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/\(name)",
                                           yaml: Self.manifest(name: name, fqdn: "app.g.example.com", addresses: [address]))
                    #expect(code == 201)
                }
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/follower", yaml: follower) == 201)
                try await check(server)
                // alpha changes (a newer revision, the same creation revision): still second
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/alpha",
                                    yaml: Self.manifest(name: "alpha", fqdn: "app.g.example.com", addresses: ["192.0.2.2"])) == 200)
            }
            for _ in 0..<2 {
                try await withGlobalDNS(options) { server in try await check(server) }
            }
        }

        @Test("kill -9 during a write loop loses no acknowledged write")
        func killDuringWrites() async throws {
            let state = try TestEnvironment.makeScratchDirectory("state")
            defer { TestEnvironment.removeScratch(state) }
            var options = try GlobalDNSOptions()
            options.stateDirectory = state
            var acknowledged: [String] = []
            try await withGlobalDNS(options) { server in
                let killAfter = Duration.milliseconds(Int.random(in: 300...1200))
                let started = ContinuousClock.now
                var i = 0
                while ContinuousClock.now - started < killAfter {
                    let name = "w\(i)"
                    let body = Self.manifest(name: name, fqdn: "\(name).g.example.com", addresses: ["192.0.2.\(i % 250 + 1)"])
                    if try httpPut(port: server.apiPort, path: "/v1/nameservices/\(name)", yaml: body) / 100 == 2 {
                        acknowledged.append(name)
                    }
                    i += 1
                }
                server.process.send(signal: SIGKILL)
                _ = await server.process.waitForExit(timeout: .seconds(5))
            }
            #expect(acknowledged.count > 5, "the loop wrote too little to test anything")
            // Restart on the same store: every acknowledged write is there and answered.
            try await withGlobalDNS(options) { server in
                let r = try await ctl(server, ["get", "-o", "json"])
                for name in acknowledged {
                    #expect(r.stdout.contains("\"\(name)\""), "lost acknowledged write \(name)")
                }
                let last = acknowledged.last!
                try await eventuallyAnswers(server, "\(last).g.example.com", "A",
                                            ["192.0.2.\((Int(last.dropFirst())! % 250) + 1)"])
            }
        }
    }
}

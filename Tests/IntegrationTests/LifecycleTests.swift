import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A small zone whose one answer changes between versions, for the reload tests.
func reloadZone(serial: Int, address: String, extra: String = "") -> String {
    """
    $ORIGIN reload.example.
    $TTL 300
    @    IN SOA ns1 hostmaster \(serial) 7200 3600 1209600 300
    @    IN NS  ns1
    ns1  IN A   192.0.2.53
    v    IN A   \(address)
    \(extra)
    """
}

/// Line 6 holds an invalid IPv4 address.
let brokenZone = """
    $ORIGIN broken.example.
    $TTL 300
    @    IN SOA ns1 hostmaster 1 7200 3600 1209600 300
    @    IN NS  ns1
    ns1  IN A   192.0.2.53
    www  IN A   192.0.2.999
    ok   IN A   192.0.2.1

    """

extension IntegrationSuite {
    @Suite("Process lifecycle")
    struct Lifecycle {
        @Test("a broken zone makes the server exit non-zero naming file:line")
        func brokenZoneAtStartup() async throws {
            let scratch = try TestEnvironment.makeScratchDirectory("broken")
            defer { TestEnvironment.removeScratch(scratch) }
            let zones = scratch.appendingPathComponent("zones")
            try writeZones(["broken.example.zone": brokenZone], to: zones)
            let port = try TestEnvironment.freePort()
            let process = try ChildProcess(
                name: "globaldns", executable: try TestEnvironment.globalDNSExecutable(),
                arguments: ["--zones", zones.path, "--dns-listen", "127.0.0.1:\(port)"], logDirectory: scratch)
            let code = await process.waitForExit(timeout: .seconds(30))
            await process.stop()  // only does something if it is still running
            #expect(code != nil, "globaldns still running 30 s after start with a broken zone")
            #expect(code != 0, "exit code \(code.map(String.init) ?? "none") with a broken zone")
            #expect(process.stderr.contains("broken.example.zone:6"),
                    "stderr does not name broken.example.zone:6:\n\(process.stderr)")
        }

        @Test("SIGHUP keeps the old zone when the new one is broken and loads a fixed one")
        func reloadOnSIGHUP() async throws {
            let fixture = try String(contentsOf: TestEnvironment.fixtureZone, encoding: .utf8)
            let options = try GlobalDNSOptions(zones: [
                Fixture.zoneFileName: fixture,
                "reload.example.zone": reloadZone(serial: 1, address: "192.0.2.1"),
            ])
            try await withGlobalDNS(options) { server in
                let q = server.querier
                func address(_ name: String = "v.reload.example.") async throws -> [String] {
                    try await q.query(name, "A", ["+norec"]).answer.map(\.rdata)
                }
                #expect(try await address() == ["192.0.2.1"], "before any reload\n\(server.log)")

                // broken: the server keeps serving version 1
                let file = server.zoneDirectory.appendingPathComponent("reload.example.zone")
                try (reloadZone(serial: 2, address: "192.0.2.2") + "bad  IN A 300.1.1.1\n")
                    .write(to: file, atomically: true, encoding: .utf8)
                server.process.send(signal: SIGHUP)
                try await Task.sleep(for: .seconds(2))
                #expect(server.process.isRunning, "globaldns exited on SIGHUP with a broken zone:\n\(server.log)")
                #expect(try await address() == ["192.0.2.1"], "after SIGHUP with a broken zone\n\(server.log)")
                #expect(try await address("www.g.example.com.").count == 2, "other zone lost\n\(server.log)")

                // fixed: version 3 appears (poll, bounded)
                try reloadZone(serial: 3, address: "192.0.2.3", extra: "new  IN A   192.0.2.33")
                    .write(to: file, atomically: true, encoding: .utf8)
                server.process.send(signal: SIGHUP)
                let deadline = ContinuousClock.now + .seconds(15)
                var seen = try await address()
                while seen != ["192.0.2.3"] && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                    seen = try await address()
                }
                #expect(seen == ["192.0.2.3"], "15 s after SIGHUP with a fixed zone\n\(server.log)")
                #expect(try await address("new.reload.example.") == ["192.0.2.33"])
                #expect(try await address("www.g.example.com.").count == 2)
            }
        }

        @Test("SIGHUP with no zone file in the directory (mid-deploy) keeps serving every zone")
        func reloadWithNoZoneFileIsRefused() async throws {
            let fixture = try String(contentsOf: TestEnvironment.fixtureZone, encoding: .utf8)
            let options = try GlobalDNSOptions(zones: [
                Fixture.zoneFileName: fixture,
                "reload.example.zone": reloadZone(serial: 1, address: "192.0.2.1"),
            ])
            try await withGlobalDNS(options) { server in
                let q = server.querier
                #expect(try await q.query("v.reload.example.", "A", ["+norec"]).answer.map(\.rdata) == ["192.0.2.1"])
                for name in try FileManager.default.contentsOfDirectory(atPath: server.zoneDirectory.path) where name.hasSuffix(".zone") {
                    try FileManager.default.removeItem(at: server.zoneDirectory.appendingPathComponent(name))
                }
                server.process.send(signal: SIGHUP)
                try await IntegrationTests.eventually("the refusal is logged", within: .seconds(10)) {
                    server.log.contains("zone reload refused")
                }
                #expect(server.process.isRunning)
                let v = try await q.query("v.reload.example.", "A", ["+norec"])
                #expect(v.answer.map(\.rdata) == ["192.0.2.1"], "after SIGHUP with no zone file\n\(server.log)")
                #expect(try await q.query("www.g.example.com.", "A", ["+norec"]).answer.count == 2, "other zone lost\n\(server.log)")
                #expect(server.log.contains("no zone file found"), "\(server.log)")
            }
        }

        @Test("SIGHUP rotates the API tokens: a rewritten token file takes effect and the old secret gets 401")
        func tokenRotationOnSIGHUP() async throws {
            let secrets = try TestEnvironment.makeScratchDirectory("tokens")
            defer { TestEnvironment.removeScratch(secrets) }
            let file = secrets.appendingPathComponent("ci.token")
            let old = "0123456789abcdef-old-secret", new = "0123456789abcdef-new-secret"
            try (old + "\n").write(to: file, atomically: true, encoding: .utf8)
            var options = try GlobalDNSOptions()
            options.apiConfig = ["tokens:", "  ci: {file: \(file.path)}"]
            try await withGlobalDNS(options) { server in
                func put(_ token: String) throws -> Int {
                    try httpRequest(port: server.apiPort, method: "PUT", path: "/v1/nameservices/rotated",
                                    headers: ["Content-Type": "application/yaml", "Authorization": "Bearer \(token)"],
                                    body: Array("""
                                        apiVersion: globaldns.io/v1alpha1
                                        kind: NameService
                                        metadata: {name: rotated}
                                        spec:
                                          fqdn: rotated.g.example.com
                                          targets: [{name: a, addresses: [192.0.2.90]}]

                                        """.utf8)).status
                }
                #expect(try put(old) / 100 == 2)
                #expect(try put(new) == 401)

                try (new + "\n").write(to: file, atomically: true, encoding: .utf8)
                server.process.send(signal: SIGHUP)
                try await IntegrationTests.eventually("the new token is accepted", within: .seconds(10)) { try put(new) / 100 == 2 }
                #expect(try put(old) == 401)
                #expect(server.log.contains("api tokens replaced"), "\(server.log)")
                #expect(!server.log.contains("0123456789abcdef"), "a secret was logged:\n\(server.log)")
            }
        }

        @Test("the server starts from a --config file: listeners, identity, zone directory")
        func configFile() async throws {
            let options = try GlobalDNSOptions(viaConfigFile: true)
            try await withGlobalDNS(options) { server in
                for querier in [server.querier, server.querierIPv6] {
                    let message = try await querier.query("www.g.example.com.", "A", ["+norec", "+nsid"])
                    expectAnswer(message, standardCases[0], via: "dig @\(querier.server) (config file)")
                    #expect(message.edns?.nsid == Fixture.identity, "\(message)")
                }
            }
        }

        @Test("SIGTERM stops the server promptly with exit code 0")
        func sigtermStops() async throws {
            try await withGlobalDNS { server in
                server.process.send(signal: SIGTERM)
                let code = await server.process.waitForExit(timeout: .seconds(10))
                #expect(code == 0, "exit code after SIGTERM: \(code.map(String.init) ?? "still running after 10 s")\n\(server.log)")
            }
        }
    }
}

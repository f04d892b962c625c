import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Operating the real binary: configuration errors before anything listens, SIGHUP applying the
/// live configuration keys, SIGTERM draining a TCP connection with a query in flight, and
/// `lifecycle.onComponentFailure`.
extension IntegrationSuite {
    @Suite("Operations") struct Operations {
        struct BadConfiguration: Sendable, CustomStringConvertible {
            var description: String
            /// The file's text; `DNSPORT` and `APIPORT` stand for free ports.
            var yaml: String
            var arguments: [String] = []
            /// What stderr must say: `globaldns: configuration error: ` then this.
            var expected: String
        }

        static let badConfigurations: [BadConfiguration] = [
            BadConfiguration(description: "unknown key", yaml: """
                dns:
                  listen: ["127.0.0.1:DNSPORT"]
                  tcpIdleTimeout: 5
                api: {listen: "127.0.0.1:APIPORT"}
                """, expected: "globaldns.yaml:3: dns.tcpIdleTimeout: unknown key"),
            BadConfiguration(description: "bad CIDR in localities", yaml: """
                dns: {listen: ["127.0.0.1:DNSPORT"]}
                api: {listen: "127.0.0.1:APIPORT"}
                localities:
                  - {cidr: 10.1.0.0/16, locality: us-west}
                  - {cidr: 10.2.0.0/33, locality: us-east}
                """, expected: "globaldns.yaml:5: localities[1].cidr: "),
            BadConfiguration(description: "bad CIDR in explain.allow", yaml: """
                dns: {listen: ["127.0.0.1:DNSPORT"]}
                api: {listen: "127.0.0.1:APIPORT"}
                explain:
                  allow: [127.0.0.0/8, 10.0.0.0/40]
                """, expected: "globaldns.yaml:4: explain.allow[1]: "),
            BadConfiguration(description: "bad port in dns.listen", yaml: """
                dns:
                  listen:
                    - 127.0.0.1:DNSPORT
                    - 127.0.0.1:65536
                api: {listen: "127.0.0.1:APIPORT"}
                """, expected: "globaldns.yaml:4: dns.listen[1]: '65536' is not a port"),
            BadConfiguration(description: "bad port in --api-listen", yaml: """
                dns: {listen: ["127.0.0.1:DNSPORT"]}
                """, arguments: ["--api-listen", "127.0.0.1:99999"], expected: "api.listen: '99999' is not a port"),
            BadConfiguration(description: "token from an unset variable", yaml: """
                dns: {listen: ["127.0.0.1:DNSPORT"]}
                api:
                  listen: "127.0.0.1:APIPORT"
                  tokens:
                    ci: {env: GLOBALDNS_IT_SURELY_UNSET}
                """, expected: "globaldns.yaml:5: api.tokens.ci.env: the environment variable GLOBALDNS_IT_SURELY_UNSET is not set"),
        ]

        @Test("a configuration error names the key path, exits 2, and nothing listens", arguments: badConfigurations)
        func configurationError(_ bad: BadConfiguration) async throws {
            let scratch = try TestEnvironment.makeScratchDirectory("badconfig")
            defer { TestEnvironment.removeScratch(scratch) }
            let dnsPort = try TestEnvironment.freePort()
            let apiPort = try TestEnvironment.freePort()
            try writeZones([Fixture.zoneFileName: try String(contentsOf: TestEnvironment.fixtureZone, encoding: .utf8)],
                           to: scratch.appendingPathComponent("zones"))
            let yaml = bad.yaml.replacingOccurrences(of: "DNSPORT", with: "\(dnsPort)").replacingOccurrences(of: "APIPORT", with: "\(apiPort)")
                + "\nzones: {directory: zones}\nstate: {directory: state}\n"
            let file = scratch.appendingPathComponent("globaldns.yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            let process = try ChildProcess(name: "globaldns", executable: try TestEnvironment.globalDNSExecutable(),
                                           arguments: ["--config", file.path] + bad.arguments, logDirectory: scratch)
            let code = await process.waitForExit(timeout: .seconds(20))
            await process.stop()
            #expect(code == 2, "exit code \(code.map(String.init) ?? "none (still running)")\n\(process.stderr)")
            #expect(process.stderr.contains("globaldns: configuration error: "), "\(process.stderr)")
            let shown = bad.expected.hasPrefix("globaldns.yaml") ? file.path + bad.expected.dropFirst("globaldns.yaml".count) : bad.expected
            #expect(process.stderr.contains(shown), "stderr does not say \(shown):\n\(process.stderr)")
            #expect(!process.stderr.contains("listening"), "something listened:\n\(process.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("state").path),
                    "the state directory was created before the configuration was checked")
            for port in [dnsPort, apiPort] {
                #expect(throws: HarnessError.self, "port \(port) accepts connections") { try RawTCPClient(port: port).close() }
            }
        }

        @Test("SIGHUP applies the log level and format and the explain allow-list live, and names a listener change it cannot apply")
        func sighupReloadsLiveKeys() async throws {
            var options = try GlobalDNSOptions()
            options.extraConfig = "explain:\n  allow: [127.0.0.1/32]\n"
            try await withGlobalDNS(options) { server in
                let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/pool", yaml: GSLBAnswering.roundRobin)
                #expect(code / 100 == 2, "PUT pool: HTTP \(code)")
                func explain() async throws -> DigMessage {
                    try await server.querier.query("pool.g.example.com.", "TXT", ["-c", "CH"])
                }
                var deadline = ContinuousClock.now + .seconds(5)
                var reply = try await explain()
                while reply.answer.isEmpty && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    reply = try await explain()
                }
                #expect(reply.status == "NOERROR" && reply.answer.first?.rdata.contains("policy=RoundRobin") == true,
                        "explain from 127.0.0.1 before the reload: \(reply)")
                #expect(!server.log.contains("level=debug"), "debug lines at level info")

                // Live: log level and format, explain.allow. Restart only: a new DNS listener.
                let otherPort = try TestEnvironment.freePort()
                let file = server.scratch.appendingPathComponent("globaldns.yaml")
                let text = try String(contentsOf: file, encoding: .utf8)
                let changed = text
                    .replacingOccurrences(of: "  level: info", with: "  level: debug\n  format: json")
                    .replacingOccurrences(of: "allow: [127.0.0.1/32]", with: "allow: [10.0.0.0/8]")
                    .replacingOccurrences(of: "    - 127.0.0.1:\(server.address.port)\n",
                                          with: "    - 127.0.0.1:\(server.address.port)\n    - 127.0.0.1:\(otherPort)\n")
                #expect(changed.contains("level: debug") && changed.contains("10.0.0.0/8") && changed.contains("\(otherPort)"))
                try changed.write(to: file, atomically: true, encoding: .utf8)
                server.process.send(signal: SIGHUP)

                deadline = ContinuousClock.now + .seconds(5)
                reply = try await explain()
                while reply.status != "REFUSED" && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    reply = try await explain()
                }
                #expect(reply.status == "REFUSED", "explain from 127.0.0.1 after allowing only 10/8: \(reply)\n\(server.log)")
                let log = server.log
                #expect(log.contains(#""level":"debug""#), "no JSON debug line after the reload:\n\(log)")
                #expect(log.contains(#""key":"dns.listen""#) && log.contains("only changes with a restart"),
                        "the listener change is not reported:\n\(log)")
                #expect(log.contains(#""changed":"explain.allow,log.format,log.level""#), "\(log)")
                #expect(server.process.isRunning)
                // The running listeners stay as they were.
                let www = try await server.querier.query("www.g.example.com.", "A", ["+norec"])
                #expect(www.answer.count == 2, "\(www)")
                #expect(throws: HarnessError.self, "the new listener was opened") { try RawTCPClient(port: otherPort).close() }
                let ready = try await ctl(server, ["ready"])
                #expect(ready.exitCode == 0 && ready.stdout == "ready\n", "\(ready)")
            }
        }

        @Test("SIGTERM: new connections are refused, a query in flight on an open connection is answered, then it closes and the server exits 0")
        func sigtermDrainsAnOpenConnection() async throws {
            var options = try GlobalDNSOptions()
            options.dnsConfig = ["drainTimeoutSeconds: 5"]
            try await withGlobalDNS(options) { server in
                let port = server.address.port
                let client = try RawTCPClient(port: port)
                defer { client.close() }
                try client.send(WireQuery.framed(WireQuery.make(id: 1, name: "www.g.example.com", type: 1)))
                #expect(try client.readMessages(1, timeout: .seconds(5)).map { try WireQuery.header($0).id } == [1])
                // Query 2 is in flight: half of it is sent when SIGTERM arrives.
                let second = WireQuery.framed(WireQuery.make(id: 2, name: "mail.g.example.com", type: 28))
                try client.send(Array(second[0..<7]))
                let signalled = ContinuousClock.now
                server.process.send(signal: SIGTERM)

                // The listener closes: new connections are refused while the open one drains.
                var refused = false
                while !refused && ContinuousClock.now - signalled < .seconds(3) {
                    do {
                        try RawTCPClient(port: port).close()
                        try await Task.sleep(for: .milliseconds(20))
                    } catch {
                        refused = "\(error)".contains("refused")
                    }
                }
                #expect(refused, "new TCP connections still accepted 3 s after SIGTERM\n\(server.log)")
                #expect(server.process.isRunning, "exited before the open connection's query was answered\n\(server.log)")

                // The rest of query 2 and a pipelined query 3: both answered, then the server closes.
                try client.send(Array(second[7...]) + WireQuery.framed(WireQuery.make(id: 3, name: "nope.g.example.com", type: 1)))
                let replies = try client.readMessages(2, timeout: .seconds(3)).map(WireQuery.header)
                #expect(replies.map(\.id) == [2, 3], "\(replies)")
                #expect(replies.map(\.rcode) == [0, 3] && replies[0].ancount == 1, "\(replies)")
                #expect(client.waitForClose(timeout: .seconds(3)) != nil, "the connection stayed open after its answers")
                let code = await server.process.waitForExit(timeout: .seconds(6))
                let took = ContinuousClock.now - signalled
                #expect(code == 0, "exit code after SIGTERM: \(code.map(String.init) ?? "still running")\n\(server.log)")
                #expect(took < .seconds(5), "exit took \(took), beyond the 5 s drain timeout")
                #expect(server.log.contains("forced_tcp=0"), "the open connection was closed by force:\n\(server.log)")
            }
        }

        @Test("SIGTERM: a connection whose query never completes is closed at the drain timeout, and the exit is still 0")
        func sigtermClosesAStalledConnectionAtTheDrainTimeout() async throws {
            var options = try GlobalDNSOptions()
            options.dnsConfig = ["drainTimeoutSeconds: 1"]
            try await withGlobalDNS(options) { server in
                let client = try RawTCPClient(port: server.address.port)
                defer { client.close() }
                try client.send(Array(WireQuery.framed(WireQuery.make(id: 9, name: "www.g.example.com", type: 1))[0..<5]))
                try await Task.sleep(for: .milliseconds(100))  // accepted and read before the signal
                let signalled = ContinuousClock.now
                server.process.send(signal: SIGTERM)
                #expect(client.waitForClose(timeout: .seconds(4)) != nil, "a stalled connection outlived the drain timeout")
                let code = await server.process.waitForExit(timeout: .seconds(5))
                #expect(code == 0, "exit code: \(code.map(String.init) ?? "still running")\n\(server.log)")
                let took = ContinuousClock.now - signalled
                #expect(took >= .milliseconds(900) && took < .seconds(4), "exit \(took) after SIGTERM with a 1 s drain timeout")
                #expect(server.log.contains("forced_tcp=1"), "\(server.log)")
            }
        }

        /// Holds a loopback TCP port, so the API cannot bind it.
        final class PortBlocker {
            let fd: Int32
            init(port: UInt16) throws {
                fd = socket(AF_INET, sockStream, 0)
                var one: Int32 = 1
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                let bound = try LoopbackAddress(family: AF_INET, port: port).withSockaddr { bind(fd, $0, $1) }
                guard bound == 0, listen(fd, 1) == 0 else {
                    closeSocket(fd)
                    throw HarnessError("cannot hold port \(port): \(String(cString: strerror(errno)))")
                }
            }
            deinit { closeSocket(fd) }
        }

        @Test("onComponentFailure keepServing: the API cannot bind, the failure is logged, DNS keeps answering, SIGTERM exits 0")
        func componentFailureKeepServing() async throws {
            var options = try GlobalDNSOptions()
            options.extraConfig = "lifecycle: {onComponentFailure: keepServing}\n"
            let apiPort = try TestEnvironment.freePort()
            let blocker = try PortBlocker(port: apiPort)
            defer { _ = blocker }
            options.apiPort = apiPort
            try await withGlobalDNS(options) { server in
                let deadline = ContinuousClock.now + .seconds(5)
                while !server.log.contains("component failed") && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(server.log.contains("component failed; DNS keeps answering") && server.log.contains("component=api"),
                        "\(server.log)")
                try await Task.sleep(for: .milliseconds(500))
                #expect(server.process.isRunning)
                for transport in Transport.allCases {
                    let www = try await server.querier.query("www.g.example.com.", "A", ["+norec"], transport: transport)
                    #expect(www.answer.count == 2, "over \(transport) after the API failed: \(www)")
                }
                server.process.send(signal: SIGTERM)
                let code = await server.process.waitForExit(timeout: .seconds(10))
                #expect(code == 0, "exit code \(code.map(String.init) ?? "none")\n\(server.log)")
            }
        }

        @Test("onComponentFailure exit: the API cannot bind, the server drains and exits 3 naming the component")
        func componentFailureExit() async throws {
            let scratch = try TestEnvironment.makeScratchDirectory("exit")
            defer { TestEnvironment.removeScratch(scratch) }
            let dnsPort = try TestEnvironment.freePort()
            let apiPort = try TestEnvironment.freePort()
            let blocker = try PortBlocker(port: apiPort)
            defer { _ = blocker }
            try writeZones([Fixture.zoneFileName: try String(contentsOf: TestEnvironment.fixtureZone, encoding: .utf8)],
                           to: scratch.appendingPathComponent("zones"))
            let file = scratch.appendingPathComponent("globaldns.yaml")
            try """
                dns: {listen: ["127.0.0.1:\(dnsPort)"]}
                api: {listen: "127.0.0.1:\(apiPort)"}
                zones: {directory: zones}
                state: {directory: state}
                lifecycle: {onComponentFailure: exit}

                """.write(to: file, atomically: true, encoding: .utf8)
            let process = try ChildProcess(name: "globaldns", executable: try TestEnvironment.globalDNSExecutable(),
                                           arguments: ["--config", file.path], logDirectory: scratch)
            let code = await process.waitForExit(timeout: .seconds(20))
            await process.stop()
            #expect(code == 3, "exit code \(code.map(String.init) ?? "none (still running)")\n\(process.stderr)")
            #expect(process.stderr.contains("component failed; stopping") && process.stderr.contains("component=api"),
                    "\(process.stderr)")
            #expect(process.stderr.contains("dns listeners stopped"), "DNS was not stopped gracefully:\n\(process.stderr)")
            #expect(process.stderr.contains("globaldns: stopped: component api failed"), "\(process.stderr)")
        }
    }
}

/// Runs the built `globaldnsctl` against `server`'s API.
func ctl(_ server: RunningServer, _ arguments: [String]) async throws -> CommandResult {
    try await runCommand(try TestEnvironment.executableNextToTests("globaldnsctl"),
                         [arguments[0], "--server", server.apiURL] + arguments.dropFirst(), timeout: .seconds(20),
                         scratch: server.scratch)
}

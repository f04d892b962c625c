import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP listener on one loopback address (what a gateway VIP looks like to a probe).
/// By default connections wait in the backlog and nobody accepts them, which a TCP connect probe
/// does not mind for a while; but every probe leaves one there, so after `backlog` probes the
/// kernel drops SYNs and probes time out. A test that probes for longer than that passes
/// `accepting: true`: a thread then accepts and closes every connection, as a gateway would.
final class LoopbackListener: @unchecked Sendable {
    let address: String
    let port: UInt16
    private var fd: Int32 = -1
    private let accepting: Bool
    private var acceptor: Thread?
    private let lock = NSLock()

    init(address: String, port: UInt16, accepting: Bool = false) throws {
        self.address = address
        self.port = port
        self.accepting = accepting
        try listen()
    }

    /// The listening socket, or -1 once stopped (read by the acceptor thread).
    private var listening: Int32 { lock.withLock { fd } }

    private func startAcceptor(_ s: Int32) {
        let thread = Thread { [weak self] in
            while let self, self.listening == s {
                var p = pollfd(fd: s, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 50) > 0, self.listening == s else { continue }
                let c = accept(s, nil, nil)
                if c >= 0 { closeSocket(c) }
            }
        }
        thread.start()
        acceptor = thread
    }

    func listen() throws {
        guard fd < 0 else { return }
        let s = socket(AF_INET, sockStream, 0)
        guard s >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &a.sin_addr) == 1, address.hasPrefix("127.") else {
            closeSocket(s)
            throw HarnessError("\(address) is not a loopback address")
        }
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, Glibc.listen(s, 128) == 0 else {
            closeSocket(s)
            throw HarnessError("bind/listen \(address):\(port): errno \(errno)")
        }
        lock.withLock { fd = s }
        if accepting { startAcceptor(s) }
    }

    /// Stops listening: new connects get RST (connection refused).
    func stop() {
        let s: Int32 = lock.withLock {
            let s = fd
            fd = -1
            return s
        }
        guard s >= 0 else { return }
        // The acceptor sees `listening != s` within one 50 ms poll; give it that before the
        // descriptor number can be reused.
        if acceptor != nil { usleep(120_000) }
        closeSocket(s)
        acceptor = nil
    }

    deinit { stop() }
}

extension IntegrationSuite {
    @Suite("Health checks") struct HealthChecks {
        func short(_ server: RunningServer, _ name: String) async throws -> [String] {
            let out = try await server.querier.run(.dig, [name, "A", "+short"])
            return out.text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") && !$0.isEmpty }.sorted()
        }

        /// Polls until dig prints `expected`; returns how long that took.
        func waitFor(_ server: RunningServer, _ name: String, _ expected: [String], within: Duration) async throws -> Duration {
            let start = ContinuousClock.now
            var last: [String] = []
            while ContinuousClock.now - start < within {
                last = try await short(server, name)
                if last == expected.sorted() { return ContinuousClock.now - start }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw HarnessError("\(name): expected \(expected.sorted()) within \(within), got \(last)\n\(server.log)")
        }

        @Test("a target whose listener stops leaves the answers within interval x failureThreshold + timeout + 1 s, and comes back")
        func listenerStopsAndReturns() async throws {
            let port = try TestEnvironment.freePort()
            let a = try LoopbackListener(address: "127.0.0.21", port: port)
            let b = try LoopbackListener(address: "127.0.0.22", port: port)
            defer { a.stop(); b.stop() }
            try await withGlobalDNS { server in
                let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/probed", yaml: """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: probed}
                    spec:
                      fqdn: probed.g.example.com
                      healthCheck: {port: \(port), intervalSeconds: 2, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1}
                      targets:
                      - {name: a, addresses: [127.0.0.21]}
                      - {name: b, addresses: [127.0.0.22]}

                    """)
                #expect(code / 100 == 2)
                _ = try await waitFor(server, "probed.g.example.com", ["127.0.0.21", "127.0.0.22"], within: .seconds(5))
                // Let both targets get their first verdict (up).
                try await Task.sleep(for: .seconds(3))
                b.stop()
                let bound = Duration.seconds(2 * 2 + 1 + 1)
                let down = try await waitFor(server, "probed.g.example.com", ["127.0.0.21"], within: bound + .seconds(2))
                #expect(down <= bound, "detection took \(down), bound \(bound)")
                let describe = try await runCommand(try TestEnvironment.executableNextToTests("globaldnsctl"),
                                                    ["describe", "--server", server.apiURL, "probed"], scratch: server.scratch)
                #expect(describe.stdout.contains("connection refused"), "\(describe.stdout)")
                #expect(describe.stdout.contains("SomeTargetsDown"), "\(describe.stdout)")
                try b.listen()
                let up = try await waitFor(server, "probed.g.example.com", ["127.0.0.21", "127.0.0.22"], within: .seconds(2 * 1 + 1 + 1) + .seconds(2))
                #expect(up <= .seconds(4), "recovery took \(up)")
                print("health check: down detected in \(down), recovery in \(up)")
            }
        }

        @Test("an operator drain takes a healthy target out of dig answers, describe shows who and until when, and it lifts itself or by undrain")
        func drainAndUndrain() async throws {
            let port = try TestEnvironment.freePort()
            let a = try LoopbackListener(address: "127.0.0.23", port: port)
            let b = try LoopbackListener(address: "127.0.0.24", port: port)
            defer { a.stop(); b.stop() }
            try await withGlobalDNS { server in
                let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/drained", yaml: """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: drained}
                    spec:
                      fqdn: drained.g.example.com
                      healthCheck: {port: \(port), intervalSeconds: 2, timeoutSeconds: 1, failureThreshold: 2}
                      targets:
                      - {name: a, addresses: [127.0.0.23]}
                      - {name: b, addresses: [127.0.0.24]}

                    """)
                #expect(code / 100 == 2)
                _ = try await waitFor(server, "drained.g.example.com", ["127.0.0.23", "127.0.0.24"], within: .seconds(5))
                let ctl = try TestEnvironment.executableNextToTests("globaldnsctl")
                let drain = try await runCommand(ctl, ["drain", "--server", server.apiURL, "drained", "b",
                                                       "--reason", "kernel upgrade", "--for", "1h"], scratch: server.scratch)
                #expect(drain.exitCode == 0, "\(drain.stderr)")
                #expect(drain.stdout.contains("target \"b\" of nameservice \"drained\" drained by (auth disabled) until 20"), "\(drain.stdout)")
                let out = try await waitFor(server, "drained.g.example.com", ["127.0.0.23"], within: .seconds(1))
                print("drain reached dig in \(out)")
                // The explain answer names the drained target and counts only the others.
                let explained = try await server.querier.run(.dig, ["drained.g.example.com", "CH", "TXT"])
                #expect(explained.text.contains("\"drained=b\""), "\(explained.text)")
                #expect(explained.text.contains("\"healthy=1/1 mode=healthy\""), "\(explained.text)")
                // Probing goes on and shows in describe (live probe time and latency), with the drain.
                try await Task.sleep(for: .seconds(2))
                let describe = try await runCommand(ctl, ["describe", "--server", server.apiURL, "drained"], scratch: server.scratch)
                #expect(describe.stdout.contains("Drained"), "\(describe.stdout)")
                #expect(describe.stdout.contains("kernel upgrade"), "\(describe.stdout)")
                #expect(describe.stdout.contains("SomeTargetsDrained"), "\(describe.stdout)")
                #expect(describe.stdout.range(of: #"127\.0\.0\.24 +Drained +\S+ +20\d\d-\S+Z +\d+(\.\d+)?ms"#, options: .regularExpression) != nil,
                        "last probe time and latency: \(describe.stdout)")
                let undrain = try await runCommand(ctl, ["undrain", "--server", server.apiURL, "drained", "b"], scratch: server.scratch)
                #expect(undrain.exitCode == 0, "\(undrain.stderr)")
                _ = try await waitFor(server, "drained.g.example.com", ["127.0.0.23", "127.0.0.24"], within: .seconds(1))
                let again = try await runCommand(ctl, ["undrain", "--server", server.apiURL, "drained", "b"], scratch: server.scratch)
                #expect(again.exitCode != 0 && again.stderr.contains("is not drained"), "\(again.stderr)")

                // A drain with an expiry lifts itself.
                let short = try await runCommand(ctl, ["drain", "--server", server.apiURL, "drained", "a",
                                                       "--reason", "quick test", "--for", "2s"], scratch: server.scratch)
                #expect(short.exitCode == 0, "\(short.stderr)")
                _ = try await waitFor(server, "drained.g.example.com", ["127.0.0.24"], within: .seconds(1))
                let lifted = try await waitFor(server, "drained.g.example.com", ["127.0.0.23", "127.0.0.24"], within: .seconds(4))
                print("a 2 s drain lifted itself after \(lifted) more")
                let bad = try await runCommand(ctl, ["drain", "--server", server.apiURL, "drained", "nope", "--reason", "x"],
                                               scratch: server.scratch)
                #expect(bad.exitCode != 0 && bad.stderr.contains("has no target \"nope\""), "\(bad.stderr)")
            }
        }
    }
}

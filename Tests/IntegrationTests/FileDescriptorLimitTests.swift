import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuite {
    /// Issue 12: a server short of file descriptors must not die, must keep answering UDP, must
    /// refuse what is over its caps, and must not mark targets down for its own lack of sockets.
    @Suite("File-descriptor limits") struct FileDescriptorLimits {
        /// `globaldns` under `prlimit --nofile=512:512` with a 128-descriptor reserve; a FailClosed
        /// NameService probed every 0.5 s (failure threshold 1) against a loopback listener. Then
        /// 400 DNS TCP connections (far over the budget's `dns.tcpMaxConnections` share) and 700
        /// idle API connections (more than the whole limit). Throughout, the process lives, UDP dig
        /// keeps answering the probed name with its address (a target wrongly marked down would
        /// give NODATA: FailClosed), DNS TCP connections over the cap are closed by the server.
        ///
        /// The API stops accepting at its share of the budget (`api.maxConnections`, clamped), so the
        /// extra API connections wait in the kernel's backlog and the server's descriptors stay under
        /// its limit; probes keep their sockets (one that found none would count as not started,
        /// never as failed). The target listener accepts, as a gateway does: a probe per 0.5 s would
        /// otherwise fill its backlog within the test.
        @Test("under ulimit -n 512, floods of DNS TCP and API connections neither kill the server nor mark targets down")
        func connectionFloodsUnderALowLimit() async throws {
            let targetPort = try TestEnvironment.freePort()
            let target = try LoopbackListener(address: "127.0.0.31", port: targetPort, accepting: true)
            defer { target.stop() }
            var options = try GlobalDNSOptions()
            options.openFileLimit = 512
            options.dnsConfig = ["tcpMaxConnections: 50"]
            options.extraConfig = "limits:\n  fileDescriptorReserve: 128\n"
            try await withGlobalDNS(options) { server in
                // The budget the server computed, from its start-up line.
                let line = server.log.split(separator: "\n").first { $0.contains("open-file limit") }.map(String.init) ?? ""
                #expect(line.contains("nofile_soft=512"), "\(server.log)")
                let dnsCap = Self.field("dns_tcp_connections", in: line) ?? 0
                let apiCap = Self.field("api_connections", in: line) ?? 0
                #expect(dnsCap >= 16 && dnsCap <= 50, "\(line)")
                #expect(server.log.contains("dns.tcpMaxConnections 50 exceeds the file-descriptor budget"), "\(server.log)")

                let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/fd", yaml: """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: fd}
                    spec:
                      fqdn: fd.g.example.com
                      allDown: FailClosed
                      healthCheck: {port: \(targetPort), intervalSeconds: 0.5, timeoutSeconds: 0.4, failureThreshold: 1}
                      targets:
                      - {name: a, addresses: [127.0.0.31]}

                    """)
                #expect(code / 100 == 2)
                try await Self.waitForAnswer(server, ["127.0.0.31"], within: .seconds(10))

                // DNS TCP: 400 connections; the server keeps at most its cap and closes the rest.
                var dnsConnections: [Int32] = []
                defer { for fd in dnsConnections { close(fd) } }
                for _ in 0..<400 {
                    if let fd = Self.connect(port: UInt16(server.address.port)) { dnsConnections.append(fd) }
                }
                #expect(dnsConnections.count == 400)
                let deadline = ContinuousClock.now + .seconds(10)
                var open = dnsConnections.count
                while ContinuousClock.now < deadline {
                    open = dnsConnections.filter { !Self.closedByPeer($0) }.count
                    if open <= dnsCap + 4 { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(open <= dnsCap + 4, "\(open) DNS TCP connections still open, cap \(dnsCap)")

                // API: 700 idle connections, more than the whole limit.
                var apiConnections: [Int32] = []
                defer { for fd in apiConnections { close(fd) } }
                // A connect the server leaves in a full backlog is given up after 200 ms.
                for _ in 0..<700 {
                    if let fd = Self.connect(port: UInt16(server.apiPort), within: 200) { apiConnections.append(fd) }
                }
                // 6 s of probes (12 probe times) while descriptors are short: the answer never changes.
                let start = ContinuousClock.now
                var answers = 0
                while ContinuousClock.now - start < .seconds(6) {
                    #expect(server.process.isRunning, "globaldns died:\n\(server.log.suffix(4000))")
                    let got = try await Self.short(server, "fd.g.example.com")
                    #expect(got == ["127.0.0.31"], "answer changed while descriptors were short: \(got)")
                    answers += 1
                    try await Task.sleep(for: .milliseconds(250))
                }
                #expect(answers >= 10)
                #expect(server.process.isRunning)
                let apiOpen = apiConnections.filter { !Self.closedByPeer($0) }.count
                // The server itself never ran out: its descriptors stayed under the limit, because
                // the API stops accepting at its budget (the rest wait in the kernel's backlog).
                let serverFDs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.process.pid)/fd").count) ?? 0
                #expect(serverFDs > 0 && serverFDs < 512, "the server holds \(serverFDs) descriptors of 512")
                print("fd limits: DNS TCP open \(open)/400 (cap \(dnsCap)); API connected \(apiOpen)/\(apiConnections.count) (budget \(apiCap), the rest in the backlog); server fds \(serverFDs)/512")
                for fd in apiConnections { close(fd) }
                apiConnections = []
                for fd in dnsConnections { close(fd) }
                dnsConnections = []

                // Descriptors back: the API answers again, and the metrics tell what happened.
                var metrics = ""
                let until = ContinuousClock.now + .seconds(15)
                while ContinuousClock.now < until {
                    if let r = try? httpCall(port: server.apiPort, method: "GET", path: "/metrics"), r.status == 200 {
                        metrics = r.body
                        break
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                let notStarted = Self.metric("globaldns_probes_not_started_total", in: metrics)
                let failed = ["refused", "timeout", "unreachable", "other"].compactMap {
                    Self.metric("globaldns_probes_total{result=\"\($0)\"}", in: metrics)
                }.reduce(0, +)
                #expect(failed == 0, "probes failed: \(metrics.split(separator: "\n").filter { $0.contains("probes") })")
                // With the API within its budget the probes keep their sockets; any probe that found
                // none would have been counted as not started, never as failed (checked above).
                print("fd limits: probes not started for want of a descriptor: \(notStarted ?? 0)")
                #expect(server.log.contains("target down") == false, "\(server.log.suffix(4000))")
                try await Self.waitForAnswer(server, ["127.0.0.31"], within: .seconds(5))
            }
        }

        static func field(_ key: String, in line: String) -> Int? {
            guard let r = line.range(of: key + "=") else { return nil }
            return Int(line[r.upperBound...].prefix(while: \.isNumber))
        }

        static func metric(_ name: String, in text: String) -> Int? {
            for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
                return Double(line.dropFirst(name.count + 1)).map { Int($0) }
            }
            return nil
        }

        static func short(_ server: RunningServer, _ name: String) async throws -> [String] {
            let out = try await server.querier.run(.dig, [name, "A", "+short", "+tries=1", "+time=2"])
            return out.text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") && !$0.isEmpty }.sorted()
        }

        static func waitForAnswer(_ server: RunningServer, _ expected: [String], within: Duration) async throws {
            let start = ContinuousClock.now
            var last: [String] = []
            while ContinuousClock.now - start < within {
                last = try await short(server, "fd.g.example.com")
                if last == expected { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw HarnessError("expected \(expected) within \(within), got \(last)\n\(server.log.suffix(4000))")
        }

        /// A connected loopback TCP socket (blocking connect: the kernel completes it from the
        /// backlog even when the server does not accept), or nil.
        /// A blocking connect, or (with `within` milliseconds) one that is given up when the
        /// handshake does not complete in time (a listener whose backlog is full drops SYNs).
        static func connect(port: UInt16, within milliseconds: Int32? = nil) -> Int32? {
            let fd = socket(AF_INET, sockStream, 0)
            guard fd >= 0 else { return nil }
            if milliseconds != nil { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            let rc = (try? LoopbackAddress(family: AF_INET, port: port).withSockaddr { Glibc.connect(fd, $0, $1) }) ?? -1
            if rc != 0, let milliseconds, errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                if poll(&p, 1, milliseconds) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0, err == 0 {
                    return fd
                }
            }
            guard rc == 0 else {
                close(fd)
                return nil
            }
            return fd
        }

        /// True when the server closed (or reset) the connection: EOF or an error on a
        /// non-blocking peek.
        static func closedByPeer(_ fd: Int32) -> Bool {
            var byte: UInt8 = 0
            let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n == 0 { return true }
            if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
            return false
        }
    }
}

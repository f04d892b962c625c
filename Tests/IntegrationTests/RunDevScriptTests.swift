import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `make run`'s script, scripts/run-dev.sh, as a user runs it: on config/globaldns.yaml (ports and
/// directories moved to free loopback ports and a scratch directory), with the binaries built with
/// the tests (or `$GLOBALDNS_RELEASE_DIR`). It never builds.
enum RunDev {
    /// The repository root (this file is Tests/IntegrationTests/RunDevScriptTests.swift).
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$GLOBALDNS_RELEASE_DIR`, else the binaries built with these tests (the directory of
    /// `globaldnsctl` next to the test bundle): the script is what is tested, not the build mode,
    /// and a `.build/release` left from an older tree would test old binaries.
    static var binDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["GLOBALDNS_RELEASE_DIR"], !dir.isEmpty { return dir }
        if let ctl = try? TestEnvironment.executableNextToTests("globaldnsctl") {
            return (ctl as NSString).deletingLastPathComponent
        }
        return repository.appendingPathComponent(".build/release").path
    }

    static var releaseBinariesExist: Bool {
        ["globaldns", "globaldnsctl"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: (binDirectory as NSString).appendingPathComponent($0))
        }
    }

    struct Setup {
        var scratch: URL
        var config: URL
        var log: URL
        var state: URL
        var dnsPort: UInt16
        var apiPort: UInt16
    }

    /// config/globaldns.yaml with its listeners on free ports, the repository's zones and a
    /// scratch state directory, plus `extra` at the end.
    static func setup(extra: String = "", replacing more: [(String, String)] = []) throws -> Setup {
        let scratch = try TestEnvironment.makeScratchDirectory("run-dev")
        let dnsPort = try TestEnvironment.freePort()
        let apiPort = try TestEnvironment.freePort()
        let state = scratch.appendingPathComponent("state")
        var text = try String(contentsOf: repository.appendingPathComponent("config/globaldns.yaml"), encoding: .utf8)
        let replacements = [
            ("    - 127.0.0.1:8053\n", "    - 127.0.0.1:\(dnsPort)\n"),
            ("    - \"[::1]:8053\"\n", "    - \"[::1]:\(dnsPort)\"\n"),
            ("  listen: 127.0.0.1:8080\n", "  listen: 127.0.0.1:\(apiPort)\n"),
            ("  directory: ../zones\n", "  directory: \(repository.appendingPathComponent("zones").path)\n"),
            ("  directory: ../.state\n", "  directory: \(state.path)\n"),
        ] + more
        for (old, new) in replacements {
            guard text.contains(old) else {
                throw HarnessError("config/globaldns.yaml has no line \(old.debugDescription) any more; update RunDevScriptTests")
            }
            text = text.replacingOccurrences(of: old, with: new)
        }
        let config = scratch.appendingPathComponent("globaldns.yaml")
        try (text + extra).write(to: config, atomically: true, encoding: .utf8)
        return Setup(scratch: scratch, config: config, log: scratch.appendingPathComponent("run-dev.log"), state: state,
                     dnsPort: dnsPort, apiPort: apiPort)
    }

    /// Starts `bash scripts/run-dev.sh` on the setup's configuration. An inherited GLOBALDNS_SERVER
    /// pointing elsewhere must be ignored: the script talks to the configured api.listen.
    ///
    /// The script starts as from a terminal: with no signal blocked and SIGINT/SIGTERM at their
    /// defaults. The test runner's worker threads block most signals and Foundation's `Process`
    /// passes that mask on, and bash can neither unblock a signal nor trap one ignored at its start,
    /// so a small perl (perl-base, essential in Debian) clears them before exec.
    static func start(_ setup: Setup, readyTimeout: Int = 60) throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["CONFIG"] = setup.config.path
        environment["GLOBALDNS_BIN_DIR"] = binDirectory
        environment["RUN_LOG"] = setup.log.path
        environment["RUN_READY_TIMEOUT"] = String(readyTimeout)
        environment["GLOBALDNS_SERVER"] = "http://127.0.0.1:9"
        environment["GLOBALDNS_API_TOKEN"] = nil
        let asFromATerminal = """
            use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!";
            $SIG{INT} = $SIG{TERM} = "DEFAULT"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";
            """
        return try ChildProcess(name: "run-dev", executable: try findTool("perl"),
                                arguments: ["-e", asFromATerminal, try findTool("bash"),
                                            repository.appendingPathComponent("scripts/run-dev.sh").path],
                                logDirectory: setup.scratch, environment: environment)
    }

    /// PIDs of the processes whose command line names the setup's configuration or log (the server
    /// and the script's log follower; the script itself is named by neither).
    static func leftovers(_ setup: Setup, except: Int32? = nil) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard pid != except, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return commandLine.contains(setup.config.path) || commandLine.contains(setup.log.path)
        }
    }

    /// Whether `port` on 127.0.0.1 can be bound (TCP listener or UDP socket) right now.
    static func canBind(_ port: UInt16, type: Int32) -> Bool {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        return (try? LoopbackAddress(family: AF_INET, port: port).withSockaddr { bind(fd, $0, $1) }) == 0
    }

    /// A socket bound to 127.0.0.1:`port` (listening, for TCP), as another program holding the port.
    static func occupy(_ port: UInt16, type: Int32) throws -> Int32 {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        guard (try LoopbackAddress(family: AF_INET, port: port).withSockaddr { bind(fd, $0, $1) }) == 0,
              type != sockStream || listen(fd, 8) == 0 else {
            close(fd)
            throw HarnessError("cannot occupy 127.0.0.1:\(port): errno \(errno)")
        }
        return fd
    }

    /// Waits (bounded) until the script prints `marker` on stdout; fails with its output if it
    /// exits first or the deadline passes.
    static func waitForOutput(_ script: ChildProcess, _ marker: String, timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !script.stdout.contains(marker) {
            guard script.isRunning else {
                throw HarnessError("run-dev.sh exited (\(script.exitCode.map(String.init) ?? "?")) before printing \(marker.debugDescription):\n\(script.stdout)\n\(script.stderr)")
            }
            guard ContinuousClock.now < deadline else {
                throw HarnessError("run-dev.sh did not print \(marker.debugDescription) within \(timeout):\n\(script.stdout)\n\(script.stderr)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Runs `body` with the setup, then stops anything left behind (by PID) and removes the scratch.
    static func withSetup(extra: String = "", replacing more: [(String, String)] = [],
                          _ body: (Setup) async throws -> Void) async throws {
        let setup = try setup(extra: extra, replacing: more)
        defer {
            for pid in leftovers(setup) { kill(pid, SIGKILL) }
            TestEnvironment.removeScratch(setup.scratch)
        }
        try await body(setup)
    }
}

extension IntegrationSuite {
    @Suite("make run (scripts/run-dev.sh)",
           .enabled(if: RunDev.releaseBinariesExist,
                    "needs globaldns and globaldnsctl in .build/release (make release) or in $GLOBALDNS_RELEASE_DIR: not found, skipped"))
    struct RunDevScript {
        @Test("serves the configured ports, applies the examples, and Ctrl-C or SIGTERM leaves nothing behind",
              arguments: [SIGINT, SIGTERM])
        func servesAndStopsCleanly(signal: Int32) async throws {
            try await RunDev.withSetup { setup in
                let script = try RunDev.start(setup)
                do {
                    try await RunDev.waitForOutput(script, "Ctrl-C stops it.")
                    #expect(script.stdout.contains("dig @127.0.0.1 -p \(setup.dnsPort) checkout.g.example.com"), "\(script.stdout)")
                    #expect(script.stdout.contains("http://127.0.0.1:\(setup.apiPort)"), "\(script.stdout)")
                    // The examples were applied to this server (not to GLOBALDNS_SERVER's): checkout
                    // answers, Locality with a loopback client is us-west-1a.
                    let querier = DNSQuerier(server: ServerAddress(host: "127.0.0.1", port: setup.dnsPort), scratch: setup.scratch)
                    let answer = try await querier.query("checkout.g.example.com.", "A", ["+norec"])
                    #expect(answer.status == "NOERROR" && answer.aa, "\(answer)")
                    #expect(answer.answer.map(\.rdata) == ["192.0.2.10"], "\(answer)")
                    let static6 = try await DNSQuerier(server: ServerAddress(host: "::1", port: setup.dnsPort), scratch: setup.scratch)
                        .query("www.g.example.com.", "A", ["+norec"])
                    #expect(static6.status == "NOERROR" && !static6.answer.isEmpty, "the second dns.listen address, [::1]:\(setup.dnsPort):\n\(static6)")
                    let serverPIDs = RunDev.leftovers(setup)
                    #expect(!serverPIDs.isEmpty, "the server runs")

                    script.send(signal: signal)
                    let code = await script.waitForExit(timeout: .seconds(30))
                    #expect(code == 0, "run-dev.sh after signal \(signal): exit \(code.map(String.init) ?? "still running")\n\(script.stderr)")
                    #expect(script.stderr.contains("stopping globaldns"), "\(script.stderr)")
                } catch {
                    await script.stop()
                    throw error
                }
                await script.stop()
                #expect(RunDev.leftovers(setup).isEmpty, "processes left behind: \(RunDev.leftovers(setup))")
                #expect(RunDev.canBind(setup.apiPort, type: sockStream), "API port \(setup.apiPort) still held")
                #expect(RunDev.canBind(setup.dnsPort, type: sockStream) && RunDev.canBind(setup.dnsPort, type: sockDgram),
                        "DNS port \(setup.dnsPort) still held")
            }
        }

        @Test("a taken API or DNS port is named with what holds it, and nothing is started",
              arguments: ["api tcp", "dns udp", "dns tcp"])
        func takenPortStartsNothing(which: String) async throws {
            try await RunDev.withSetup { setup in
                let isAPI = which.hasPrefix("api")
                let type = which.hasSuffix("udp") ? sockDgram : sockStream
                let port = isAPI ? setup.apiPort : setup.dnsPort
                let holder = try RunDev.occupy(port, type: type)
                defer { close(holder) }
                let script = try RunDev.start(setup)
                let code = await script.waitForExit(timeout: .seconds(30))
                if code == nil { await script.stop() }
                let output = script.stderr
                #expect(code == 1, "run-dev.sh with \(which) port \(port) taken: exit \(code.map(String.init) ?? "still running")\n\(output)")
                let key = isAPI ? "api.listen" : "dns.listen"
                #expect(output.contains("port \(port)/\(which.hasSuffix("udp") ? "udp" : "tcp") of \(key)"), "\(output)")
                #expect(output.contains("127.0.0.1:\(port)"), "ss names the socket:\n\(output)")
                #expect(output.contains("nothing was started"), "\(output)")
                // Nothing started: no server process, no log, no store, the other ports untouched.
                #expect(RunDev.leftovers(setup).isEmpty)
                #expect(!FileManager.default.fileExists(atPath: setup.log.path), "the server was started")
                #expect(!FileManager.default.fileExists(atPath: setup.state.path), "the server was started")
                #expect(isAPI ? RunDev.canBind(setup.dnsPort, type: sockDgram) : RunDev.canBind(setup.apiPort, type: sockStream))
            }
        }

        @Test("a server that exits at start is reported with the end of its log and a non-zero exit")
        func serverThatDiesIsReported() async throws {
            try await RunDev.withSetup(extra: "\nnotAKey: 1\n") { setup in
                let script = try RunDev.start(setup)
                let code = await script.waitForExit(timeout: .seconds(60))
                if code == nil { await script.stop() }
                #expect(code == 2, "globaldns exits 2 on a configuration error; run-dev.sh passes it on: \(code.map(String.init) ?? "still running")\n\(script.stderr)")
                #expect(script.stderr.contains("globaldns exited with code 2 before it was ready"), "\(script.stderr)")
                #expect(script.stderr.contains("the end of the server's log"), "\(script.stderr)")
                #expect(script.stderr.contains("notAKey"), "the server's own error is shown:\n\(script.stderr)")
                #expect(!script.stdout.contains("GlobalDNS is serving"))
                #expect(RunDev.leftovers(setup).isEmpty, "processes left behind")
            }
        }

        /// A server that runs but never gets ready: the etcd store on a loopback port nobody
        /// listens on keeps /readyz at 503.
        @Test("a server not ready in time is stopped and reported with its log and a non-zero exit")
        func serverNotReadyIsStopped() async throws {
            let etcdPort = try TestEnvironment.freePort()
            try await RunDev.withSetup(replacing: [
                ("  type: sqlite\n", "  type: etcd\n"),
                ("    endpoints: []\n", "    endpoints: [http://127.0.0.1:\(etcdPort)]\n"),
            ]) { setup in
                let script = try RunDev.start(setup, readyTimeout: 3)
                let code = await script.waitForExit(timeout: .seconds(60))
                if code == nil { await script.stop() }
                #expect(code == 1, "\(code.map(String.init) ?? "still running")\n\(script.stderr)")
                #expect(script.stderr.contains("globaldns was not ready within 3s (http://127.0.0.1:\(setup.apiPort)/readyz)"),
                        "\(script.stderr)")
                #expect(script.stderr.contains("not ready: the NameService store"), "globaldnsctl ready says why:\n\(script.stderr)")
                #expect(script.stderr.contains("the end of the server's log"), "\(script.stderr)")
                #expect(script.stderr.contains("stopping globaldns"), "\(script.stderr)")
                #expect(!script.stdout.contains("GlobalDNS is serving"))
                #expect(RunDev.leftovers(setup).isEmpty, "processes left behind: \(RunDev.leftovers(setup))")
                #expect(RunDev.canBind(setup.dnsPort, type: sockDgram) && RunDev.canBind(setup.apiPort, type: sockStream),
                        "ports still held")
            }
        }
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The zone every query test serves: Tests/Fixtures/knot-diff.zone, origin g.example.com.
enum Fixture {
    static let origin = "g.example.com."
    static let zoneFileName = "g.example.com.zone"
    static let identity = "it-ns1.example"

    static func name(_ label: String) -> String { label.isEmpty ? origin : "\(label).\(origin)" }
}

/// Options for one globaldns process.
struct GlobalDNSOptions {
    /// Zone files to write into the zone directory, file name → contents. Defaults to the fixture.
    var zones: [String: String]
    var identity: String? = Fixture.identity
    var listenIPv6 = true
    var extraArguments: [String] = []
    /// Start with `--config FILE` (a YAML file written next to the zones, relative paths) instead
    /// of the command-line flags.
    var viaConfigFile = false
    /// Top-level YAML appended to that file (`localities:`, `upstream:` …); implies `viaConfigFile`.
    var extraConfig: String = "" {
        didSet { if !extraConfig.isEmpty { viaConfigFile = true } }
    }
    /// More `dns:` keys for that file, one per line without indentation (`drainTimeoutSeconds: 2`);
    /// implies `viaConfigFile`.
    var dnsConfig: [String] = [] {
        didSet { if !dnsConfig.isEmpty { viaConfigFile = true } }
    }
    /// More `api:` keys for that file, one per line without indentation (`tokens:`, `  ci: …`);
    /// implies `viaConfigFile`.
    var apiConfig: [String] = [] {
        didSet { if !apiConfig.isEmpty { viaConfigFile = true } }
    }
    /// The API's port; default: a free one.
    var apiPort: UInt16? = nil
    /// How long to wait until the server answers.
    var startupTimeout: Duration = .seconds(30)
    /// A state directory to reuse (a restart test); default: a fresh one in the scratch directory.
    var stateDirectory: URL? = nil
    /// Run the server as `nobody` (through setpriv) when the tests run as root, as a newcomer runs
    /// it: CI is root, and root hides every "needs a privilege" bug.
    var unprivileged = false
    /// Run the server under `prlimit --nofile=N:N` (soft and hard open-file limit N).
    var openFileLimit: Int? = nil

    init(zones: [String: String]? = nil, identity: String? = Fixture.identity, listenIPv6: Bool = true,
         extraArguments: [String] = [], viaConfigFile: Bool = false) throws {
        self.viaConfigFile = viaConfigFile
        if let zones {
            self.zones = zones
        } else {
            self.zones = [Fixture.zoneFileName: try String(contentsOf: TestEnvironment.fixtureZone, encoding: .utf8)]
        }
        self.identity = identity
        self.listenIPv6 = listenIPv6
        self.extraArguments = extraArguments
    }
}

/// A running server under test plus a querier pointed at it.
struct RunningServer {
    var name: String
    var process: ChildProcess
    var address: ServerAddress
    var scratch: URL
    var zoneDirectory: URL
    /// The NameService API's port on 127.0.0.1 (0 for knotd).
    var apiPort: Int = 0
    /// The state directory (the NameService store).
    var stateDirectory: URL? = nil

    var apiURL: String { "http://127.0.0.1:\(apiPort)" }

    var querier: DNSQuerier { DNSQuerier(server: address, scratch: scratch) }
    var querierIPv6: DNSQuerier {
        DNSQuerier(server: ServerAddress(host: "::1", port: address.port), scratch: scratch)
    }

    /// The server's stderr so far, for failure messages.
    var log: String { process.stderr }
}

/// Starts `globaldns` on a free loopback port with a temporary zone directory, waits until it answers
/// (bounded), runs `body`, and stops the server on every path.
///
/// With `INTEGRATION_TARGET=knot` in the environment the same tests run against knotd on the same
/// zones instead: a self-check of the harness and of the expectations (the globaldns-only options,
/// e.g. the TCP idle timeout, are then approximated by knot.conf settings).
func withGlobalDNS<R>(_ options: GlobalDNSOptions? = nil, _ body: (RunningServer) async throws -> R) async throws -> R {
    let options = try options ?? GlobalDNSOptions()
    if ProcessInfo.processInfo.environment["INTEGRATION_TARGET"] == "knot" {
        return try await withKnot(zones: options.zones, identity: options.identity, body)
    }
    let scratch = try TestEnvironment.makeScratchDirectory("globaldns")
    defer { TestEnvironment.removeScratch(scratch) }
    let zoneDirectory = scratch.appendingPathComponent("zones")
    try writeZones(options.zones, to: zoneDirectory)
    let port = try TestEnvironment.freePort()
    // Each server gets its own API port and store, so servers never share state.
    let apiPort = try options.apiPort ?? TestEnvironment.freePort()
    let stateDirectory = options.stateDirectory ?? scratch.appendingPathComponent("state")
    var arguments: [String]
    if options.viaConfigFile {
        // config/globaldns.yaml's schema; "zones" is relative to the file's directory
        let config = """
            identity: \(options.identity ?? "")
            dns:
              listen:
                - 127.0.0.1:\(port)
            \(options.listenIPv6 ? "    - \"[::1]:\(port)\"\n" : "")\
              tcpIdleTimeoutSeconds: 10
            \(options.dnsConfig.map { "  \($0)\n" }.joined())\
            zones:
              directory: zones
            api:
              listen: 127.0.0.1:\(apiPort)
            \(options.apiConfig.map { "  \($0)\n" }.joined())\
            state:
              directory: \(stateDirectory.path)
            log:
              level: info

            """ + options.extraConfig + "\n"
        let configURL = scratch.appendingPathComponent("globaldns.yaml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        arguments = ["--config", configURL.path]
    } else {
        arguments = ["--zones", zoneDirectory.path, "--dns-listen", "127.0.0.1:\(port)"]
        if options.listenIPv6 { arguments += ["--dns-listen", "[::1]:\(port)"] }
        if let identity = options.identity { arguments += ["--identity", identity] }
        arguments += ["--api-listen", "127.0.0.1:\(apiPort)", "--state", stateDirectory.path]
    }
    arguments += options.extraArguments
    var executable = try TestEnvironment.globalDNSExecutable()
    if options.unprivileged && getuid() == 0 {
        // nobody must be able to read the zones and create the store in the scratch directory.
        for url in [scratch, zoneDirectory] { chmod(url.path, 0o777) }
        if let files = try? FileManager.default.contentsOfDirectory(atPath: zoneDirectory.path) {
            for f in files { chmod(zoneDirectory.appendingPathComponent(f).path, 0o644) }
        }
        executable = try TestEnvironment.worldExecutableCopy(of: executable, in: scratch)
        arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", executable] + arguments
        executable = try findTool("setpriv")
    }
    if let limit = options.openFileLimit {
        arguments = ["--nofile=\(limit):\(limit)", "--", executable] + arguments
        executable = try findTool("prlimit")
    }
    let process = try ChildProcess(name: "globaldns", executable: executable,
                                   arguments: arguments, logDirectory: scratch)
    let server = RunningServer(name: "globaldns", process: process,
                               address: ServerAddress(host: "127.0.0.1", port: port),
                               scratch: scratch, zoneDirectory: zoneDirectory, apiPort: Int(apiPort),
                               stateDirectory: stateDirectory)
    do {
        try await waitUntilAnswering(server, timeout: options.startupTimeout)
        let result = try await body(server)
        await process.stop()
        return result
    } catch {
        await process.stop()
        throw error
    }
}

/// Starts knotd (our reference) on a free loopback port serving `zones`, runs `body`, stops it.
/// Works as root and as any other user: everything lives in a temporary directory.
func withKnot<R>(zones: [String: String], identity: String? = Fixture.identity,
                 _ body: (RunningServer) async throws -> R) async throws -> R {
    let knotd = try findTool("knotd")
    let scratch = try TestEnvironment.makeScratchDirectory("knot")
    defer { TestEnvironment.removeScratch(scratch) }
    let zoneDirectory = scratch.appendingPathComponent("zones")
    try writeZones(zones, to: zoneDirectory)
    let port = try TestEnvironment.freePort()
    var zoneList = ""
    for fileName in zones.keys.sorted() {
        let contents = zones[fileName]!
        let origin = zoneOrigin(contents) ?? String(fileName.dropLast(".zone".count))
        zoneList += """
              - domain: "\(origin)"
                file: "\(zoneDirectory.appendingPathComponent(fileName).path)"

            """
    }
    let identityLines = identity.map { "    identity: \"\($0)\"\n    nsid: \"\($0)\"\n" } ?? ""
    // tcp-idle-timeout matches what the globaldns tests pass; tcp-io-timeout bounds a half-sent
    // message. zonefile-sync -1 / journal-content none: knotd never writes into the zone files.
    let config = """
        server:
            rundir: "\(scratch.path)"
            pidfile: "\(scratch.path)/knot.pid"
            listen: [ "127.0.0.1@\(port)", "::1@\(port)" ]
            udp-workers: 1
            tcp-workers: 1
            background-workers: 1
            edns-client-subnet: on
            tcp-idle-timeout: 2
        \(identityLines)\
        log:
          - target: stderr
            any: info
        database:
            storage: "\(scratch.path)/db"
        control:
            listen: "\(scratch.path)/knot.sock"
        template:
          - id: default
            storage: "\(scratch.path)"
            zonefile-sync: -1
            zonefile-load: whole
            journal-content: none
        zone:
        \(zoneList)
        """
    let configURL = scratch.appendingPathComponent("knot.conf")
    try config.write(to: configURL, atomically: true, encoding: .utf8)
    let process = try ChildProcess(name: "knotd", executable: knotd, arguments: ["-c", configURL.path],
                                   logDirectory: scratch)
    let server = RunningServer(name: "knot", process: process, address: ServerAddress(host: "127.0.0.1", port: port),
                               scratch: scratch, zoneDirectory: zoneDirectory)
    do {
        try await waitUntilAnswering(server, timeout: .seconds(20))
        let result = try await body(server)
        await process.stop()
        return result
    } catch {
        await process.stop()
        throw error
    }
}

func writeZones(_ zones: [String: String], to directory: URL) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for (fileName, contents) in zones {
        try contents.write(to: directory.appendingPathComponent(fileName), atomically: true, encoding: .utf8)
    }
}

/// The `$ORIGIN` of a zone file's text, if it has one.
func zoneOrigin(_ contents: String) -> String? {
    for line in contents.split(separator: "\n") where line.uppercased().hasPrefix("$ORIGIN") {
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.map(String.init)
    }
    return nil
}

/// Polls with dig (every 100 ms, bounded by `timeout`) until the server returns any DNS message
/// for the SOA of the first zone; fails early, with its log, if the process exits.
func waitUntilAnswering(_ server: RunningServer, timeout: Duration) async throws {
    let deadline = ContinuousClock.now + timeout
    let dig = try findTool("dig")
    while ContinuousClock.now < deadline {
        if !server.process.isRunning {
            throw HarnessError("""
                \(server.name) exited with \(server.process.exitCode.map(String.init) ?? "?") before answering
                command: \(server.process.commandLine)
                stderr:
                \(server.process.stderr)
                """)
        }
        let result = try await runCommand(
            dig, ["@127.0.0.1", "-p", String(server.address.port), "+time=1", "+tries=1", Fixture.origin, "SOA"],
            timeout: .seconds(5), scratch: server.scratch)
        // The API listener may come up after DNS (the store opens first, e.g. etcd over TLS):
        // a server counts as started when both accept.
        if result.stdout.contains("->>HEADER<<-") && (server.apiPort <= 0 || loopbackAccepts(port: server.apiPort)) { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw HarnessError("""
        \(server.name) did not answer on \(server.address) (and its API on \(server.apiPort)) within \(timeout)
        command: \(server.process.commandLine)
        stderr:
        \(server.process.stderr)
        """)
}

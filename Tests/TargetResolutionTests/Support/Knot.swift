import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the test harness itself (a tool missing, knotd not answering…).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A knotd serving zones on 127.0.0.1 from a scratch directory, with a control socket.
struct KnotServer {
    let port: UInt16
    let scratch: URL
    let process: Process
    let stderrURL: URL

    var zoneDirectory: URL { scratch.appendingPathComponent("zones") }
    var controlSocket: String { scratch.appendingPathComponent("knot.sock").path }
    var address: SocketAddress { try! SocketAddress(ipAddress: "127.0.0.1", port: Int(port)) }
    var addressIPv6: SocketAddress { try! SocketAddress(ipAddress: "::1", port: Int(port)) }
    /// How resolution errors name this server.
    var hostAndPort: String { "127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Rewrites `origin`'s zone file and makes knotd load it (the serial must have grown).
    func replaceZone(_ origin: String, with contents: String) async throws {
        try contents.write(to: zoneDirectory.appendingPathComponent("\(origin)zone"), atomically: true, encoding: .utf8)
        let result = try await runCommand(try findTool("knotc"), ["-s", controlSocket, "-b", "zone-reload", origin])
        guard result.status == 0 else {
            throw HarnessError("knotc zone-reload \(origin) failed (\(result.status)): \(result.output)\n\(log)")
        }
    }
}

/// Starts knotd on a free 127.0.0.1 port serving `zones` (origin with final dot → zone file text),
/// waits until it answers, runs `body`, and stops knotd on every path (SIGTERM, then SIGKILL).
func withKnot<R>(zones: [String: String], _ body: (KnotServer) async throws -> R) async throws -> R {
    let knotd = try findTool("knotd")
    let scratch = FileManager.default.temporaryDirectory
        .appendingPathComponent("globaldns-resolution-\(UUID().uuidString.prefix(8))")
    let zoneDirectory = scratch.appendingPathComponent("zones")
    try FileManager.default.createDirectory(at: zoneDirectory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    var zoneList = ""
    for (origin, contents) in zones.sorted(by: { $0.key < $1.key }) {
        let file = zoneDirectory.appendingPathComponent("\(origin)zone")
        try contents.write(to: file, atomically: true, encoding: .utf8)
        zoneList += "  - domain: \"\(origin)\"\n    file: \"\(file.path)\"\n"
    }
    let port = try freePort()
    // zonefile-sync -1 / journal-content none: knotd never writes the zone files, and a reload
    // reads them whole.
    let config = """
        server:
            rundir: "\(scratch.path)"
            pidfile: "\(scratch.path)/knot.pid"
            listen: [ "127.0.0.1@\(port)", "::1@\(port)" ]
            udp-workers: 1
            tcp-workers: 1
            background-workers: 1
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
    let stderrURL = scratch.appendingPathComponent("knotd.stderr")
    guard FileManager.default.createFile(atPath: stderrURL.path, contents: nil) else {
        throw HarnessError("cannot create \(stderrURL.path)")
    }
    let stderrHandle = try FileHandle(forWritingTo: stderrURL)
    defer { try? stderrHandle.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: knotd)
    process.arguments = ["-c", configURL.path]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = stderrHandle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let server = KnotServer(port: port, scratch: scratch, process: process, stderrURL: stderrURL)
    do {
        try await waitUntilAnswering(server, origin: zones.keys.sorted()[0])
        let result = try await body(server)
        await stop(process)
        return result
    } catch {
        await stop(process)
        throw error
    }
}

/// SIGTERM, up to 5 s, then SIGKILL and up to 5 s more.
private func stop(_ process: Process) async {
    for signal in [SIGTERM, SIGKILL] {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Polls with dig (every 20 ms, at most 10 s) until knotd answers the SOA of `origin`.
private func waitUntilAnswering(_ server: KnotServer, origin: String) async throws {
    let dig = try findTool("dig")
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        guard server.process.isRunning else {
            throw HarnessError("knotd exited with \(server.process.terminationStatus) before answering:\n\(server.log)")
        }
        let result = try await runCommand(dig, ["@127.0.0.1", "-p", String(server.port), "+time=1", "+tries=1", origin, "SOA"])
        if result.output.contains("status: NOERROR") { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw HarnessError("knotd did not answer on 127.0.0.1:\(server.port) within 10 s:\n\(server.log)")
}

/// Runs a short command to completion (at most 10 s; then it is killed and this throws).
func runCommand(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let outputURL = FileManager.default.temporaryDirectory
        .appendingPathComponent("globaldns-resolution-cmd-\(UUID().uuidString.prefix(8))")
    guard FileManager.default.createFile(atPath: outputURL.path, contents: nil) else {
        throw HarnessError("cannot create \(outputURL.path)")
    }
    defer { try? FileManager.default.removeItem(at: outputURL) }
    let handle = try FileHandle(forWritingTo: outputURL)
    defer { try? handle.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = ContinuousClock.now + .seconds(10)
    while process.isRunning && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(5))
    }
    if process.isRunning {
        await stop(process)
        throw HarnessError("timed out: \(executable) \(arguments.joined(separator: " "))")
    }
    return (process.terminationStatus, (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "")
}

/// A program on PATH or in the sbin directories (knotd lives in /usr/sbin).
func findTool(_ name: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin"] {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw HarnessError("\(name) not found on PATH or in /usr/sbin (run `make deps`)")
}

private let claimedPorts = NSLock()
nonisolated(unsafe) private var claimed = Set<UInt16>()

/// A port in 20000..<32000 (below Linux's ephemeral range, so no resolver socket takes it between
/// here and knotd's bind) free for UDP and TCP on 127.0.0.1 and ::1, never handed out twice in one run.
func freePort() throws -> UInt16 {
    for _ in 0..<200 {
        let port = UInt16.random(in: 20000..<32000)
        let fresh = claimedPorts.withLock { claimed.insert(port).inserted }
        if fresh && canBind(port) { return port }
    }
    throw HarnessError("no free loopback port in 200 tries")
}

private func canBind(_ port: UInt16) -> Bool {
    #if canImport(Glibc) || canImport(Musl)
    let types = [Int32(SOCK_STREAM.rawValue), Int32(SOCK_DGRAM.rawValue)]
    #else
    let types = [SOCK_STREAM, SOCK_DGRAM]
    #endif
    for family in [AF_INET, AF_INET6] {
        for type in types {
            let fd = socket(family, type, 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let bound: Int32
            if family == AF_INET6 {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = port.bigEndian
                address.sin6_addr = in6addr_loopback
                bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
            } else {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = port.bigEndian
                address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
                bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            guard bound == 0 else { return false }
        }
    }
    return true
}

enum SocketAddressForTests {
    static func loopback(_ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: "127.0.0.1", port: port) }
}

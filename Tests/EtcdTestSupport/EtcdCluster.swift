import Foundation
import NameServiceStore
import NameServiceStoreEtcd

#if canImport(Glibc)
import Glibc
#endif

/// A real etcd cluster for tests: `members` etcd processes (Debian's `etcd-server`) on free
/// 127.0.0.1 ports, their data in a fresh directory (on /dev/shm when there is one, so fsync is
/// cheap), fast heartbeats and elections, no auto-compaction.
///
/// With `tls: true` the members serve their client URLs over https (peers stay plain http on
/// loopback) with a throwaway PKI (`certificates`, made by `openssl` in the cluster's directory)
/// and `--client-cert-auth`: a client needs `clientTLS` (the CA and the client certificate).
///
/// Contract: every process it starts is killed by `shutdown()`, by `deinit`, and at process exit
/// (an `atexit` hook over a registry of PIDs), so a failing test leaves no etcd behind. Members can
/// be killed (SIGKILL), stopped (SIGTERM) and started again on the same data and ports.
public final class EtcdCluster: @unchecked Sendable {
    public struct Member {
        public var name: String
        public var clientPort: Int
        public var peerPort: Int
        public var tls: Bool
        public var clientURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(clientPort)" }
        var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    }

    public let members: [Member]
    public let directory: URL
    /// The CA, server and client certificates when the cluster serves TLS.
    public let certificates: EtcdTestCertificates?
    private let etcd: String
    private let lock = NSLock()
    private var processes: [Process?]

    /// Client URLs of every member.
    public var endpoints: [String] { members.map(\.clientURL) }

    /// What a client needs to reach a TLS cluster (the test CA and the client certificate); nil
    /// for plain http.
    public var clientTLS: EtcdConfiguration.TLS? {
        certificates.map { EtcdConfiguration.TLS(caFile: $0.caFile, certFile: $0.clientCertFile, keyFile: $0.clientKeyFile) }
    }

    /// Starts the cluster and waits (at most `timeout`) until every member answers a
    /// linearizable read.
    public init(members count: Int = 3, tls: Bool = false, timeout: Duration = .seconds(30)) async throws {
        etcd = try findTool("etcd", package: "etcd-server")
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm")
            : FileManager.default.temporaryDirectory
        directory = base.appendingPathComponent("globaldns-etcd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        EtcdProcessRegistry.add(directory: directory)
        certificates = tls ? try EtcdTestCertificates(directory: directory.appendingPathComponent("tls")) : nil
        var members: [Member] = []
        var taken = Set<Int>()
        for i in 0..<count {
            members.append(Member(name: "m\(i)", clientPort: try Self.freePort(avoiding: &taken),
                                  peerPort: try Self.freePort(avoiding: &taken), tls: tls))
        }
        self.members = members
        processes = Array(repeating: nil, count: count)
        for i in 0..<count { try start(i) }
        do {
            try await waitHealthy(timeout: timeout)
        } catch {
            shutdown()
            throw error
        }
    }

    deinit { shutdown() }

    /// Starts member `i` (again, on its data directory: it rejoins the cluster).
    public func start(_ i: Int) throws {
        let m = members[i]
        let cluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: etcd)
        process.arguments = [
            "--name", m.name, "--data-dir", directory.appendingPathComponent(m.name).path,
            "--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
            "--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", directory.lastPathComponent,
            "--heartbeat-interval", "25", "--election-timeout", "250",
            "--quota-backend-bytes", String(256 << 20), "--auto-compaction-retention", "0",
            "--snapshot-count", "10000", "--logger", "zap", "--log-level", "warn",
        ]
        if let c = certificates {
            process.arguments! += ["--cert-file", c.serverCertFile, "--key-file", c.serverKeyFile,
                                   "--client-cert-auth", "--trusted-ca-file", c.caFile]
        }
        let log = directory.appendingPathComponent("\(m.name).log")
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.withLock { processes[i] = process }
        EtcdProcessRegistry.add(process.processIdentifier)
    }

    /// SIGKILL to member `i` (as a crash), waiting until it is gone.
    public func kill(_ i: Int) async { await signal(i, SIGKILL) }

    /// SIGTERM to member `i`, waiting until it exited.
    public func stop(_ i: Int) async { await signal(i, SIGTERM) }

    public func stopAll() async { for i in members.indices { await stop(i) } }

    public func startAll() throws { for i in members.indices where !isRunning(i) { try start(i) } }

    public func isRunning(_ i: Int) -> Bool { lock.withLock { processes[i]?.isRunning ?? false } }

    /// Polls without blocking a thread of the (two-thread) cooperative pool.
    private func signal(_ i: Int, _ sig: Int32) async {
        guard let p = lock.withLock({ processes[i] }), p.isRunning else { return }
        _ = Glibc.kill(p.processIdentifier, sig)
        let deadline = ContinuousClock.now + .seconds(10)
        while p.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if p.isRunning { _ = Glibc.kill(p.processIdentifier, SIGKILL) }
        EtcdProcessRegistry.remove(p.processIdentifier)
        lock.withLock { processes[i] = nil }
    }

    /// SIGKILL to every member (without waiting) and the data directory removed.
    public func shutdown() {
        let running = lock.withLock { () -> [Process] in
            defer { processes = processes.map { _ in nil } }
            return processes.compactMap { $0 }
        }
        for p in running where p.isRunning {
            _ = Glibc.kill(p.processIdentifier, SIGKILL)
            EtcdProcessRegistry.remove(p.processIdentifier)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Until every running member answers a linearizable read.
    public func waitHealthy(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        for (i, m) in members.enumerated() where isRunning(i) {
            let probe = try EtcdNameServiceStore(configuration: EtcdConfiguration(
                endpoints: [m.clientURL], dialTimeoutSeconds: 1, requestTimeoutSeconds: 1, tls: clientTLS))
            while true {
                do {
                    _ = try await probe.revision()
                    break
                } catch {
                    guard ContinuousClock.now < deadline, isRunning(i) else {
                        throw EtcdClusterError("etcd member \(m.name) at \(m.clientURL) not healthy within \(timeout): \(error)\n\(log(i))")
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }

    /// Member `i`'s log so far (for failure messages).
    public func log(_ i: Int) -> String {
        (try? String(contentsOf: directory.appendingPathComponent("\(members[i].name).log"), encoding: .utf8)) ?? ""
    }

    /// A port the kernel reports free on 127.0.0.1 (TCP), not handed out before in this run.
    private static func freePort(avoiding taken: inout Set<Int>) throws -> Int {
        for _ in 0..<50 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { continue }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            let port = Int(UInt16(bigEndian: address.sin_port))
            if EtcdProcessRegistry.claim(port), taken.insert(port).inserted { return port }
        }
        throw EtcdClusterError("no free loopback port for etcd")
    }
}

public struct EtcdClusterError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Every etcd PID a test started and has not reaped, killed at process exit; and the ports
/// handed out in this run.
enum EtcdProcessRegistry {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pids = Set<Int32>()
    nonisolated(unsafe) private static var ports = Set<Int>()
    nonisolated(unsafe) private static var directories = Set<URL>()
    nonisolated(unsafe) private static var hooked = false

    static func add(_ pid: Int32) {
        lock.withLock {
            pids.insert(pid)
            hook()
        }
    }

    static func add(directory: URL) {
        lock.withLock {
            directories.insert(directory)
            hook()
        }
    }

    private static func hook() {
        guard !hooked else { return }
        hooked = true
        atexit { EtcdProcessRegistry.killAll() }
    }

    static func remove(_ pid: Int32) { _ = lock.withLock { pids.remove(pid) } }

    static func claim(_ port: Int) -> Bool { lock.withLock { ports.insert(port).inserted } }

    /// SIGKILL to every member still running, and their data removed.
    static func killAll() {
        for pid in lock.withLock({ pids }) { _ = Glibc.kill(pid, SIGKILL) }
        for d in lock.withLock({ directories }) { try? FileManager.default.removeItem(at: d) }
    }
}

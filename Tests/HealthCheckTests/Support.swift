import DNSWire
import Logging
import NIOCore
import NIOPosix
import Foundation
@testable import HealthCheck

#if canImport(Glibc)
import Glibc
#endif

/// The tests' own event loops, for the listeners: suites elsewhere keep the singleton's loops busy
/// when the whole package is tested. (The checker probes from threads of its own.)
let testGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)

/// Counts the connections accepted by a `CountingListener`.
final class ConnectCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}

/// A NIO TCP listener on a loopback address that accepts, counts and closes every connection.
struct CountingListener {
    let channel: any Channel
    let counter: ConnectCounter
    let port: UInt16

    static func start(host: String = "127.0.0.1", port: UInt16 = 0, counter: ConnectCounter = ConnectCounter()) async throws
        -> CountingListener {
        let channel = try await ServerBootstrap(group: testGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                counter.add()
                return child.close()
            }
            .bind(host: host, port: Int(port)).get()
        return CountingListener(channel: channel, counter: counter, port: UInt16(channel.localAddress!.port!))
    }

    var connects: Int { counter.count }

    /// Closes the listening socket: connects are refused from now on.
    func stop() async throws { try await channel.close() }
}

/// A TCP socket that listens with a backlog of 0 and never accepts, its accept queue already full
/// with one connection of ours: the kernel drops every further SYN, so connects time out. Needs no
/// root and touches only loopback. Close it exactly once.
struct Blackhole {
    let listener: Int32
    let filler: Int32
    let port: UInt16

    static func start(ipv6: Bool = false) throws -> Blackhole {
        let listener = try rawSocket(ipv6: ipv6)
        let port = try bindLoopback(listener, ipv6: ipv6, port: 0)
        guard listen(listener, 0) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
        let filler = try rawSocket(ipv6: ipv6)
        try connectLoopback(filler, ipv6: ipv6, port: port)  // completes in the kernel; never accepted
        return Blackhole(listener: listener, filler: filler, port: port)
    }

    func close() {
        _ = Glibc.close(filler)
        _ = Glibc.close(listener)
    }
}

/// A loopback port nothing listens on (bound for a moment, then closed): connects are refused.
func closedPort(ipv6: Bool = false) throws -> UInt16 {
    let fd = try rawSocket(ipv6: ipv6)
    defer { _ = Glibc.close(fd) }
    return try bindLoopback(fd, ipv6: ipv6, port: 0)
}

private func rawSocket(ipv6: Bool) throws -> Int32 {
    let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
    return fd
}

private func withLoopback<R>(ipv6: Bool, port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    if ipv6 {
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_port = port.bigEndian
        a.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
    }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = port.bigEndian
    a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
}

private func bindLoopback(_ fd: Int32, ipv6: Bool, port: UInt16) throws -> UInt16 {
    guard withLoopback(ipv6: ipv6, port: port, { bind(fd, $0, $1) }) == 0 else {
        throw IOError(errnoCode: errno, reason: "bind")
    }
    var storage = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return withUnsafePointer(to: &storage) { p in
        ipv6 ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
             : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
    }
}

private func connectLoopback(_ fd: Int32, ipv6: Bool, port: UInt16) throws {
    guard withLoopback(ipv6: ipv6, port: port, { connect(fd, $0, $1) }) == 0 else {
        throw IOError(errnoCode: errno, reason: "connect")
    }
}

/// Records every transition of a checker with the time it arrived.
actor TransitionLog {
    private(set) var entries: [(transition: HealthTransition, at: ContinuousClock.Instant)] = []

    func add(_ t: HealthTransition) { entries.append((t, .now)) }

    /// Waits until `target` has a transition to `verdict` after `index` entries; returns it and when
    /// it arrived, nil after `timeout`.
    func wait(for target: ProbeTarget, to verdict: Verdict, after index: Int = 0, timeout: Duration = .seconds(5)) async
        -> (transition: HealthTransition, at: ContinuousClock.Instant)? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let hit = entries.dropFirst(index).first(where: { $0.transition.target == target && $0.transition.health.verdict == verdict }) {
                return hit
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    var count: Int { entries.count }
}

/// Runs a checker (by default no stagger, 2 ms batches) for the duration of `body`, its transitions logged.
func withChecker<R: Sendable>(
    _ configuration: HealthCheckerConfiguration = HealthCheckerConfiguration(jitter: 0, seed: 1, batchDelay: .milliseconds(2)),
    _ body: (HealthChecker, TransitionLog) async throws -> R
) async throws -> R {
    var logger = Logger(label: "HealthCheckTests")
    logger.logLevel = .critical
    let checker = HealthChecker(logger: logger, configuration: configuration)
    let log = TransitionLog()
    let runner = Task { await checker.run() }
    let consumer = Task { for await t in checker.transitions { await log.add(t) } }
    defer {
        runner.cancel()
        consumer.cancel()
    }
    await checker.waitUntilRunning()
    let result = try await body(checker, log)
    runner.cancel()
    await runner.value
    await consumer.value  // transitions finish when run() returns
    return result
}

func loopback(_ port: UInt16, ipv6: Bool = false, timing: ProbeTiming) -> ProbeTarget {
    ProbeTarget(address: IPAddress(ipv6 ? "::1" : "127.0.0.1")!, port: port, timing: timing)
}

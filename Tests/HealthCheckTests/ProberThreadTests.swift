import DNSWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import HealthCheck

#if canImport(Glibc)
import Glibc
#endif

/// The prober threads: many targets on one thread, several threads, running out of descriptors,
/// the summary line. Loopback only.
@Suite struct ProberThreadTests {
    /// 2,000 listeners (500 ports on each of 127.0.0.2 … 127.0.0.5), each a target at 1 s with a
    /// single-failure threshold: every one comes up within the stagger and none ever fails. Not on
    /// 127.0.0.1: tests running beside this one bind a UDP port there and then TCP on the same
    /// number, which 2,000 kernel-chosen TCP ports on 127.0.0.1 would often be holding.
    @Test func twoThousandTargetsComeUpAndStayUp() async throws {
        let counter = ConnectCounter()
        var listeners: [CountingListener] = []
        for host in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
            for _ in 0..<500 { listeners.append(try await CountingListener.start(host: host, counter: counter)) }
        }
        let timing = ProbeTiming(interval: .seconds(1), timeout: .milliseconds(500), failureThreshold: 1)
        let targets = Set(listeners.map {
            ProbeTarget(address: IPAddress($0.channel.localAddress!.ipAddress!)!, port: $0.port, timing: timing)
        })
        #expect(targets.count == 2000)
        try await withChecker(HealthCheckerConfiguration(jitter: 1, seed: 7, batchDelay: .milliseconds(10))) { checker, log in
            let clock = ContinuousClock()
            let start = clock.now
            await checker.setTargets(targets)
            var m = await checker.metrics()
            while m.targetsUp < targets.count && clock.now - start < .seconds(30) {
                try await Task.sleep(for: .milliseconds(50))
                m = await checker.metrics()
            }
            let allUp = clock.now - start
            #expect(m.targetsUp == targets.count, "\(m.targetsUp) up after \(allUp)")
            try await Task.sleep(for: .seconds(2))  // two more probes each
            m = await checker.metrics()
            print("HealthCheck 2000: all up after \(allUp); \(m.probes.total) probes (failed \(m.probes.total - m.probes.success), skipped \(m.probes.skippedOverlap)); drift mean \(m.scheduleDrift.mean) max \(m.scheduleDrift.max); latency mean \(m.latency.mean) max \(m.latency.max); listeners saw \(counter.count)")
            #expect(m.targetsUp == targets.count && m.targetsDown == 0)
            #expect(m.probes.success == m.probes.total && m.probes.skippedOverlap == 0)
            #expect(m.probes.total >= 2 * targets.count)
            #expect(await log.count == targets.count)  // unknown → up, once each
        }
        for listener in listeners { try await listener.stop() }
    }

    @Test func targetsSpreadOverThreads() async throws {
        let listener = try await CountingListener.start()
        let timing = ProbeTiming(interval: .milliseconds(100), timeout: .milliseconds(80), failureThreshold: 1)
        let up = (0..<30).map {
            ProbeTarget(address: IPAddress("127.0.0.1")!, port: listener.port,
                        timing: ProbeTiming(interval: .milliseconds(100 + $0), timeout: .milliseconds(80), failureThreshold: 1))
        }
        let refused = loopback(try closedPort(), timing: timing)
        let configuration = HealthCheckerConfiguration(jitter: 0, seed: 1, batchDelay: .milliseconds(2), threads: 3)
        try await withChecker(configuration) { checker, log in
            await checker.setTargets(Set(up + [refused]))
            for target in up { #expect(await log.wait(for: target, to: .up) != nil) }
            #expect(await log.wait(for: refused, to: .down)?.transition.health.lastError?.message == "connection refused")
            await checker.setTargets([])
            try await Task.sleep(for: .milliseconds(100))  // a probe in flight may still land
            let after = listener.connects
            try await Task.sleep(for: .milliseconds(300))
            #expect(listener.connects == after)
        }
        try await listener.stop()
    }

    /// socket() failing with EMFILE (stood in for: lowering RLIMIT_NOFILE would starve the tests
    /// running beside this one) is this server's lack of descriptors, not a verdict about the
    /// target: an up target stays up, a new one stays unknown (healthy), the probes are counted as
    /// not started, and it is logged once per 10 s with the limits. When sockets come back, probes
    /// succeed again.
    @Test(arguments: [EMFILE, ENFILE, ENOBUFS, ENOMEM])
    func ownLackOfDescriptorsIsNoVerdict(_ code: Int32) async throws {
        let logs = CapturedLogs()
        let short = ShortOfSockets()
        let openSocket: @Sendable (Int32) -> Int32 = { family in
            if short.on {
                errno = code
                return -1
            }
            return ProbeLoop.openSocket(family)
        }
        let checker = HealthChecker(logger: Logger(label: "test") { _ in CapturingLogHandler(logs: logs) },
                                    configuration: HealthCheckerConfiguration(jitter: 0, batchDelay: .milliseconds(2)),
                                    openSocket: openSocket)
        let listener = try await CountingListener.start()
        let timing = ProbeTiming(interval: .milliseconds(50), timeout: .milliseconds(40), failureThreshold: 1)
        let up = loopback(listener.port, timing: timing)
        let refused = loopback(try closedPort(), timing: timing)
        let runner = Task { await checker.run() }
        await checker.waitUntilRunning()
        await checker.setTargets([up])
        let clock = ContinuousClock()
        var start = clock.now
        while (await checker.health(of: up))?.verdict != .up && clock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(await checker.health(of: up)?.verdict == .up)
        short.on = true
        // A target added while sockets are short: never probed, so unknown (healthy), never down,
        // although nothing listens on its port.
        await checker.setTargets([up, refused])
        start = clock.now
        while (await checker.metrics().probes.localResourceFailures) < 20 && clock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(10))
        }
        var m = await checker.metrics()
        #expect(m.probes.localResourceFailures >= 20)
        #expect(m.probes.other == 0 && m.probes.refused == 0)
        #expect(m.targetsDown == 0)
        #expect(await checker.health(of: up)?.verdict == .up)
        #expect(await checker.health(of: up)?.lastError == nil)
        #expect(await checker.health(of: refused)?.verdict == .unknown)
        #expect(await checker.health(of: refused)?.isHealthy == true)
        let said = logs.messages.filter { $0.message.contains("cannot open sockets") }
        #expect(said.count == 1)  // rate-limited: at most one line per 10 s
        #expect(said.first?.metadata["error"] == ProbeError(errno: code, timeout: .zero).message)
        #expect(said.first?.metadata["nofile_soft"] != nil)
        short.on = false
        let successes = m.probes.success
        start = clock.now
        while clock.now - start < .seconds(30) {
            let down = await checker.health(of: refused)?.verdict == .down
            let succeeded = await checker.metrics().probes.success
            if down && succeeded > successes { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        m = await checker.metrics()
        #expect(m.probes.success > successes)
        #expect(await checker.health(of: refused)?.lastError?.message == "connection refused")
        #expect(await checker.health(of: up)?.verdict == .up)
        runner.cancel()
        await runner.value
        try await listener.stop()
    }

    /// The prober thread exists while run() runs, and is gone (joined) once it returns.
    @Test func runEndsItsThreads() async throws {
        let seen = ThreadIDs()
        let openSocket: @Sendable (Int32) -> Int32 = { family in
            seen.add(currentThreadID())
            return ProbeLoop.openSocket(family)
        }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let checker = HealthChecker(logger: logger, configuration: HealthCheckerConfiguration(jitter: 0, threads: 2),
                                    openSocket: openSocket)
        let timing = ProbeTiming(interval: .milliseconds(20), timeout: .milliseconds(15))
        let port = try closedPort()
        await checker.setTargets([loopback(port, timing: timing),
                                  loopback(port, timing: ProbeTiming(interval: .milliseconds(21), timeout: .milliseconds(15)))])
        let runner = Task { await checker.run() }
        let clock = ContinuousClock()
        let start = clock.now
        while seen.all.count < 2 && clock.now - start < .seconds(30) { try await Task.sleep(for: .milliseconds(5)) }
        let threads = seen.all
        #expect(threads.count == 2)  // one target on each thread
        for tid in threads { #expect(access("/proc/self/task/\(tid)", F_OK) == 0) }
        runner.cancel()
        await runner.value
        for tid in threads { #expect(access("/proc/self/task/\(tid)", F_OK) != 0, "thread \(tid) still there") }
    }

    @Test func summaryLine() async throws {
        let logs = CapturedLogs()
        let checker = HealthChecker(logger: Logger(label: "test") { _ in CapturingLogHandler(logs: logs) },
                                    configuration: HealthCheckerConfiguration(jitter: 0, batchDelay: .milliseconds(2),
                                                                              summaryInterval: .milliseconds(300)))
        let listener = try await CountingListener.start()
        let up = loopback(listener.port, timing: ProbeTiming(interval: .milliseconds(50), timeout: .milliseconds(40)))
        let runner = Task { await checker.run() }
        await checker.waitUntilRunning()
        await checker.setTargets([up])
        let clock = ContinuousClock()
        let start = clock.now
        while logs.messages.filter({ $0.message == "health probes" }).count < 2 && clock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(20))
        }
        runner.cancel()
        await runner.value
        try await listener.stop()
        let summaries = logs.messages.filter { $0.message == "health probes" }
        #expect(summaries.count >= 2)
        if let last = summaries.last {
            #expect(last.metadata["targets"] == "1" && last.metadata["up"] == "1")
            // Every 50 ms, in windows of about 300 ms (fewer when two busy cores delay the thread).
            #expect(Int(last.metadata["probes"] ?? "") ?? 0 >= 1)
            #expect(summaries.compactMap { Int($0.metadata["probes"] ?? "") }.reduce(0, +) >= 4)
            #expect(last.metadata["success"] == last.metadata["probes"])
            #expect(Double(last.metadata["drift_mean_ms"] ?? "") != nil)
            #expect(Double(last.metadata["drift_max_ms"] ?? "") != nil)
            #expect(last.metadata["drift_p99_le_ms"] != nil)
            #expect(Double(last.metadata["latency_mean_ms"] ?? "") ?? 0 > 0)
        }
    }
}

/// Log events kept for a test to read.
final class CapturedLogs: @unchecked Sendable {
    struct Entry {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    private let lock = NSLock()
    private var entries: [Entry] = []
    func add(_ e: Entry) { lock.withLock { entries.append(e) } }
    var messages: [Entry] { lock.withLock { entries } }
}

struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let all = metadata.merging(explicit ?? [:]) { $1 }
        logs.add(.init(level: level, message: message.description, metadata: all.mapValues { "\($0)" }))
    }
}

/// Kernel thread ids seen by an `openSocket` hook (which runs on the prober threads).
final class ThreadIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids = Set<Int>()
    func add(_ id: Int) { lock.withLock { _ = ids.insert(id) } }
    var all: Set<Int> { lock.withLock { ids } }
}

/// The calling thread's kernel id, from the /proc/thread-self link ("PID/task/TID").
func currentThreadID() -> Int {
    var buffer = [CChar](repeating: 0, count: 64)
    let n = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard n > 0 else { return -1 }
    let link = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return Int(link.split(separator: "/").last ?? "") ?? -1
}

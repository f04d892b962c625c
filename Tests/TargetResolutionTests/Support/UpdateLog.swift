import DNSWire
import Logging
import NIOPosix
import TargetResolution

/// Everything a tracker yielded, collected by a task of its own, with bounded waits.
actor UpdateLog {
    private(set) var updates: [ResolutionUpdate] = []

    func append(_ update: ResolutionUpdate) { updates.append(update) }

    /// Waits until at least `count` updates arrived (at most `timeout`); returns all so far.
    func wait(forCount count: Int, timeout: Duration = .seconds(10)) async -> [ResolutionUpdate] {
        let deadline = ContinuousClock.now + timeout
        while updates.count < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return updates
    }

    func updates(for name: DNSName) -> [ResolutionUpdate] { updates.filter { $0.name == name } }
}

/// Runs a tracker (its loop and a consumer of its updates) around `body`, and stops both on every
/// path; afterwards the updates stream must have finished.
func withTracker<R>(
    _ configuration: UpstreamConfiguration,
    _ body: (ResolutionTracker, UpdateLog) async throws -> R
) async throws -> R {
    let resolver = UpstreamResolver(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
    var logger = Logger(label: "test.resolution")
    logger.logLevel = .debug
    let tracker = ResolutionTracker(resolver: resolver, configuration: configuration, logger: logger)
    let log = UpdateLog()
    let loop = Task { await tracker.run() }
    let consumer = Task {
        for await update in tracker.updates { await log.append(update) }
    }
    func stop() async {
        loop.cancel()
        await loop.value
        await consumer.value  // ends because run() finished the stream
    }
    do {
        let result = try await body(tracker, log)
        await stop()
        return result
    } catch {
        await stop()
        throw error
    }
}

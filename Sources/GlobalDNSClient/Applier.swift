import Foundation
import GSLB

/// What `apply` did to one object, printed as `nameservice/NAME created|configured|unchanged`.
public struct ApplyAction: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    private init(_ rawValue: String) { self.rawValue = rawValue }

    public static let created = ApplyAction("created")
    public static let configured = ApplyAction("configured")
    public static let unchanged = ApplyAction("unchanged")

    public var description: String { rawValue }
}

extension NameServiceClient {
    /// Creates or replaces `object` with one PUT. The server does not write an object whose labels
    /// and spec are already stored (no new resourceVersion, no watch event) and says so
    /// (`unchanged`). A `metadata.resourceVersion` in the manifest is sent, so the write is
    /// put-if-version; when that version is stale but the stored labels and spec are the
    /// manifest's already, the answer is `unchanged` as before (one GET, only then).
    public func apply(_ object: NameService, over connection: HTTPConnection? = nil) async throws -> ApplyAction {
        do {
            return try await put(object, over: connection).result
        } catch let error as APIError where error.httpStatus == 409 && !(object.metadata.resourceVersion ?? "").isEmpty {
            if let existing = try await getIfPresent(object.metadata.name),
               existing.apiVersion == object.apiVersion,
               existing.metadata.labels == object.metadata.labels,
               existing.spec == object.spec {
                return .unchanged
            }
            throw error
        }
    }

    /// Applies every object of `objects` with at most `concurrency` requests in flight, each
    /// worker on a kept-alive connection of its own (a new one only when the server closes it).
    /// `onResult` gets each object's index and outcome as it completes (in completion order, on
    /// one task at a time); an object's failure (an API error, a timeout) does not stop the others.
    /// Only a server that cannot be reached at all ends the run early: the connect error is thrown.
    public func applyAll(_ objects: [NameService], concurrency: Int,
                         onResult: @escaping @Sendable (Int, Result<ApplyAction, any Error>) async -> Void) async throws {
        guard !objects.isEmpty else { return }
        let queue = IndexQueue(count: objects.count)
        let reporter = ResultReporter(onResult)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, min(concurrency, objects.count)) {
                group.addTask {
                    try await self.applyWorker(objects, queue, reporter)
                }
            }
            try await group.waitForAll()
        }
    }

    /// Takes indices from `queue` until it is empty, applying each over a kept-alive connection;
    /// opens another when the server closed it. A request that failed on a connection that had
    /// already served one, before any answer, is sent once more on a new connection (the server
    /// may have timed the idle connection out just then).
    private func applyWorker(_ objects: [NameService], _ queue: IndexQueue, _ reporter: ResultReporter) async throws {
        var pending = queue.next()
        var retried = false
        while let first = pending {
            var current = first
            var servedBefore = false
            do {
                try await http.withConnection { connection in
                    while true {
                        servedBefore = connection.completed > 0
                        let outcome: Result<ApplyAction, any Error>
                        do {
                            outcome = .success(try await apply(objects[current], over: connection))
                        } catch let error as APIError {
                            outcome = .failure(error)
                        } catch let error as ClientError where error.code == .invalidManifest || error.code == .invalidResponse
                                                                || error.code == .invalidArgument {
                            outcome = .failure(error)
                        }
                        await reporter.report(current, outcome)
                        retried = false
                        guard let next = queue.next() else {
                            pending = nil
                            return
                        }
                        current = next
                        guard connection.isReusable else {
                            pending = next
                            return
                        }
                    }
                }
            } catch let error as ClientError where error.code == .connectionRefused || error.code == .connectFailed
                                                    || error.code == .connectTimedOut {
                throw error  // the server cannot be reached: every other object would fail the same way
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if servedBefore, !retried, (error as? ClientError)?.code == .connectionClosed {
                    retried = true
                    pending = current
                } else {
                    await reporter.report(current, .failure(error))
                    retried = false
                    pending = queue.next()
                }
            }
        }
    }
}

/// Hands out 0..<count once each, to any number of workers.
private final class IndexQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func next() -> Int? {
        lock.withLock {
            guard nextIndex < count else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }
}

/// Calls the result callback one at a time.
private actor ResultReporter {
    private let onResult: @Sendable (Int, Result<ApplyAction, any Error>) async -> Void

    init(_ onResult: @escaping @Sendable (Int, Result<ApplyAction, any Error>) async -> Void) { self.onResult = onResult }

    func report(_ index: Int, _ result: Result<ApplyAction, any Error>) async { await onResult(index, result) }
}

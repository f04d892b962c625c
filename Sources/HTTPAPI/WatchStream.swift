import GSLB
import Hummingbird
import Logging
import NameServiceStore
import Foundation
import NIOCore
import ServiceLifecycle

/// One watch request: newline-delimited JSON events, written as they happen.
///
/// - Without a start revision it lists first (every current object as `ADDED`) and then follows
///   from the list's revision, as Kubernetes does; with one it sends every change after it.
/// - A label selector filters events; an object that stops matching is sent once as `DELETED`
///   (when the stream saw it matching), one that starts matching arrives as its event says.
/// - A compacted start revision (or any store failure) ends the stream with one
///   `{"type":"ERROR","object":<Status>}` line (410 `Expired` for compaction).
/// - The stream ends cleanly when the client disconnects (the channel closes), on graceful
///   shutdown of the server, after `timeout` when one was asked for, or when the store's stream ends.
/// - Events wait for the client in a `WatchBuffer` of at most `maxBufferBytes` (issue 12): a client
///   that falls that far behind gets `{"type":"ERROR","object":<Status 410 Expired>}` and the end
///   of the stream, or, when even that cannot be written within `overflowGrace`, a closed
///   connection; either way it relists, as with Kubernetes. The buffer and the store's watch are
///   released at once (the store's stream is dropped, which ends its replay too).
struct WatchStream: Sendable {
    let store: any NameServiceStore
    let selector: LabelSelector?
    let fromRevision: Int64?
    let timeout: Duration?
    let maxBufferBytes: Int
    let statistics: WatchStatistics
    /// Objects per store page of the initial list (`api.maxListLimit`).
    let pageSize: Int
    /// The initial list's writes: the client must take each within `api.writeTimeoutSeconds`.
    let initialListGuard: StalledWriteGuard
    let channel: any Channel
    let logger: Logger

    /// How long an overflowed stream may take to write its ERROR line before it is closed.
    static let overflowGrace: TimeAmount = .seconds(2)

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        var matching = Set<String>()
        let start: Int64
        if let fromRevision {
            start = fromRevision
        } else {
            guard let revision = try await initialList(&matching, &writer) else {
                try await writer.finish(nil)  // the ERROR line is the last
                return
            }
            start = revision
        }

        let buffer = WatchBuffer(limit: maxBufferBytes, statistics: statistics)
        let channel = self.channel
        buffer.onOverflow = {
            _ = channel.eventLoop.scheduleTask(in: Self.overflowGrace) {
                if !buffer.isDone { channel.close(promise: nil) }
            }
        }
        channel.closeFuture.whenComplete { _ in buffer.end("client disconnected") }
        try await HangUpDetector.install(on: channel) { buffer.end("client hung up") }

        let reason: String
        do {
            reason = try await withThrowingTaskGroup(of: Void.self, returning: String.self) { group in
                let (store, selector, initial) = (self.store, self.selector, matching)
                group.addTask { await Self.pump(store: store, selector: selector, from: start, matching: initial, into: buffer) }
                if let timeout {
                    group.addTask {
                        try? await Task.sleep(for: timeout)
                        buffer.end("timeoutSeconds elapsed")
                    }
                }
                defer { group.cancelAll() }
                return try await follow(buffer, &writer, shutdown: { buffer.end("server shutting down") })
            }
        } catch {
            buffer.close()
            await HangUpDetector.remove(from: channel)
            throw error
        }
        buffer.close()
        await HangUpDetector.remove(from: channel)
        logger.debug("watch ended", metadata: ["reason": .string(reason)])
        try await writer.finish(nil)
    }

    /// Sends every current object as ADDED, read from the store in pages of `pageSize` (all at
    /// the first page's revision) and written in chunks of at most `maxBufferBytes` (32 KiB
    /// usually) as they are encoded, so the initial list of a watch from scratch holds one page
    /// and one chunk whatever the size of the store. A client that does not take a chunk within
    /// the write timeout is disconnected (`StalledWriteGuard`). Returns the revision to follow
    /// from, or nil when the list failed (its ERROR line written: 410 Expired for a page that
    /// expired meanwhile, so the client lists again).
    private func initialList(_ matching: inout Set<String>, _ writer: inout any ResponseBodyWriter) async throws -> Int64? {
        let chunkLimit = max(1, min(ListStream.chunkBytes, maxBufferBytes))
        var chunk = ByteBuffer()
        var encoder = ItemEncoder()
        var options = ListOptions(selector: selector, limit: pageSize)
        var revision: Int64?
        while true {
            let page: ListPage
            do {
                page = try await store.listPage(options)
            } catch {
                if chunk.readableBytes > 0 { try await initialListGuard.write(chunk, &writer) }
                let status = error.code == .expired
                    ? APIStatus(code: 410, reason: "Expired",
                                message: "the initial list expired between its pages (\(error.message)); list and watch again")
                    : APIStatus.from(error, name: nil)
                try await writeError(status, &writer)
                return nil
            }
            if revision == nil { revision = page.revision }
            for ns in page.items {
                if selector != nil { matching.insert(ns.metadata.name) }  // only a selector needs to know what matched
                encoder.encode(WatchEvent(type: StoreEvent.Kind.added.rawValue, object: ns), into: &chunk)
                chunk.writeInteger(UInt8(ascii: "\n"))
                if chunk.readableBytes >= chunkLimit {
                    try await initialListGuard.write(chunk, &writer)
                    chunk.clear()
                }
            }
            guard let token = page.continueToken else { break }
            options.continueToken = token
        }
        if chunk.readableBytes > 0 { try await initialListGuard.write(chunk, &writer) }
        return revision
    }

    /// Follows the store from `from`, filters and encodes each event and queues it; stops when the
    /// buffer is done (overflow, hang-up, timeout) or this task is cancelled. Returning drops the
    /// store's stream, which ends the store's side of the watch (its replay included).
    private static func pump(store: any NameServiceStore, selector: LabelSelector?, from: Int64, matching initial: Set<String>,
                             into buffer: WatchBuffer) async {
        var matching = initial
        do {
            for try await event in store.watch(fromRevision: from) {
                guard let type = filter(event, selector, &matching) else { continue }
                guard buffer.push(line(WatchEvent(type: type, object: event.object))) else { return }
            }
            buffer.finish(.end("store stream ended"))
        } catch let error as StoreError {
            buffer.finish(.failed(error))
        } catch is CancellationError {
            buffer.end("cancelled")
        } catch {
            buffer.finish(.failed(StoreError(.unavailable, "\(error)")))
        }
    }

    /// Writes queued events until the buffer ends; returns why it ended.
    private func follow(_ buffer: WatchBuffer, _ writer: inout any ResponseBodyWriter,
                        shutdown: @escaping @Sendable () -> Void) async throws -> String {
        try await withGracefulShutdownHandler {
            while true {
                switch await buffer.next() {
                case .line(let bytes):
                    try await writer.write(bytes)
                    buffer.written(bytes.readableBytes)
                case .failed(let error):
                    try await writeError(APIStatus.from(error, name: nil), &writer)
                    return "store error: \(error)"
                case .overflow:
                    try await writeError(APIStatus(code: 410, reason: "Expired",
                                                   message: "the watch fell more than \(maxBufferBytes) bytes behind (api.watch.maxBufferBytes); list again and watch from the list's resourceVersion"),
                                         &writer)
                    return "overflow: the client fell more than \(maxBufferBytes) bytes behind"
                case .end(let why):
                    return why
                }
            }
        } onGracefulShutdown: {
            shutdown()
        }
    }

    /// The event type to send for `event` under the selector, or nil to skip it.
    private static func filter(_ event: StoreEvent, _ selector: LabelSelector?, _ matching: inout Set<String>) -> String? {
        let name = event.object.metadata.name
        guard let selector else { return event.kind.rawValue }
        let matches = selector.matches(event.object.metadata.labels)
        switch event.kind {
        case .deleted:
            matching.remove(name)
            return matches ? event.kind.rawValue : nil
        case .added, .modified:
            if matches {
                matching.insert(name)
                return event.kind.rawValue
            }
            return matching.remove(name) != nil ? StoreEvent.Kind.deleted.rawValue : nil
        }
    }

    private func writeError(_ status: APIStatus, _ writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(Self.line(WatchEvent(type: "ERROR", object: status)))
    }

    private func line(_ value: some Encodable) -> ByteBuffer { Self.line(value) }

    private static func line(_ value: some Encodable) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: JSONCoding.encode(value))
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}

/// Open watch streams and the output they hold for their clients (for tests and metrics).
public final class WatchStatistics: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0
    private var buffered = 0
    private var peak = 0
    private var overflowed = 0

    public init() {}

    /// Watch streams following the store now.
    public var openStreams: Int { lock.withLock { open } }
    /// Bytes queued for all watchers and not yet handed to their connections.
    public var bufferedBytes: Int { lock.withLock { buffered } }
    /// The most one stream has held at once.
    public var peakStreamBytes: Int { lock.withLock { peak } }
    /// Streams ended because their client fell `maxBufferBytes` behind.
    public var overflows: Int { lock.withLock { overflowed } }

    func opened() { lock.withLock { open += 1 } }
    func closed() { lock.withLock { open -= 1 } }
    func add(_ n: Int, streamTotal: Int) { lock.withLock { buffered += n; peak = max(peak, streamTotal) } }
    func overflow() { lock.withLock { overflowed += 1 } }
}

/// The events of one watch waiting for its client, at most `limit` bytes. The pump pushes without
/// waiting; the writer takes them in order. Ends (hang-up, timeout, shutdown, overflow) come
/// first and drop what is queued; a store failure or the store's end comes after the queued events.
final class WatchBuffer: @unchecked Sendable {
    enum Item { case line(ByteBuffer), failed(StoreError), overflow, end(String) }

    private let lock = NSLock()
    private let limit: Int
    private let statistics: WatchStatistics
    private var lines = CircularBuffer<ByteBuffer>()
    private var bytes = 0
    /// Bytes handed to the writer and not yet written (they count against the limit too).
    private var writing = 0
    private var urgent: Item?
    private var last: Item?
    private var waiter: CheckedContinuation<Item, Never>?
    private var done = false
    private var closed = false
    /// Called once when the limit is passed.
    var onOverflow: (@Sendable () -> Void)?

    init(limit: Int, statistics: WatchStatistics) {
        self.limit = limit
        self.statistics = statistics
        statistics.opened()
    }

    /// True once the writer has taken its last item or the buffer is closed.
    var isDone: Bool { lock.withLock { done || closed } }

    /// Queues one line; false when the stream is ending (overflow included): stop pumping.
    func push(_ line: ByteBuffer) -> Bool {
        var overflowed = false
        let accepted: Bool = lock.withLock {
            guard !closed, urgent == nil, last == nil else { return false }
            let size = line.readableBytes
            if bytes + writing > 0 && bytes + writing + size > limit {  // one event always fits
                overflowed = true
                dropQueued()
                urgent = .overflow
                wake()
                return false
            }
            lines.append(line)
            bytes += size
            statistics.add(size, streamTotal: bytes + writing)
            wake()
            return true
        }
        if overflowed {
            statistics.overflow()
            onOverflow?()
        }
        return accepted
    }

    /// Ends the stream after what is queued (store failure or end).
    func finish(_ item: Item) {
        lock.withLock {
            guard last == nil else { return }
            last = item
            wake()
        }
    }

    /// Ends the stream now, dropping what is queued (hang-up, timeout, shutdown).
    func end(_ reason: String) {
        lock.withLock {
            guard urgent == nil else { return }
            dropQueued()
            urgent = .end(reason)
            wake()
        }
    }

    /// The writer wrote `n` bytes it took.
    func written(_ n: Int) {
        lock.withLock {
            guard !closed else { return }
            writing -= n
            statistics.add(-n, streamTotal: 0)
        }
    }

    /// The next item for the writer.
    func next() async -> Item {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Item, Never>) in
                lock.withLock {
                    if let item = take() {
                        continuation.resume(returning: item)
                    } else {
                        waiter = continuation
                    }
                }
            }
        } onCancel: {
            end("cancelled")
        }
    }

    /// Releases everything; the stream is over.
    func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            dropQueued()
            statistics.add(-writing, streamTotal: 0)
            writing = 0
            waiter?.resume(returning: .end("closed"))
            waiter = nil
            statistics.closed()
        }
    }

    // Under the lock:

    private func take() -> Item? {
        if let urgent {
            done = true
            return urgent
        }
        if let line = lines.popFirst() {
            bytes -= line.readableBytes
            writing += line.readableBytes
            return .line(line)
        }
        if let last {
            done = true
            return last
        }
        if closed {
            done = true
            return .end("closed")
        }
        return nil
    }

    private func wake() {
        guard let waiter, let item = take() else { return }
        self.waiter = nil
        waiter.resume(returning: item)
    }

    private func dropQueued() {
        statistics.add(-bytes, streamTotal: 0)
        lines.removeAll()
        bytes = 0
    }
}

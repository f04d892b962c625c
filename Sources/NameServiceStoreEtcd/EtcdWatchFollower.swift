import Foundation
import GSLB
import NameServiceStore
import NIOConcurrencyHelpers

/// One `watch(fromRevision:)` stream: follows etcd's `/v3/watch` on one member at a time and
/// hides reconnection from the consumer.
///
/// - Every attempt starts at the revision after the last one delivered, so a reconnect neither
///   loses nor repeats an event (events at or below it are dropped anyway).
/// - A member that fails (connect, stream end, a gateway error, or a keepalive read that gets no
///   quorum answer within the request timeout) is left for the next member; after a whole round
///   of failures the follower waits (100 ms doubling to 2 s) and marks etcd unreachable.
/// - etcd cancelling the watch with a compact revision ends the stream with `.compacted`.
/// - The consumer dropping the stream cancels the task, which closes the connection.
/// - The events the consumer has not taken yet are bounded in bytes (`maxBufferBytes`, their
///   documents): past it the stream ends with `.compacted` (410 Expired, relist) after what is
///   already buffered, and the connection closes, instead of growing without bound.
struct EtcdWatchFollower: Sendable {
    let store: EtcdNameServiceStore
    let from: Int64
    let continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation
    let maxBufferBytes: Int
    /// The stream's count limit (never reached first): `yield` answers with the free slots, so
    /// the follower knows how many of the events it gave are still unread.
    static let bufferSlots = 1 << 30
    /// The sizes of the events given and perhaps not taken yet, oldest first, and their sum.
    private let unread = NIOLockedValueBox(Unread())

    struct Unread {
        var sizes: [Int] = []
        var head = 0
        var bytes = 0

        /// Records an event of `size` bytes, of which the newest `buffered` are still unread.
        mutating func gave(_ size: Int, buffered: Int) -> Int {
            sizes.append(size)
            bytes += size
            while sizes.count - head > buffered {
                bytes -= sizes[head]
                head += 1
            }
            if head >= 1024 || head * 2 >= sizes.count {
                sizes.removeFirst(head)
                head = 0
            }
            return bytes
        }
    }

    init(store: EtcdNameServiceStore, from: Int64, continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation,
         maxBufferBytes: Int) {
        self.store = store
        self.from = from
        self.continuation = continuation
        self.maxBufferBytes = maxBufferBytes
    }

    private enum Stop: Error {
        case finished(StoreError?)
    }

    func run() async {
        let client = store.client
        let delivered = NIOLockedValueBox(from)
        var index = client.order()[0]
        var failures: [String] = []
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            let endpoint = client.endpoints[index]
            do {
                try await follow(endpoint, index: index, delivered: delivered)
                failures.append("\(endpoint): the watch stream ended")
            } catch Stop.finished(let error) {
                continuation.finish(throwing: error)
                return
            } catch {
                if Task.isCancelled { break }
                failures.append("\(endpoint): \(error)")
            }
            index = (index + 1) % client.endpoints.count
            if failures.count >= client.endpoints.count {
                client.noteUnreachable("etcd unreachable at \(client.endpointList) (watch): \(failures.joined(separator: "; "))")
                failures = []
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
        // Only cancellation gets here: the consumer dropped the stream (or the store is closing).
        // End it quietly, as the other stores do; an error could reach a consumer still draining it.
        continuation.finish()
    }

    /// One connection: the watch stream beside a keepalive that reads through the quorum.
    private func follow(_ endpoint: EtcdEndpoint, index: Int, delivered: NIOLockedValueBox<Int64>) async throws {
        let client = store.client
        let (key, end) = store.watchRequestKey
        let request = EtcdWire.WatchRequest(createRequest: .init(
            key: key, rangeEnd: end, startRevision: .init(delivered.withLockedValue { $0 } + 1),
            progressNotify: true, prevKv: true))
        let body = Array(try EtcdWire.encoder.encode(request))
        let probe = Array(try EtcdWire.encoder.encode(EtcdWire.RangeRequest(key: key, countOnly: true)))
        let keepalive = Duration.milliseconds(Int64(client.configuration.keepaliveSeconds * 1000))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let token = try await client.token(endpoint, renew: false)
                let refused = try await client.http.stream(endpoint, "/v3/watch", body: body, token: token) { line in
                    try handle(line, delivered: delivered, reached: { client.noteReached(index) })
                }
                if let refused {
                    if refused.status == 401 { _ = try await client.token(endpoint, renew: true) }
                    throw EtcdTransportError(description: EtcdClient.errorBody(refused).text)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: keepalive)
                    let answer = try await client.postAuthenticated(endpoint, "/v3/kv/range", probe)
                    guard answer.status == 200 else {
                        throw EtcdTransportError(description: "keepalive read failed: \(EtcdClient.errorBody(answer).text)")
                    }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// One message of the watch stream.
    private func handle(_ line: [UInt8], delivered: NIOLockedValueBox<Int64>, reached: () -> Void) throws {
        let message: EtcdWire.WatchLine
        do { message = try EtcdWire.decoder.decode(EtcdWire.WatchLine.self, from: Data(line)) } catch {
            throw EtcdTransportError(description: "unreadable watch message: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        if let error = message.error {
            if error.text.contains("compacted") {
                throw Stop.finished(StoreError(.compacted, "etcd: \(error.text); relist", oldestRevision: nil))
            }
            throw EtcdTransportError(description: error.text)
        }
        guard let result = message.result else { return }
        reached()
        if result.canceled == true {
            if let compacted = result.compactRevision?.value, compacted > 0 {
                let from = delivered.withLockedValue { $0 }
                throw Stop.finished(StoreRules.compactedError(fromRevision: from, compactedThrough: compacted - 1)
                    ?? StoreError(.compacted, "etcd compacted its history through revision \(compacted - 1)",
                                  oldestRevision: compacted))
            }
            throw EtcdTransportError(description: "etcd cancelled the watch: \(result.cancelReason ?? "no reason given")")
        }
        for e in result.events ?? [] where store.isObjectKey(e.kv.key) {
            let revision = e.kv.modRevision?.value ?? 0
            guard revision > delivered.withLockedValue({ $0 }) else { continue }
            let event: StoreEvent
            do throws(StoreError) {
                if e.type == "DELETE" {
                    guard let previous = e.prevKv else {
                        throw StoreError(.corrupt, "etcd sent a DELETE of \(String(decoding: e.kv.key, as: UTF8.self)) without the previous value")
                    }
                    var object = try store.decodeObject(previous)
                    object.metadata.resourceVersion = String(revision)
                    event = StoreEvent(kind: .deleted, object: object, revision: revision)
                } else {
                    let created = e.kv.version?.value == 1
                    event = StoreEvent(kind: created ? .added : .modified, object: try store.decodeObject(e.kv), revision: revision)
                }
            } catch {
                throw Stop.finished(error)
            }
            let size = (e.type == "DELETE" ? e.prevKv?.value?.count : e.kv.value?.count) ?? 0
            let buffered: Int
            switch continuation.yield(event) {
            case .terminated: throw Stop.finished(nil)
            case .dropped: buffered = Self.bufferSlots
            case .enqueued(let remaining): buffered = Self.bufferSlots - remaining
            @unknown default: buffered = 0
            }
            delivered.withLockedValue { $0 = revision }
            let pending = unread.withLockedValue { $0.gave(size, buffered: buffered) }
            if pending > maxBufferBytes || buffered >= Self.bufferSlots {
                throw Stop.finished(StoreError(
                    .compacted, "the watcher fell behind: \(pending) bytes of events wait unread (store.etcd.watchMaxBufferBytes: \(maxBufferBytes)); relist",
                    oldestRevision: nil))
            }
        }
    }
}

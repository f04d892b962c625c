import GSLB
import Hummingbird
import Logging
import NameServiceStore
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
struct WatchStream: Sendable {
    let store: any NameServiceStore
    let selector: LabelSelector?
    let fromRevision: Int64?
    let timeout: Duration?
    let channel: any Channel
    let logger: Logger

    private enum Signal: Sendable {
        case event(StoreEvent)
        case failed(StoreError)
        case end(String)
    }

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        var matching = Set<String>()
        let start: Int64
        if let fromRevision {
            start = fromRevision
        } else {
            let listed: (items: [NameService], revision: Int64)
            do {
                listed = try await store.list(selector: selector)
            } catch {
                try await writeError(APIStatus.from(error, name: nil), &writer)
                return
            }
            for ns in listed.items {
                matching.insert(ns.metadata.name)
                try await writer.write(line(WatchEvent(type: StoreEvent.Kind.added.rawValue, object: ns)))
            }
            start = listed.revision
        }

        let (signals, continuation) = AsyncStream.makeStream(of: Signal.self)
        let store = self.store
        let pump = Task {
            do {
                for try await event in store.watch(fromRevision: start) {
                    continuation.yield(.event(event))
                }
                continuation.yield(.end("store stream ended"))
            } catch let error as StoreError {
                continuation.yield(.failed(error))
            } catch is CancellationError {
                continuation.yield(.end("cancelled"))
            } catch {
                continuation.yield(.failed(StoreError(.unavailable, "\(error)")))
            }
        }
        let timer = timeout.map { t in
            Task {
                do {
                    try await Task.sleep(for: t)
                    continuation.yield(.end("timeoutSeconds elapsed"))
                } catch {
                    // cancelled: the stream ended first
                }
            }
        }
        channel.closeFuture.whenComplete { _ in continuation.yield(.end("client disconnected")) }
        try await HangUpDetector.install(on: channel) { continuation.yield(.end("client hung up")) }
        defer {
            pump.cancel()
            timer?.cancel()
            continuation.finish()
        }

        let reason: String
        do {
            reason = try await follow(signals, &matching, &writer, shutdown: { continuation.yield(.end("server shutting down")) })
        } catch {
            await HangUpDetector.remove(from: channel)
            throw error
        }
        await HangUpDetector.remove(from: channel)
        logger.debug("watch ended", metadata: ["reason": .string(reason)])
        try await writer.finish(nil)
    }

    /// Writes events until a signal ends the stream; returns why it ended.
    private func follow(_ signals: AsyncStream<Signal>, _ matching: inout Set<String>, _ writer: inout any ResponseBodyWriter,
                        shutdown: @escaping @Sendable () -> Void) async throws -> String {
        try await withGracefulShutdownHandler {
            var reason = "cancelled"
            loop: for await signal in signals {
                switch signal {
                case .event(let event):
                    guard let type = filter(event, &matching) else { continue }
                    try await writer.write(line(WatchEvent(type: type, object: event.object)))
                case .failed(let error):
                    try await writeError(APIStatus.from(error, name: nil), &writer)
                    reason = "store error: \(error)"
                    break loop
                case .end(let why):
                    reason = why
                    break loop
                }
            }
            return reason
        } onGracefulShutdown: {
            shutdown()
        }
    }

    /// The event type to send for `event` under the selector, or nil to skip it.
    private func filter(_ event: StoreEvent, _ matching: inout Set<String>) -> String? {
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
        try await writer.write(line(WatchEvent(type: "ERROR", object: status)))
    }

    private func line(_ value: some Encodable) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: JSONCoding.encode(value))
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}

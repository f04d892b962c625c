import Foundation
import GSLB
import Hummingbird
import Logging
import NameServiceStore
import NIOCore

/// One `GET /v1/nameservices` response body, written as it is encoded (issue 13): never the whole
/// list in memory.
///
/// - The first page is read before the response starts (so a bad `continue` token or a store
///   failure is a proper Status); the body is `{"apiVersion":…,"kind":"NameServiceList",
///   "metadata":{…},"items":[` then the items, encoded one by one into chunks of about
///   `chunkBytes`, then `]}`.
/// - With `limit` the body is that one page and its metadata carries `continue` and
///   `remainingItemCount`. Without it (`followPages`) the store is read in pages of
///   `api.maxListLimit` through their continue tokens, all at the first page's revision; the
///   list's `metadata.resourceVersion` is that revision. A failure after the body has started
///   (an expired token, the store gone) cannot change the status any more: the connection is
///   closed before the end of the chunked body, so the client sees a truncated response and not
///   a short list.
/// - Each chunk waits for the client (the writer's back-pressure): a slow reader slows the list
///   down and holds one page at most; a write not taken within `writeTimeout` closes the
///   connection (`StalledWriteGuard`).
struct ListStream: Sendable {
    let store: any NameServiceStore
    let selector: LabelSelector?
    let first: ListPage
    let followPages: Bool
    let pageSize: Int
    let guardian: StalledWriteGuard
    let live: (@Sendable ([NameService]) async -> [NameService])?
    let statistics: ListStatistics
    let logger: Logger

    /// About this many bytes per chunk written.
    static let chunkBytes = 32 << 10

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        statistics.opened()
        defer { statistics.closed() }
        var meta = #"{"apiVersion":"\#(NameService.currentAPIVersion)","kind":"\#(NameServiceList.kindName)","metadata":{"resourceVersion":"\#(first.revision)""#
        if !followPages {
            if let token = first.continueToken { meta += #","continue":"# + Self.jsonString(token) }
            if let remaining = first.remainingItemCount { meta += #","remainingItemCount":\#(remaining)"# }
        }
        meta += #"},"items":["#
        var chunk = ByteBuffer(string: meta)
        var encoder = ItemEncoder()
        var page = first
        var count = 0
        while true {
            var items = page.items
            if let live { items = await live(items) }
            for ns in items {
                if count > 0 { chunk.writeInteger(UInt8(ascii: ",")) }
                encoder.encode(ns, into: &chunk)
                count += 1
                if chunk.readableBytes >= Self.chunkBytes {
                    try await guardian.write(chunk, &writer)
                    chunk.clear()
                }
            }
            guard followPages, let token = page.continueToken else { break }
            let next = ListOptions(selector: selector, limit: pageSize, continueToken: token)
            do {
                page = try await store.listPage(next)
            } catch {
                logger.warning("list ended early: the next page could not be read; closing the connection", metadata: [
                    "error": .string(error.description), "itemsSent": .stringConvertible(count),
                ])
                statistics.failed()
                guardian.abort()
                throw error
            }
        }
        chunk.writeString("]}")
        try await guardian.write(chunk, &writer)
        try await writer.finish(nil)
    }

    /// `s` as a JSON string literal.
    static func jsonString(_ s: String) -> String {
        String(decoding: JSONCoding.encode(s), as: UTF8.self)
    }
}

/// Encodes NameServices one at a time with the API's JSON settings, reusing one encoder.
struct ItemEncoder {
    private let encoder = JSONCoding.encoder()

    mutating func encode(_ value: some Encodable, into buffer: inout ByteBuffer) {
        if let fast = JSONCoding.fastEncode(value) {
            buffer.writeBytes(fast)
            return
        }
        do {
            buffer.writeBytes(try encoder.encode(value))
        } catch {
            // As JSONCoding.encode: the API's types do not fail to encode; if one ever does, the
            // item is a Status saying why rather than broken JSON.
            buffer.writeBytes(JSONCoding.encode(APIStatus(code: 500, reason: "InternalError", message: "encoding failed: \(error)")))
        }
    }
}

/// Writes of a streamed response (a list, a watch's initial list) that the client must take
/// within `timeout`: the writer's back-pressure makes a slow reader slow the stream down; a
/// reader that stops altogether has its connection closed when a write waits longer than that,
/// which ends the stream (and releases what it holds) instead of keeping it open forever.
struct StalledWriteGuard: Sendable {
    let channel: any Channel
    let timeout: Duration
    /// Called when a write timed out (before the connection is closed).
    let onStall: @Sendable () -> Void

    func write(_ buffer: ByteBuffer, _ writer: inout any ResponseBodyWriter) async throws {
        let channel = self.channel
        let onStall = self.onStall
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) {
            onStall()
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        try await writer.write(buffer)
    }

    /// Ends the response without its end: the client sees a truncated body, never a short list.
    func abort() {
        channel.close(promise: nil)
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        guard s < Int64.max / 1_000_000_000 - 1 else { return Int64.max / 2 }
        return max(0, s * 1_000_000_000 + atto / 1_000_000_000)
    }
}

/// Streamed list responses (for tests and metrics).
public final class ListStatistics: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0
    private var stalled = 0
    private var failures = 0

    public init() {}

    /// List responses being written now.
    public var openStreams: Int { lock.withLock { open } }
    /// List or initial-watch responses cut off because the client did not take a write within
    /// `api.writeTimeoutSeconds`.
    public var stalledClients: Int { lock.withLock { stalled } }
    /// Lists ended early because a later page could not be read.
    public var failedStreams: Int { lock.withLock { failures } }

    func opened() { lock.withLock { open += 1 } }
    func closed() { lock.withLock { open -= 1 } }
    func stall() { lock.withLock { stalled += 1 } }
    func failed() { lock.withLock { failures += 1 } }
}

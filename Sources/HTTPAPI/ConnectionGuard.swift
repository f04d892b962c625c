import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1

/// Counts the API's connections against `api.maxConnections` (issue 12).
///
/// Two counts: `accepted`, kept by the listener (Hummingbird's `AvailableConnectionsDelegate`),
/// stops accepting at the cap, so further clients wait in the kernel's backlog and no descriptor
/// is taken for them; a listener read may still accept a few at once, so `admitted`, kept by each
/// connection's guard, is the strict one: a connection past it is answered 503 and closed at once.
public final class ConnectionLimiter: @unchecked Sendable {
    public let maxConnections: Int
    /// Connections per client address (`api.maxConnectionsPerClient`; 0: no cap of its own).
    public let perClient: ClientSlots
    private let lock = NSLock()
    private var accepted = 0
    private var admitted = 0
    private var everAdmitted = 0

    public init(maxConnections: Int, maxPerClient: Int = 0) {
        self.maxConnections = maxConnections
        perClient = ClientSlots(maxPerClient: maxPerClient)
    }

    /// Connections admitted and still open.
    public var openConnections: Int { lock.withLock { admitted } }
    /// Connections admitted since start (kept-alive clients open few).
    public var admittedTotal: Int { lock.withLock { everAdmitted } }

    func listenerAccepted() { lock.withLock { accepted += 1 } }
    func listenerClosed() { lock.withLock { accepted -= 1 } }
    var isAccepting: Bool { lock.withLock { accepted < maxConnections } }

    func admit() -> Bool {
        lock.withLock {
            guard admitted < maxConnections else { return false }
            admitted += 1
            everAdmitted += 1
            return true
        }
    }

    func release() { lock.withLock { admitted -= 1 } }
}

/// The listener side of `ConnectionLimiter`.
struct ConnectionLimitDelegate: AvailableConnectionsDelegate {
    let limiter: ConnectionLimiter
    mutating func connectionOpened() { limiter.listenerAccepted() }
    mutating func connectionClosed() { limiter.listenerClosed() }
    func isAcceptingNewConnections() -> Bool { limiter.isAccepting }
}

/// Added through Hummingbird's `HTTP1Channel` `additionalChannelHandlers` (which sit after HTTP
/// decoding, where only whole parts are seen): it puts the real guards where they can see what
/// they need, `RawBytesWatcher` first in the pipeline (bytes of a request head as they arrive) and
/// `HTTPConnectionGuard` right after the HTTP/1 decoder (heads, bodies and responses, and the
/// decoder's header-overflow error), then passes everything through.
final class ConnectionGuardInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    static let name = "globaldns.api.guard"

    private let limits: APILimits
    private let limiter: ConnectionLimiter

    init(limits: APILimits, limiter: ConnectionLimiter) {
        self.limits = limits
        self.limiter = limiter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let watcher = RawBytesWatcher(limiter: limiter)
        let guardHandler = HTTPConnectionGuard(limits: limits, raw: watcher)
        watcher.guardHandler = guardHandler
        do {
            let pipeline = context.pipeline.syncOperations
            try pipeline.addHandler(watcher, position: .first)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(guardHandler, position: .after(decoder))
        } catch {
            context.close(promise: nil)
        }
    }
}

/// First in the pipeline: admits the connection against the cap, tells the guard when bytes
/// arrive, and writes the few responses the guard sends on its own (503, 431) as raw bytes.
final class RawBytesWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limiter: ConnectionLimiter
    private var admitted = false
    private var decided = false
    /// The client's key while it holds a per-client slot.
    private var clientSlot: ClientRateLimiter.Key?
    private var context: ChannelHandlerContext?
    var guardHandler: HTTPConnectionGuard?

    init(limiter: ConnectionLimiter) { self.limiter = limiter }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { admit(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseSlot()
        self.context = nil
        guardHandler = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        admit(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseSlot()
        context.fireChannelInactive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        guard limiter.admit() else {
            respondAndClose(APIStatus(code: 503, reason: "ServiceUnavailable",
                                      message: "the API has \(limiter.maxConnections) connections open (api.maxConnections); retry later",
                                      details: .init(retryAfterSeconds: 1)),
                            phrase: "Service Unavailable")
            return
        }
        let key = ClientRateLimiter.key(context.channel.remoteAddress)
        guard limiter.perClient.take(key) else {
            limiter.release()
            respondAndClose(APIStatus(code: 503, reason: "ServiceUnavailable",
                                      message: "this client has \(limiter.perClient.maxPerClient) connections open (api.maxConnectionsPerClient); reuse them or retry later",
                                      details: .init(retryAfterSeconds: 1)),
                            phrase: "Service Unavailable")
            return
        }
        clientSlot = key
        admitted = true
        guardHandler?.connectionAdmitted()
    }

    private func releaseSlot() {
        if admitted {
            admitted = false
            limiter.release()
            limiter.perClient.release(clientSlot)
            clientSlot = nil
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guardHandler?.bytesArrived()
        context.fireChannelRead(data)
    }

    /// Writes a complete response with `status` as its body, then closes the connection.
    func respondAndClose(_ status: APIStatus, phrase: String) {
        guard let context else { return }
        let body = status.jsonBuffer()
        var head = "HTTP/1.1 \(status.code) \(phrase)\r\nContent-Type: application/json\r\nContent-Length: \(body.readableBytes)\r\n"
        if let retry = status.details?.retryAfterSeconds { head += "Retry-After: \(retry)\r\n" }
        head += "Connection: close\r\n\r\n"
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + body.readableBytes)
        buffer.writeString(head)
        buffer.writeImmutableBuffer(body)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// Right after the HTTP/1 decoder: the timeouts of one connection and the 431.
///
/// - no request in flight: closed `idleTimeout` after the last response (or the connection's start);
/// - bytes of a request head arrived: closed unless the head is complete `headerTimeout` after the
///   first of them (slowloris);
/// - head read, body not complete: closed `bodyTimeout` after the head;
/// - request read, response not finished (a watch streaming): no timeout.
///
/// A head over `maxHeaderBytes` (the decoder's limits are set to it) is answered 431 and closed.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let limits: APILimits
    private weak var raw: RawBytesWatcher?
    private var context: ChannelHandlerContext?

    private var readingRequest = false
    private var inFlight = 0
    private var headBytesSince: NIODeadline?
    private var headStarted = NIODeadline.now()
    private var idleSince = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(limits: APILimits, raw: RawBytesWatcher) {
        self.limits = limits
        self.raw = raw
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = .now()
        rearm()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func connectionAdmitted() {
        idleSince = .now()
        rearm()
    }

    func bytesArrived() {
        if !readingRequest && headBytesSince == nil {
            headBytesSince = .now()
            rearm()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingRequest = true
            headBytesSince = nil
            headStarted = .now()
            inFlight += 1
            rearm()
        case .body:
            break
        case .end:
            readingRequest = false
            rearm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 {
                idleSince = .now()
                rearm()
            }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError, case .headerOverflow = parserError {
            if inFlight == 0, let raw {
                raw.respondAndClose(APIStatus(code: 431, reason: "RequestHeaderFieldsTooLarge",
                                              message: "the request line and headers are larger than \(limits.maxHeaderBytes) bytes (api.maxHeaderBytes)"),
                                    phrase: "Request Header Fields Too Large")
            } else {
                context.close(promise: nil)  // a response is still going out on this connection: no room for another
            }
            return
        }
        context.fireErrorCaught(error)
    }

    /// When this connection is to be closed in its current state; nil: no timeout applies.
    private var deadline: NIODeadline? {
        if readingRequest { return headStarted + TimeAmount(limits.bodyTimeout) }
        if let headBytesSince { return headBytesSince + TimeAmount(limits.headerTimeout) }
        if inFlight > 0 { return nil }
        return idleSince + TimeAmount(limits.idleTimeout)
    }

    /// Makes sure a timer fires no later than the current deadline (a later one is checked again
    /// when the earlier timer fires).
    private func rearm() {
        guard let context, let deadline else { return }
        if let timerDeadline, timer != nil, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            fire()
        }
    }

    private func fire() {
        guard let context, let deadline else { return }
        if deadline <= .now() {
            context.close(promise: nil)
        } else {
            rearm()
        }
    }
}

import DNSWire
import NIOCore

/// Answers DNS over TCP (RFC 7766) on one connection.
///
/// Contract:
/// - Framing is the two-byte length prefix, decoded here (a frame may arrive in any number of reads,
///   and one read may hold many frames). Pipelined queries are answered in order as they complete.
/// - A zero-length frame is a protocol error: the connection is closed.
/// - Idle timeout: the connection closes when no complete query arrived for `idleTimeout`, so a
///   client that sends half a frame and stalls (or trickles bytes) is dropped at the same deadline.
/// - Back-pressure: while the socket is not writable, no more queries are answered and reading
///   stops; it resumes when the peer reads its replies.
/// - On `ChannelShouldQuiesceEvent` (graceful shutdown) the connection answers what it already has
///   and closes; a query the client is still sending is answered first, then it closes.
/// - With a `table` (the loop's connections, least recently active first), each query moves this
///   connection to the back; when the server is full, the acceptor closes the one at the front
///   (`evict`).
final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let responder: QueryResponder
    private let idleTimeout: TimeAmount
    private let scratch: UnsafeMutableRawBufferPointer
    private var pending: ByteBuffer?
    /// When the last complete query arrived, on the event loop's clock (so tests can drive it).
    private var lastQuery = NIODeadline.uptimeNanoseconds(0)
    private var idleCheck: RepeatedTask?
    private var needsFlush = false
    private var quiescing = false
    /// The peer's address, read once when the connection becomes active.
    private var peer = IPAddress.v4(IPv4Address(value: 0))
    // Place in the loop's connection table (owned by the table).
    private let table: TCPConnectionTable?
    var linked = false
    var prev: TCPQueryHandler?
    var next: TCPQueryHandler?
    /// Uptime nanoseconds of the accept or the last complete query.
    var lastActive: UInt64 = 0
    /// Set while active: what `evict` closes.
    private var context: ChannelHandlerContext?
    /// Called once if this connection is evicted to make room for a new one.
    private let onEvict: (() -> Void)?

    init(responder: QueryResponder, idleTimeout: TimeAmount, table: TCPConnectionTable? = nil,
         onEvict: (() -> Void)? = nil) {
        self.responder = responder
        self.idleTimeout = idleTimeout
        self.table = table
        self.onEvict = onEvict
        scratch = .allocate(byteCount: 65535, alignment: 8)
    }

    /// Closes the connection to make room for a new one (the table already let go of it).
    func evict() {
        onEvict?()
        context?.close(promise: nil)
    }

    deinit { scratch.deallocate() }

    func channelActive(context: ChannelHandlerContext) {
        lastQuery = context.eventLoop.now
        self.context = context
        table?.add(self, now: lastQuery.uptimeNanoseconds)
        if let remote = context.channel.remoteAddress { peer = IPAddress(remote) }
        let timeout = idleTimeout
        let check = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 100_000_000))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: check, delay: check) { _ in
            let (handler, context) = loopBound.value
            if context.eventLoop.now - handler.lastQuery >= timeout {
                context.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        table?.remove(self)
        self.context = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        table?.remove(self)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if pending != nil {
            pending!.writeBuffer(&incoming)
        } else {
            pending = incoming
        }
        drain(context: context)
    }

    /// Answers every complete frame in `pending` while the socket accepts writes.
    private func drain(context: ChannelHandlerContext) {
        guard var buffer = pending else { return }
        pending = nil
        while context.channel.isWritable, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) {
            guard length > 0 else {
                // A zero-length frame is a protocol error; queries before it still get their answers.
                flushIfNeeded(context: context)
                context.close(promise: nil)
                return
            }
            guard buffer.readableBytes >= 2 + Int(length) else { break }
            buffer.moveReaderIndex(forwardBy: 2)
            let n = buffer.withUnsafeReadableBytes { all in
                responder.respond(to: UnsafeRawBufferPointer(rebasing: all[0..<Int(length)]), transport: .tcp,
                                  source: peer, into: scratch)
            }
            buffer.moveReaderIndex(forwardBy: Int(length))
            lastQuery = context.eventLoop.now
            table?.touch(self, now: lastQuery.uptimeNanoseconds)
            if n > 0 {
                var reply = context.channel.allocator.buffer(capacity: n + 2)
                reply.writeInteger(UInt16(n))
                reply.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                context.write(wrapOutboundOut(reply), promise: nil)
                needsFlush = true
            }
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            pending = buffer
        }
        if !context.channel.isWritable {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        if quiescing && pending == nil {
            flushIfNeeded(context: context)
            context.close(promise: nil)
        }
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            drain(context: context)
            flushIfNeeded(context: context)
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            flushIfNeeded(context: context)
            // Whatever is complete has been answered. A query still arriving (part of a frame), or
            // frames held back by write back-pressure, are answered when they can be, and then
            // `drain` closes; the idle timeout and the service's drain deadline still bound it.
            if pending == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

import DNSWire
import NIOCore

/// Sends one query on a TCP connection (after `DNSTCPFrameDecoder`) and completes `promise` with
/// the reply.
///
/// Contract:
/// - One handler per query, added in the channel initializer; the timeout runs from
///   `handlerAdded`, so it bounds the connect and the exchange together.
/// - The query is written with its two-byte length prefix on `channelActive`.
/// - The first frame decides: accepted → success; anything else (another ID included: nobody else
///   shares this connection) → `.malformed`.
/// - The server closing the connection before a whole reply → `.malformed` (mid-frame) or `.closed`.
/// - The promise is completed exactly once, then the channel is closed.
final class TCPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let query: [UInt8]
    private let id: UInt16
    private let question: DNSQuestion
    private let timeout: TimeAmount
    private let promise: EventLoopPromise<DNSMessage>
    private var timer: Scheduled<Void>?
    private var completed = false

    init(query: [UInt8], id: UInt16, question: DNSQuestion, timeout: TimeAmount, promise: EventLoopPromise<DNSMessage>) {
        self.query = query
        self.id = id
        self.question = question
        self.timeout = timeout
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            complete(context: context, .failure(.timeout))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        if !completed {
            completed = true
            promise.fail(ExchangeFailure.closed)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: query.count + 2)
        buffer.writeInteger(UInt16(query.count))
        buffer.writeBytes(query)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { [self] error in
            complete(context: context, .failure(.unreachable(error)))
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch ReplyVerdict.judge(Array(frame.readableBytesView), id: id, question: question) {
        case .accepted(let message): complete(context: context, .success(message))
        case .malformed(let reason), .ignored(let reason): complete(context: context, .failure(.malformed(reason)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(context: context, .failure(.closed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is DNSTCPFrameDecoder.IncompleteFrame {
            complete(context: context, .failure(.malformed("connection closed in the middle of the reply")))
        } else {
            complete(context: context, .failure(.unreachable(error)))
        }
    }

    private func complete(context: ChannelHandlerContext, _ result: Result<DNSMessage, ExchangeFailure>) {
        guard !completed else { return }
        completed = true
        timer?.cancel()
        promise.completeWith(result.mapError { $0 as any Error })
        context.close(promise: nil)
    }
}

import DNSWire
import NIOCore

/// Sends one query on a connected UDP channel and completes `promise` with the first acceptable reply.
///
/// Contract:
/// - One handler per query, added in the channel initializer of a channel connected to `server`
///   (so the kernel already drops datagrams from anyone else; the source is checked again here).
/// - The timeout runs from `handlerAdded`; the query is written on `channelActive`.
/// - Each datagram is judged by `ReplyVerdict`: accepted → success, malformed → failure, ignored
///   (another ID) → keep waiting.
/// - ICMP port unreachable arrives as `ECONNREFUSED` in `errorCaught` → `.unreachable`.
/// - The promise is completed exactly once, then the channel is closed. A channel closed from
///   outside first (cancellation) fails the promise with `.closed`.
final class UDPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = ByteBuffer

    private let query: [UInt8]
    private let id: UInt16
    private let question: DNSQuestion
    private let server: SocketAddress
    private let timeout: TimeAmount
    private let promise: EventLoopPromise<DNSMessage>
    private var timer: Scheduled<Void>?
    private var completed = false

    init(query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress, timeout: TimeAmount,
         promise: EventLoopPromise<DNSMessage>) {
        self.query = query
        self.id = id
        self.question = question
        self.server = server
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
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { [self] error in
            complete(context: context, .failure(.unreachable(error)))
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: query)), promise: written)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server, !completed else { return }
        switch ReplyVerdict.judge(Array(envelope.data.readableBytesView), id: id, question: question) {
        case .accepted(let message): complete(context: context, .success(message))
        case .malformed(let reason): complete(context: context, .failure(.malformed(reason)))
        case .ignored: break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        complete(context: context, .failure(.unreachable(error)))
    }

    private func complete(context: ChannelHandlerContext, _ result: Result<DNSMessage, ExchangeFailure>) {
        guard !completed else { return }
        completed = true
        timer?.cancel()
        promise.completeWith(result.mapError { $0 as any Error })
        context.close(promise: nil)
    }
}

import DNSWire
import NIOCore
import NIOPosix

extension UpstreamResolver {
    /// Sends `query` to `server` on a channel of its own and waits for the reply its handler accepts.
    /// The channel is closed in every case; cancelling the task closes it at once.
    func exchange(_ query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress, overTCP: Bool) async
        -> Result<DNSMessage, ExchangeFailure> {
        let loop = group.next()
        let promise = loop.makePromise(of: DNSMessage.self)
        let timeout = TimeAmount(configuration.timeout)
        let connecting: EventLoopFuture<any Channel>
        if overTCP {
            connecting = ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(DNSTCPFrameDecoder()),
                            TCPExchangeHandler(query: query, id: id, question: question, timeout: timeout, promise: promise))
                    }
                }
                .connect(to: server)
        } else {
            connecting = DatagramBootstrap(group: loop)
                // We advertise 1232 bytes; a larger datagram is read whole and then judged.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            UDPExchangeHandler(query: query, id: id, question: question, server: server,
                                               timeout: timeout, promise: promise))
                    }
                }
                .connect(to: server)
        }
        let channel: any Channel
        do {
            channel = try await connecting.get()
        } catch {
            let failure = ExchangeFailure.unreachable(error)
            promise.fail(failure)
            return .failure(failure)
        }
        return await withTaskCancellationHandler {
            do {
                return .success(try await promise.futureResult.get())
            } catch let failure as ExchangeFailure {
                return .failure(failure)
            } catch {
                return .failure(.unreachable(error))
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

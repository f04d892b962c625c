import DNSWire
import Foundation
import NIOCore
import NIOPosix

/// Counts queries by name. Shared between the relay's event loop and the test.
final class QueryCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [DNSName: Int] = [:]

    func add(_ name: DNSName) { lock.withLock { counts[name, default: 0] += 1 } }
    func count(_ name: DNSName) -> Int { lock.withLock { counts[name, default: 0] } }
}

/// A UDP relay on 127.0.0.1 in front of a real server: forwards every query, sends the replies back,
/// and counts the queries per name, so a test can see which names a resolver still asks for.
struct QueryCountingRelay {
    let channel: any Channel
    let counter: QueryCounter
    let address: SocketAddress

    static func start(upstream: SocketAddress) async throws -> QueryCountingRelay {
        let counter = QueryCounter()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(upstream: upstream, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return QueryCountingRelay(channel: channel, counter: counter, address: channel.localAddress!)
    }

    func queries(for name: DNSName) -> Int { counter.count(name) }

    func stop() { channel.close(promise: nil) }
}

/// Relays datagrams between clients and `upstream`, matching replies to clients by ID and question.
private final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Key: Hashable {
        var id: UInt16
        var question: DNSQuestion
    }

    private let upstream: SocketAddress
    private let counter: QueryCounter
    private var clients: [Key: SocketAddress] = [:]

    init(upstream: SocketAddress, counter: QueryCounter) {
        self.upstream = upstream
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let message = try? DNSMessage(decoding: Array(envelope.data.readableBytesView)),
              let question = message.questions.first else { return }
        let key = Key(id: message.header.id, question: question)
        if envelope.remoteAddress == upstream {
            guard let client = clients.removeValue(forKey: key) else { return }
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: envelope.data)), promise: nil)
        } else {
            counter.add(question.name)
            clients[key] = envelope.remoteAddress
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: upstream, data: envelope.data)), promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}

/// A UDP socket on 127.0.0.1 that reads nothing and answers nothing: a dead server.
struct SilentServer {
    let channel: any Channel
    let address: SocketAddress
    var hostAndPort: String { "127.0.0.1:\(address.port!)" }

    static func start() async throws -> SilentServer {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        return SilentServer(channel: channel, address: channel.localAddress!)
    }

    func stop() { channel.close(promise: nil) }
}

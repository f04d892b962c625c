import DNSWire
import NIOCore

/// Answers DNS over UDP on one event loop.
///
/// Contract: synchronous on its loop, one `QueryResponder` per loop (shared with that loop's TCP
/// connections), no `Task`, no lock. Replies are written as they are produced and flushed once per
/// read burst (`channelReadComplete`), so NIO sends them with `sendmmsg`. The only allocation per
/// query is the reply's own buffer. Socket errors (ICMP port unreachable surfacing as
/// ECONNREFUSED, say) are counted and never close the listener.
final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let responder: QueryResponder
    private let scratch: UnsafeMutableRawBufferPointer
    private var needsFlush = false
    private(set) var socketErrors = 0

    init(responder: QueryResponder) {
        self.responder = responder
        // Replies never exceed the advertised UDP size; 64 KiB covers any configuration.
        scratch = .allocate(byteCount: 65535, alignment: 8)
    }

    deinit { scratch.deallocate() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let n = envelope.data.withUnsafeReadableBytes { packet in
            responder.respond(to: packet, transport: .udp, source: IPAddress(envelope.remoteAddress), into: scratch)
        }
        guard n > 0 else { return }
        var reply = context.channel.allocator.buffer(capacity: n)
        reply.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
        needsFlush = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        socketErrors += 1
    }
}

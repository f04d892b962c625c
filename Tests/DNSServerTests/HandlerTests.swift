import DNSWire
import NIOCore
import NIOEmbedded
import Testing

@testable import DNSServer

/// The UDP and TCP handlers on `EmbeddedChannel` (as SwiftNIO tests): no sockets, virtual time.
@Suite("Handlers")
struct HandlerTests {
    static let client = try! SocketAddress(ipAddress: "192.0.2.10", port: 5353)

    static func query(_ name: DNSName = "www.example.com.", _ type: RRType = .a, id: UInt16) -> [UInt8] {
        DNSMessage.query(name, type, id: id).encode()
    }

    static func frame(_ q: [UInt8]) -> [UInt8] {
        [UInt8(q.count >> 8), UInt8(q.count & 0xFF)] + q
    }

    // MARK: UDP

    @Test func udpRepliesToTheSender() throws {
        let channel = EmbeddedChannel(handler: UDPQueryHandler(responder: try ServerZone.responder()))
        defer { _ = try? channel.finish() }
        try channel.writeInbound(AddressedEnvelope(remoteAddress: Self.client,
                                                   data: channel.allocator.buffer(bytes: Self.query(id: 0xAB01))))
        let out = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(out.remoteAddress == Self.client)
        let m = try DNSMessage(decoding: Array(buffer: out.data))
        #expect(m.header.id == 0xAB01 && m.rcode == .noError && m.answers.count == 2)
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    }

    @Test func udpDropsSilently() throws {
        let channel = EmbeddedChannel(handler: UDPQueryHandler(responder: try ServerZone.responder()))
        defer { _ = try? channel.finish() }
        var response = Self.query(id: 0xAB02)
        response[2] |= 0x80  // QR=1: never answered
        for packet in [response, [UInt8](repeating: 0, count: 11), []] {
            try channel.writeInbound(AddressedEnvelope(remoteAddress: Self.client, data: channel.allocator.buffer(bytes: packet)))
        }
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
        // The next good packet is still answered.
        try channel.writeInbound(AddressedEnvelope(remoteAddress: Self.client,
                                                   data: channel.allocator.buffer(bytes: Self.query(id: 0xAB03))))
        let out = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(try DNSMessage(decoding: Array(buffer: out.data)).header.id == 0xAB03)
    }

    @Test func udpFlushesOncePerReadBurst() throws {
        let channel = EmbeddedChannel(handler: UDPQueryHandler(responder: try ServerZone.responder()))
        defer { _ = try? channel.finish() }
        let other = try SocketAddress(ipAddress: "2001:db8::7", port: 40000)
        channel.pipeline.fireChannelRead(AddressedEnvelope(remoteAddress: Self.client,
                                                           data: channel.allocator.buffer(bytes: Self.query(id: 1))))
        channel.pipeline.fireChannelRead(AddressedEnvelope(remoteAddress: other,
                                                           data: channel.allocator.buffer(bytes: Self.query(id: 2))))
        // Written but not flushed until the burst ends.
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
        channel.pipeline.fireChannelReadComplete()
        let a = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        let b = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(a.remoteAddress == Self.client && b.remoteAddress == other)
        #expect(try DNSMessage(decoding: Array(buffer: a.data)).header.id == 1)
        #expect(try DNSMessage(decoding: Array(buffer: b.data)).header.id == 2)
    }

    // MARK: TCP

    static func tcpChannel(idle: TimeAmount = .seconds(10)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: TCPQueryHandler(responder: try ServerZone.responder(), idleTimeout: idle))
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 53)).wait()
        return channel
    }

    static func readReplies(_ channel: EmbeddedChannel) throws -> [DNSMessage] {
        var out: [DNSMessage] = []
        var all = channel.allocator.buffer(capacity: 0)
        for _ in 0..<100 {
            guard var b = try channel.readOutbound(as: ByteBuffer.self) else { break }
            all.writeBuffer(&b)
        }
        for _ in 0..<100 {
            guard let len = all.readInteger(as: UInt16.self) else { break }
            guard let bytes = all.readBytes(length: Int(len)) else {
                Issue.record("reply frame cut")
                break
            }
            out.append(try DNSMessage(decoding: bytes))
        }
        #expect(all.readableBytes == 0)
        return out
    }

    @Test func tcpFrameSplitAcrossThreeWrites() throws {
        let channel = try Self.tcpChannel()
        defer { _ = try? channel.finish() }
        let f = Self.frame(Self.query(id: 0x7C01))
        for part in [f[0..<1], f[1..<10], f[10...]] {
            #expect(try Self.readReplies(channel).isEmpty)
            try channel.writeInbound(channel.allocator.buffer(bytes: part))
        }
        let replies = try Self.readReplies(channel)
        #expect(replies.map(\.header.id) == [0x7C01])
        #expect(replies.first?.answers.count == 2)
        #expect(channel.isActive)
    }

    @Test func tcpPipelinedFramesAnsweredInOrder() throws {
        let channel = try Self.tcpChannel()
        defer { _ = try? channel.finish() }
        let bytes = Self.frame(Self.query(id: 1)) + Self.frame(Self.query("nope.example.com.", id: 2))
            + Self.frame(Self.query("big.example.com.", id: 3))
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        let replies = try Self.readReplies(channel)
        #expect(replies.map(\.header.id) == [1, 2, 3])
        #expect(replies.map(\.rcode) == [.noError, .nxDomain, .noError])
        // Over TCP the 60-address RRset is not truncated.
        #expect(replies.last?.answers.count == 60 && replies.last?.header.tc == false)
    }

    @Test func tcpDroppedQueryGetsNoFrame() throws {
        let channel = try Self.tcpChannel()
        defer { _ = try? channel.finish() }
        var response = Self.query(id: 5)
        response[2] |= 0x80
        try channel.writeInbound(channel.allocator.buffer(bytes: Self.frame(response) + Self.frame(Self.query(id: 6))))
        #expect(try Self.readReplies(channel).map(\.header.id) == [6])
    }

    @Test func tcpZeroLengthFrameCloses() throws {
        let channel = try Self.tcpChannel()
        try channel.writeInbound(channel.allocator.buffer(bytes: [0, 0]))
        #expect(!channel.isActive)
        #expect(try Self.readReplies(channel).isEmpty)
    }

    @Test func tcpZeroLengthFrameAfterAQueryStillAnswersTheQuery() throws {
        let channel = try Self.tcpChannel()
        try channel.writeInbound(channel.allocator.buffer(bytes: Self.frame(Self.query(id: 0x0A0B)) + [0, 0]))
        #expect(!channel.isActive)
        #expect(try Self.readReplies(channel).map(\.header.id) == [0x0A0B])
    }

    /// A client that sends half a frame and stalls is closed at the idle deadline, measured on the
    /// event loop's clock (so `EmbeddedEventLoop.advanceTime` drives it).
    @Test func tcpHalfFrameThenIdleTimeoutCloses() throws {
        let channel = try Self.tcpChannel(idle: .seconds(2))
        defer { _ = try? channel.finish() }
        let f = Self.frame(Self.query(id: 9))
        try channel.writeInbound(channel.allocator.buffer(bytes: f[0..<7]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(channel.isActive, "closed before the idle timeout")
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive, "a stalled half frame must be closed after the idle timeout")
        #expect(try Self.readReplies(channel).isEmpty)
    }

    @Test func tcpQuiesceAnswersWhatIsCompleteThenCloses() throws {
        let channel = try Self.tcpChannel()
        try channel.writeInbound(channel.allocator.buffer(bytes: Self.frame(Self.query(id: 11))))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!channel.isActive)
        #expect(try Self.readReplies(channel).map(\.header.id) == [11])
    }

    /// A query in flight when the server starts draining: the rest of its frame still arrives, it
    /// is answered (with any frame sent along), and only then is the connection closed.
    @Test func tcpQuiesceFinishesAHalfReceivedQuery() throws {
        let channel = try Self.tcpChannel()
        let second = Self.frame(Self.query(id: 12))
        try channel.writeInbound(channel.allocator.buffer(bytes: Self.frame(Self.query(id: 11)) + second[0..<5]))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive, "closed with a query half received")
        #expect(try Self.readReplies(channel).map(\.header.id) == [11])
        try channel.writeInbound(channel.allocator.buffer(bytes: Array(second[5...]) + Self.frame(Self.query(id: 13))))
        #expect(try Self.readReplies(channel).map(\.header.id) == [12, 13])
        #expect(!channel.isActive, "still open after answering everything while draining")
    }

    /// While draining, a half-received query that never completes is still closed at the idle
    /// deadline (the service's drain deadline closes it too).
    @Test func tcpQuiesceWithAStalledHalfQueryClosesAtTheIdleTimeout() throws {
        let channel = try Self.tcpChannel(idle: .seconds(2))
        try channel.writeInbound(channel.allocator.buffer(bytes: Array(Self.frame(Self.query(id: 14))[0..<7])))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        #expect(!channel.isActive)
        #expect(try Self.readReplies(channel).isEmpty)
    }
}

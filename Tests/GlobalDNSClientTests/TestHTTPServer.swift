import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as the test server saw it.
struct RecordedRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var headers: HTTPHeaders
    var body: String

    var path: String { String(uri.prefix { $0 != "?" }) }
    var query: String { uri.firstIndex(of: "?").map { String(uri[uri.index(after: $0)...]) } ?? "" }
}

/// What the test server answers.
enum TestReply: Sendable {
    /// A complete response with Content-Length.
    case full(HTTPResponseStatus, String)
    /// A chunked response: each piece written as its own chunk, `interval` apart; then the end of
    /// the response, or nothing (the stream stays open) when `keepOpen`.
    case stream([String], interval: TimeAmount, keepOpen: Bool)
    /// Reads the request and never answers.
    case silence
}

/// A real HTTP/1.1 server on 127.0.0.1 and an ephemeral port, answering from `route`. Runs on its
/// own one-thread event loop group, so every route call happens on `eventLoop` (state shared between
/// calls can live in a `NIOLoopBoundBox` on it).
struct TestHTTPServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    var eventLoop: any EventLoop { channel.eventLoop }
    var port: Int { channel.localAddress?.port ?? 0 }

    /// Starts on `group` (a one-thread group, which `stop()` shuts down).
    static func start(group: MultiThreadedEventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1),
                      route: @escaping @Sendable (RecordedRequest) -> TestReply) async throws -> TestHTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RouteHandler(route: route))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TestHTTPServer(group: group, channel: channel)
    }

    func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

/// Collects one request, asks the route, writes the reply. Loop-confined, not Sendable.
private final class RouteHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let route: @Sendable (RecordedRequest) -> TestReply
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(route: @escaping @Sendable (RecordedRequest) -> TestReply) {
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            let request = RecordedRequest(method: head.method, uri: head.uri, headers: head.headers, body: String(buffer: body))
            respond(route(request), context: context)
        }
    }

    private func respond(_ reply: TestReply, context: ChannelHandlerContext) {
        switch reply {
        case .silence:
            return
        case .full(let status, let text):
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        case .stream(let pieces, let interval, let keepOpen):
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/x-ndjson")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            let loop = context.eventLoop.assumeIsolated()
            for (i, piece) in pieces.enumerated() {
                loop.scheduleTask(in: interval * Int64(i + 1)) {
                    context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: piece)))), promise: nil)
                }
            }
            if !keepOpen {
                loop.scheduleTask(in: interval * Int64(pieces.count + 1)) {
                    let channel = context.channel
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
                }
            }
        }
    }
}

/// Runs `body`, failing with `TimedOut` if it takes longer than `seconds`: every wait in these
/// tests is bounded.
func withTimeout<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimedOut(seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "test did not finish within \(seconds)s" }
}

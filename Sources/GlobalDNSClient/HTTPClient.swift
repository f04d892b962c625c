#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import Atomics

/// One HTTP/1.1 request: method, path (with its query) relative to the server's prefix, extra
/// headers and an optional body.
public struct HTTPClientRequest: Sendable {
    public var method: HTTPMethod
    public var path: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer?

    public init(method: HTTPMethod, path: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// A complete response.
public struct HTTPClientResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var bodyString: String { String(buffer: body) }
    public var isSuccess: Bool { (200..<300).contains(status.code) }
}

/// A small HTTP/1.1 client on SwiftNIO: one connection per request (`Connection: close`), which
/// is all a command-line tool needs and keeps the state machine trivial.
///
/// - `execute(_:)` returns the whole response; the connect timeout bounds the TCP handshake and
///   the request timeout bounds everything after it.
/// - `stream(_:onLine:)` is for long-lived, newline-delimited responses (watch): only the wait for
///   the response head is bounded; after that lines are handed over as they arrive until the server
///   ends the stream or the calling task is cancelled.
public struct HTTPClient: Sendable {
    public let server: ServerAddress
    public var connectTimeout: TimeAmount
    public var requestTimeout: TimeAmount
    private let group: any EventLoopGroup

    public init(server: ServerAddress, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                connectTimeout: TimeAmount = .seconds(5), requestTimeout: TimeAmount = .seconds(30)) {
        self.server = server
        self.group = group
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
    }

    private typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// Sends `request` and collects the full response.
    public func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let connection = try await connect()
        let deadline = NIODeadline.now() + requestTimeout
        let timer = Self.closeAtDeadline(connection.channel, deadline)
        defer { timer.cancel() }
        do {
            return try await connection.executeThenClose { inbound, outbound in
                try await send(request, outbound)
                var head: HTTPResponseHead?
                var body = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let h): head = h
                    case .body(var chunk): body.writeBuffer(&chunk)
                    case .end:
                        guard let head else { throw ClientError(.invalidResponse, "\(server) sent a response without a head") }
                        return HTTPClientResponse(status: head.status, headers: head.headers, body: body)
                    }
                }
                throw ClientError(.connectionClosed, "\(server) closed the connection before the response was complete")
            }
        } catch {
            throw mapAfterConnect(error, deadline: deadline)
        }
    }

    /// Sends `request` and, for a 2xx answer, calls `onLine` with each line of the body as it
    /// arrives; returns the response with an empty body when the server ends the stream or the
    /// task is cancelled. Any other answer is collected whole and returned without calling `onLine`,
    /// so the caller can read the error body.
    public func stream(_ request: HTTPClientRequest,
                       onLine: (String) async throws -> Void) async throws -> HTTPClientResponse {
        let headWatch = ResponseHeadWatch()
        let connection = try await connect(headWatch)
        let deadline = NIODeadline.now() + requestTimeout
        // Only the wait for the head is bounded. The timer asks the event loop whether the head has
        // been read there, not whether this task has got to it yet: a busy machine may hand the
        // head over after the deadline although it came in time, and the stream must not be cut.
        let channel = connection.channel
        let timer = channel.eventLoop.scheduleTask(deadline: deadline) {
            if !headWatch.seen { channel.close(promise: nil) }
        }
        defer { timer.cancel() }
        var head: HTTPResponseHead?
        do {
            return try await connection.executeThenClose { inbound, outbound in
                try await send(request, outbound)
                var errorBody = ByteBuffer()
                var splitter = LineSplitter()
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h  // from here a watch may stay quiet for as long as nothing changes
                    case .body(let chunk):
                        guard let head else { continue }
                        if (200..<300).contains(head.status.code) {
                            for line in splitter.append(chunk) { try await onLine(line) }
                        } else {
                            var chunk = chunk
                            errorBody.writeBuffer(&chunk)
                        }
                    case .end:
                        guard let head else { throw ClientError(.invalidResponse, "\(server) sent a response without a head") }
                        if (200..<300).contains(head.status.code), let last = splitter.finish() { try await onLine(last) }
                        return HTTPClientResponse(status: head.status, headers: head.headers, body: errorBody)
                    }
                }
                if let head, Task.isCancelled {
                    return HTTPClientResponse(status: head.status, headers: head.headers)
                }
                throw ClientError(.connectionClosed, "\(server) closed the connection before the response was complete")
            }
        } catch {
            // Cancelling the task (Ctrl-C) ends a started stream: a clean end, not a failure.
            if let head, Task.isCancelled {
                return HTTPClientResponse(status: head.status, headers: head.headers)
            }
            // Once the head is in, the request timeout no longer applies.
            throw mapAfterConnect(error, deadline: headWatch.seen ? nil : deadline)
        }
    }

    private func connect(_ headWatch: ResponseHeadWatch? = nil) async throws -> Connection {
        do {
            return try await ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: server.host, port: server.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        if let headWatch { try channel.pipeline.syncOperations.addHandler(headWatch) }
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as ChannelError where error == .connectTimeout(connectTimeout) {
            throw ClientError(.connectTimedOut, "Unable to connect to the server \(server): no answer within \(Self.seconds(connectTimeout))")
        } catch let error as NIOConnectionError {
            if error.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                throw ClientError(.connectionRefused, "The connection to the server \(server) was refused - is globaldns running with its API listening there? (set --server or GLOBALDNS_SERVER)")
            }
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                throw ClientError(.connectFailed, "Unable to connect to the server \(server): cannot resolve \"\(server.host)\"")
            }
            if error.connectionErrors.contains(where: { ($0.error as? ChannelError) == .connectTimeout(connectTimeout) }) {
                throw ClientError(.connectTimedOut, "Unable to connect to the server \(server): no answer within \(Self.seconds(connectTimeout))")
            }
            throw ClientError(.connectFailed, "Unable to connect to the server \(server): \(error.connectionErrors.first.map { "\($0.error)" } ?? "\(error)")")
        } catch let error as IOError where error.errnoCode == ECONNREFUSED {
            throw ClientError(.connectionRefused, "The connection to the server \(server) was refused - is globaldns running with its API listening there? (set --server or GLOBALDNS_SERVER)")
        } catch {
            throw ClientError(.connectFailed, "Unable to connect to the server \(server): \(error)")
        }
    }

    /// Opens one kept-alive connection and runs `body` with it (requests one at a time, each
    /// bounded by the request timeout); closes it when `body` returns. See `HTTPConnection`.
    public func withConnection<T>(_ body: (HTTPConnection) async throws -> T) async throws -> T {
        let connection = try await connect()
        do {
            return try await connection.executeThenClose { inbound, outbound in
                let kept = HTTPConnection(client: self, channel: connection.channel, inbound: inbound.makeAsyncIterator(), outbound: outbound)
                return try await body(kept)
            }
        } catch let error as ClientError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw mapAfterConnect(error, deadline: nil)
        }
    }

    func send(_ request: HTTPClientRequest, _ outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
              keepAlive: Bool = false) async throws {
        var head = HTTPRequestHead(version: .http1_1, method: request.method, uri: server.pathPrefix + request.path)
        head.headers.add(name: "Host", value: server.hostHeader)
        head.headers.add(name: "User-Agent", value: "globaldnsctl")
        head.headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        head.headers.add(contentsOf: request.headers)
        if let body = request.body {
            head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        } else if request.method == .PUT || request.method == .POST {
            head.headers.replaceOrAdd(name: "Content-Length", value: "0")
        }
        // One write for the whole request: a server may answer (and, with Connection: close, close)
        // as soon as it has the head of a body-less request, and a separate later write of `.end`
        // would then fail on the closed channel.
        var parts: [HTTPClientRequestPart] = [.head(head)]
        if let body = request.body, body.readableBytes > 0 { parts.append(.body(.byteBuffer(body))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
    }

    /// After connecting, an error past the deadline is the deadline's doing (the timer closed the
    /// channel); a ClientError is kept; anything else is a broken connection.
    func mapAfterConnect(_ error: any Error, deadline: NIODeadline?) -> any Error {
        if let deadline, NIODeadline.now() >= deadline {
            return ClientError(.timedOut, "The server \(server) did not answer within \(Self.seconds(requestTimeout))")
        }
        if error is ClientError || error is CancellationError { return error }
        return ClientError(.connectionClosed, "The connection to the server \(server) failed: \(error)")
    }

    static func closeAtDeadline(_ channel: any Channel, _ deadline: NIODeadline) -> Scheduled<Void> {
        channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
    }

    private static func seconds(_ t: TimeAmount) -> String {
        let ms = t.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}

/// One kept-alive HTTP/1.1 connection (`HTTPClient.withConnection`): requests go one after the
/// other on it, each bounded by the client's request timeout, so a run of requests (`apply` of
/// many manifests, the pages of a list) pays for one TCP handshake instead of one per request.
///
/// Not for concurrent use: one task sends, waits for the answer, sends the next. Once the server
/// says `Connection: close`, a request fails or times out, `isReusable` is false and the caller
/// opens another connection.
public final class HTTPConnection {
    private let client: HTTPClient
    private let channel: any Channel
    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    /// False once the connection cannot carry another request.
    public private(set) var isReusable = true
    /// Responses read on this connection.
    public private(set) var completed = 0

    init(client: HTTPClient, channel: any Channel, inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
         outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) {
        self.client = client
        self.channel = channel
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Sends `request` and collects the whole response. A connection the server closed before
    /// answering (a kept-alive connection it timed out meanwhile) fails with
    /// `ClientError.connectionClosed`; nothing of the response had arrived, so the caller may send
    /// the request again on a new connection.
    public func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        guard isReusable else { throw ClientError(.connectionClosed, "the connection to \(client.server) is closed") }
        let deadline = NIODeadline.now() + client.requestTimeout
        let timer = HTTPClient.closeAtDeadline(channel, deadline)
        defer { timer.cancel() }
        isReusable = false  // until this response is read whole
        do {
            try await client.send(request, outbound, keepAlive: true)
            var head: HTTPResponseHead?
            var body = ByteBuffer()
            while let part = try await inbound.next() {
                switch part {
                case .head(let h): head = h
                case .body(var chunk): body.writeBuffer(&chunk)
                case .end:
                    guard let head else { throw ClientError(.invalidResponse, "\(client.server) sent a response without a head") }
                    completed += 1
                    isReusable = head.isKeepAlive
                    return HTTPClientResponse(status: head.status, headers: head.headers, body: body)
                }
            }
            throw ClientError(.connectionClosed, "\(client.server) closed the connection before the response was complete")
        } catch {
            throw client.mapAfterConnect(error, deadline: deadline)
        }
    }
}

/// Notes that a response head has been read, as the event loop reads it, so a timer on that loop
/// can tell "the head came in time" from "the consumer has not got to it yet".
final class ResponseHeadWatch: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart

    private let flag = ManagedAtomic<Bool>(false)

    var seen: Bool { flag.load(ordering: .acquiring) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { flag.store(true, ordering: .releasing) }
        context.fireChannelRead(data)
    }
}

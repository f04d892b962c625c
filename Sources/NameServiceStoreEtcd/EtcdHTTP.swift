import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Why one request to one member failed before it got an HTTP answer: the member is worth
/// leaving for another one.
struct EtcdTransportError: Error, CustomStringConvertible {
    var description: String
}

/// An HTTP answer that is not 200: the gateway's gRPC status.
struct EtcdHTTPAnswer: Sendable {
    var status: Int
    var body: [UInt8]
}

/// HTTP/1.1 POSTs to one etcd member over SwiftNIO (TLS through swift-nio-ssl when the endpoint
/// is https): one connection per request, `Connection: close`, so a dead member costs a connect
/// and never a stuck pooled connection.
///
/// - `post` bounds the connect by the dial timeout and everything after it by the request timeout
///   (the channel is closed at the deadline).
/// - `stream` (watch) bounds only the wait for the response head; then every newline-delimited
///   message goes to `onLine` until the member ends the response, the channel fails, or the task
///   is cancelled (which closes the channel).
struct EtcdHTTP: Sendable {
    let group: any EventLoopGroup
    let sslContext: NIOSSLContext?
    let serverName: String?
    let dialTimeout: TimeAmount
    let requestTimeout: TimeAmount

    private typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    func post(_ endpoint: EtcdEndpoint, _ path: String, body: [UInt8], token: String?) async throws -> EtcdHTTPAnswer {
        let connection = try await connect(endpoint)
        let deadline = NIODeadline.now() + requestTimeout
        let channel = connection.channel
        let timer = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
        defer { timer.cancel() }
        do {
            return try await connection.executeThenClose { inbound, outbound in
                try await send(endpoint, path, body, token, outbound)
                var status = 0
                var bytes: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head): status = Int(head.status.code)
                    case .body(let chunk): bytes += chunk.readableBytesView
                    case .end: return EtcdHTTPAnswer(status: status, body: bytes)
                    }
                }
                throw EtcdTransportError(description: "the connection closed before the response was complete")
            }
        } catch let error as EtcdTransportError {
            throw error
        } catch {
            if NIODeadline.now() >= deadline {
                throw EtcdTransportError(description: "no answer within \(seconds(requestTimeout))")
            }
            throw EtcdTransportError(description: "\(error)")
        }
    }

    /// Returns the non-200 answer (whole) without calling `onLine`, or nil when a 200 stream ended.
    func stream(_ endpoint: EtcdEndpoint, _ path: String, body: [UInt8], token: String?,
                onLine: @Sendable ([UInt8]) async throws -> Void) async throws -> EtcdHTTPAnswer? {
        let connection = try await connect(endpoint)
        let channel = connection.channel
        let timer = channel.eventLoop.scheduleTask(deadline: .now() + requestTimeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await connection.executeThenClose { inbound, outbound in
                try await send(endpoint, path, body, token, outbound)
                var status = 0
                var pending: [UInt8] = []
                var errorBody: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        status = Int(head.status.code)
                        timer.cancel()  // a watch stays quiet while nothing changes
                    case .body(let chunk):
                        guard status == 200 else {
                            errorBody += chunk.readableBytesView
                            continue
                        }
                        pending += chunk.readableBytesView
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = Array(pending[..<newline])
                            pending.removeSubrange(...newline)
                            if !line.isEmpty { try await onLine(line) }
                        }
                    case .end:
                        if status == 200 {
                            if !pending.isEmpty { try await onLine(pending) }
                            return nil
                        }
                        return EtcdHTTPAnswer(status: status, body: errorBody)
                    }
                }
                throw EtcdTransportError(description: "the watch connection closed")
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    private func connect(_ endpoint: EtcdEndpoint) async throws -> Connection {
        let ssl = endpoint.tls ? sslContext : nil
        if endpoint.tls && ssl == nil {
            throw EtcdTransportError(description: "https endpoint but no TLS configured")
        }
        let sni = serverName ?? (isIPAddress(endpoint.host) ? nil : endpoint.host)
        do {
            return try await ClientBootstrap(group: group)
                .connectTimeout(dialTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let ssl {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: ssl, serverHostname: sni))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as ChannelError where error == .connectTimeout(dialTimeout) {
            throw EtcdTransportError(description: "no connection within \(seconds(dialTimeout))")
        } catch let error as NIOConnectionError {
            if error.connectionErrors.contains(where: { ($0.error as? ChannelError) == .connectTimeout(dialTimeout) }) {
                throw EtcdTransportError(description: "no connection within \(seconds(dialTimeout))")
            }
            throw EtcdTransportError(description: error.connectionErrors.first.map { describe($0.error) } ?? "\(error)")
        } catch {
            throw EtcdTransportError(description: describe(error))
        }
    }

    private func send(_ endpoint: EtcdEndpoint, _ path: String, _ body: [UInt8], _ token: String?,
                      _ outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) async throws {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)")
        head.headers.add(name: "User-Agent", value: "globaldns")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        if let token { head.headers.add(name: "Authorization", value: token) }
        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)])
    }

    private func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        return "\(error)"
    }
}

func seconds(_ t: TimeAmount) -> String {
    let ms = t.nanoseconds / 1_000_000
    return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
}

func isIPAddress(_ host: String) -> Bool {
    (try? SocketAddress(ipAddress: host, port: 0)) != nil
}

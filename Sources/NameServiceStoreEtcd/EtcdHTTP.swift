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
    /// Whether `sslContext` presents a client certificate (for the words of a refusal).
    let clientCertificate: Bool
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
                try await send(endpoint, path, body, token, inbound, outbound)
                var status = 0
                var bytes: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head): status = Int(head.status.code)
                    case .body(let chunk): bytes += chunk.readableBytesView
                    case .end: return EtcdHTTPAnswer(status: status, body: bytes)
                    }
                }
                throw EtcdTransportError(description: status == 0 && !endpoint.tls
                    ? "the connection closed without an answer (a member serving TLS does this to plain http: use https://)"
                    : "the connection closed before the response was complete")
            }
        } catch let error as EtcdTransportError {
            throw error
        } catch {
            if NIODeadline.now() >= deadline {
                throw EtcdTransportError(description: "no answer within \(seconds(requestTimeout))")
            }
            throw EtcdTransportError(description: describe(error))
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
            do {
                return try await connection.executeThenClose { inbound, outbound in
                    try await send(endpoint, path, body, token, inbound, outbound)
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
            } catch let error where error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
                throw EtcdTransportError(description: describe(error))
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
                      _ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>,
                      _ outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) async throws {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)")
        head.headers.add(name: "User-Agent", value: "globaldns")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        if let token { head.headers.add(name: "Authorization", value: token) }
        do {
            try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)])
        } catch {
            // The member may have closed the connection while the request was written (a TLS
            // alert refusing the client certificate): its reason waits in the inbound stream.
            for try await _ in inbound {}
            throw error
        }
    }

    private func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError { return describeTLS(error) }
        return "\(error)"
    }

    /// A TLS failure in words that name the problem and the setting to look at; BoringSSL's own
    /// reason (`CERTIFICATE_VERIFY_FAILED`, …) is kept at the end.
    private func describeTLS(_ error: any Error) -> String {
        let text = "\(error)"
        let reason = text.firstMatch(of: /OPENSSL_internal:([A-Z0-9_]+)/).map { " (\($0.1))" } ?? ""
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS handshake failed: certificate verification failed: the member's certificate does not chain to a CA "
                + "in store.etcd.tls.caFile (or the system's roots without it), or is expired\(reason)"
        }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "TLS handshake failed: the member's certificate names neither \(serverName ?? "the endpoint's host") nor the "
                + "address connected to (set store.etcd.tls.serverName to a name it carries): \(extra)"
        }
        if ["CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN", "HANDSHAKE_FAILURE"]
            .contains(where: { text.contains("ALERT_\($0)") }) {
            return clientCertificate
                ? "TLS: the member rejected the client certificate (store.etcd.tls.certFile: is it signed by a CA the member's "
                    + "--trusted-ca-file holds, and good for client authentication?)\(reason)"
                : "TLS: the member requires a client certificate and none is configured (store.etcd.tls.certFile and keyFile)\(reason)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("UNEXPECTED_RECORD") || text.contains("HTTP_REQUEST") {
            return "TLS handshake failed: the member does not answer TLS (is it serving http://?)\(reason)"
        }
        if case .uncleanShutdown = error as? NIOSSLError {
            return "TLS: the member closed the connection without a TLS close (did it reject the handshake?)"
        }
        return "TLS: \(text)"
    }
}

func seconds(_ t: TimeAmount) -> String {
    let ms = t.nanoseconds / 1_000_000
    return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
}

func isIPAddress(_ host: String) -> Bool {
    (try? SocketAddress(ipAddress: host, port: 0)) != nil
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPAPI
import Hummingbird
import Logging
import ServiceLifecycle

/// Runs `api` as a real server on 127.0.0.1 with an ephemeral port for the duration of `body`,
/// then shuts it down gracefully. `body` gets the port and a function that triggers the graceful
/// shutdown early (to test that open watches end).
func withLiveServer<T: Sendable>(_ api: NameServiceAPI,
                                 _ body: @Sendable (_ port: Int, _ shutdown: @escaping @Sendable () async -> Void) async throws -> T) async throws -> T {
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    // The production path: the API on its own event-loop group (APIServer), with every limit.
    let app = APIServer(api: api, address: .hostname("127.0.0.1", port: 0)) { channel in
        portContinuation.yield(channel.localAddress?.port ?? -1)
        portContinuation.finish()
    }
    let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger()))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(10))
            portContinuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()
        timeout.cancel()
        guard let port, port > 0 else {
            await group.triggerGracefulShutdown()
            throw RawClientError.timeout("the server did not start within 10 s")
        }
        do {
            let value = try await body(port) { await group.triggerGracefulShutdown() }
            await group.triggerGracefulShutdown()
            var result: T?
            for try await v in tasks { if let v { result = v } }
            return result ?? value
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }
}

enum RawClientError: Error, CustomStringConvertible {
    case system(String)
    case timeout(String)
    var description: String {
        switch self {
        case .system(let s): "system: \(s)"
        case .timeout(let s): "timeout: \(s)"
        }
    }
}

/// A tiny HTTP/1.1 client on a raw loopback socket, so tests can read a streamed (chunked) body
/// as it arrives, send a chunked request body, or just hang up. Every read is bounded by a
/// deadline and polls without blocking the cooperative thread pool.
final class RawHTTPClient: @unchecked Sendable {
    private let fd: Int32
    private(set) var received: [UInt8] = []
    private var closed = false
    /// The server closed (or reset) the connection: a read saw end of file or an error.
    private(set) var peerClosed = false

    /// `receiveBuffer` sets SO_RCVBUF before connecting (a small one makes a client that does not
    /// read stall the server's writes sooner).
    init(port: Int, receiveBuffer: Int32? = nil, source: String? = nil) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw RawClientError.system("socket: \(errno)") }
        if var size = receiveBuffer {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {  // another loopback address as the client's (127.0.0.2)
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                close(fd)
                throw RawClientError.system("bind \(source): \(errno)")
            }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw RawClientError.system("connect: \(errno)")
        }
    }

    deinit { hangUp() }

    func send(_ text: String) throws {
        try send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw RawClientError.system("write: \(errno)") }
            sent += n
        }
    }

    /// SO_RCVBUF of the connected socket (a larger one reads a long stream faster).
    func setReceiveBuffer(_ bytes: Int32) {
        var size = bytes
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    func hangUp() {
        guard !closed else { return }
        closed = true
        close(fd)
    }

    /// Reads until `done(received)` holds or the peer closes; false when `seconds` pass first.
    func read(within seconds: Double, until done: ([UInt8]) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !done(received) {
            guard ContinuousClock.now < deadline else { return false }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 0)
            if ready > 0 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 {
                    peerClosed = true
                    return done(received)
                }
                received += buffer[..<n]
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return true
    }

    /// Status code of the response head, once received.
    var statusCode: Int? {
        guard let head = headText, let line = head.split(separator: "\r\n").first else { return nil }
        let parts = line.split(separator: " ")
        return parts.count > 1 ? Int(parts[1]) : nil
    }

    var headText: String? {
        guard let end = headEnd else { return nil }
        return String(decoding: received[..<end], as: UTF8.self)
    }

    private var headEnd: Int? {
        let sep: [UInt8] = [13, 10, 13, 10]
        guard received.count >= 4 else { return nil }
        for i in 0...(received.count - 4) where Array(received[i..<(i + 4)]) == sep { return i }
        return nil
    }

    /// The chunked body decoded so far and whether its last chunk arrived.
    var chunkedBody: (body: [UInt8], complete: Bool) {
        guard let end = headEnd else { return ([], false) }
        var i = end + 4
        var body: [UInt8] = []
        while true {
            guard let lineEnd = (i..<max(i, received.count - 1)).first(where: { received[$0] == 13 && received[$0 + 1] == 10 }) else {
                return (body, false)
            }
            let sizeText = String(decoding: received[i..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText, radix: 16) else { return (body, false) }
            if size == 0 { return (body, true) }
            let start = lineEnd + 2
            guard received.count >= start + size + 2 else { return (body, false) }
            body += received[start..<(start + size)]
            i = start + size + 2
        }
    }

    /// Complete lines of the chunked body.
    var bodyLines: [String] {
        let text = String(decoding: chunkedBody.body, as: UTF8.self)
        guard let lastNewline = text.lastIndex(of: "\n") else { return [] }
        return text[..<lastNewline].split(separator: "\n").map(String.init)
    }
}

extension RawHTTPClient {
    /// Waits until the server closes the connection; false when `seconds` pass first.
    func waitForClose(within seconds: Double) async throws -> Bool {
        _ = try await read(within: seconds) { _ in false }
        return peerClosed
    }

    /// Sends a GET and reads its whole (Content-Length) response; returns the status code.
    func get(_ path: String, within seconds: Double = 5) async throws -> Int? {
        let before = received.count
        try send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        _ = try await read(within: seconds) { bytes in
            let text = String(decoding: bytes[before...], as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { return false }
            let head = text[..<end.lowerBound].lowercased()
            guard let cl = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                  let length = Int(cl.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return true }
            return text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length
        }
        let text = String(decoding: received[before...], as: UTF8.self)
        guard let line = text.split(separator: "\r\n").first else { return nil }
        let parts = line.split(separator: " ")
        return parts.count > 1 ? Int(parts[1]) : nil
    }
}

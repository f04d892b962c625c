import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking TCP client on loopback for what dig can't do: several framed queries in one write,
/// half a frame and then silence. Every read is bounded with poll(2).
final class RawTCPClient {
    private var fd: Int32

    init(port: UInt16, family: Int32 = AF_INET) throws {
        fd = socket(family, sockStream, 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        let rc = try LoopbackAddress(family: family, port: port).withSockaddr { connect(fd, $0, $1) }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            closeSocket(fd)
            fd = -1
            throw HarnessError("connect to loopback port \(port): \(message)")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 {
            closeSocket(fd)
            fd = -1
        }
    }

    /// Writes all of `bytes` in one send call where the kernel allows it.
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { buffer in
                #if canImport(Glibc)
                Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
                #elseif canImport(Musl)
                Musl.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
                #else
                Darwin.send(fd, buffer.baseAddress, buffer.count, 0)
                #endif
            }
            guard n > 0 else { throw HarnessError("send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    enum ReadResult: Equatable {
        case data([UInt8])
        /// The peer closed (FIN) or reset the connection.
        case closed
        case timedOut
    }

    /// Reads whatever arrives within `timeout`.
    func read(timeout: Duration) -> ReadResult {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let millis = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&pfd, 1, max(0, millis))
        if ready == 0 { return .timedOut }
        if ready < 0 { return errno == EINTR ? .timedOut : .closed }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return .closed }  // 0 = FIN; -1 = ECONNRESET and friends
        return .data(Array(buffer[0..<n]))
    }

    /// Reads `count` length-prefixed DNS messages, bounded by `timeout` overall.
    func readMessages(_ count: Int, timeout: Duration) throws -> [[UInt8]] {
        let deadline = ContinuousClock.now + timeout
        var pending: [UInt8] = []
        var messages: [[UInt8]] = []
        while messages.count < count {
            while pending.count >= 2 {
                let length = Int(pending[0]) << 8 | Int(pending[1])
                guard pending.count >= 2 + length else { break }
                messages.append(Array(pending[2..<(2 + length)]))
                pending.removeFirst(2 + length)
            }
            if messages.count >= count { break }
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw HarnessError("got \(messages.count) of \(count) TCP responses within \(timeout)")
            }
            switch read(timeout: left) {
            case .data(let bytes): pending += bytes
            case .closed: throw HarnessError("connection closed after \(messages.count) of \(count) responses")
            case .timedOut: continue
            }
        }
        return messages
    }

    /// Waits until the peer closes the connection; returns when that happened, nil if it stayed
    /// open for all of `timeout`. Data the server sends meanwhile is skipped.
    func waitForClose(timeout: Duration) -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            switch read(timeout: deadline - ContinuousClock.now) {
            case .closed: return ContinuousClock.now
            case .data, .timedOut: continue
            }
        }
        return nil
    }
}

/// Just enough DNS wire format for the raw tests (the server's own codec is what is under test, so
/// the tests don't use it).
enum WireQuery {
    /// A query for `name`/`type` (class IN unless given), RD clear, no EDNS.
    static func make(id: UInt16, name: String, type: UInt16, qclass: UInt16 = 1) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let utf8 = Array(label.utf8)
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes.append(0)
        bytes += [UInt8(type >> 8), UInt8(type & 0xff), UInt8(qclass >> 8), UInt8(qclass & 0xff)]
        return bytes
    }

    /// `message` with its two-byte TCP length prefix.
    static func framed(_ message: [UInt8]) -> [UInt8] {
        [UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message
    }

    struct Header: Equatable {
        var id: UInt16
        var isResponse: Bool
        var opcode: UInt8
        var aa: Bool
        var tc: Bool
        var rcode: UInt8
        var qdcount: UInt16
        var ancount: UInt16
        var nscount: UInt16
        var arcount: UInt16
    }

    static func header(_ message: [UInt8]) throws -> Header {
        guard message.count >= 12 else { throw HarnessError("DNS message of \(message.count) bytes") }
        func u16(_ i: Int) -> UInt16 { UInt16(message[i]) << 8 | UInt16(message[i + 1]) }
        return Header(id: u16(0), isResponse: message[2] & 0x80 != 0, opcode: (message[2] >> 3) & 0x0f,
                      aa: message[2] & 0x04 != 0, tc: message[2] & 0x02 != 0, rcode: message[3] & 0x0f,
                      qdcount: u16(4), ancount: u16(6), nscount: u16(8), arcount: u16(10))
    }
}

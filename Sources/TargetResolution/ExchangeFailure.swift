import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why one query to one server got no usable reply. `UpstreamResolver` turns it into a
/// `ResolutionError` naming the server.
enum ExchangeFailure: Error, Sendable {
    /// Nothing acceptable arrived within the timeout.
    case timeout
    /// The server's reply was unusable (see `ReplyVerdict`), or the TCP stream was cut mid-frame.
    case malformed(String)
    /// The server could not be reached (ICMP unreachable, connection refused, send failure…).
    case unreachable(String)
    /// The channel closed before a reply: the query was cancelled, or the server closed the TCP
    /// connection without answering.
    case closed

    /// A socket error in words (`connection refused`), without NIO's call-site details.
    static func unreachable(_ error: any Error) -> ExchangeFailure {
        if let io = error as? IOError {
            if io.errnoCode == ECONNREFUSED { return .unreachable("connection refused") }
            return .unreachable(String(cString: strerror(io.errnoCode)).lowercased())
        }
        if case .connectTimeout = error as? ChannelError { return .timeout }
        return .unreachable("\(error)")
    }
}

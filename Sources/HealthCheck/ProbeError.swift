#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a connect probe failed, in words fit for a target's `lastError`: `connection refused`,
/// `timed out after 3s`, `no route to host`.
///
/// Compared and hashed on `code` (as `ResolutionError`): the message is context.
public struct ProbeError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case refused, timeout, unreachable, other }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The target's host answered with a RST: nothing listens on the port.
        public static let refused = Code(.refused)
        /// No answer within the timeout (SYNs dropped, host down, filtered).
        public static let timeout = Code(.timeout)
        /// EHOSTUNREACH, ENETUNREACH: no route, or an ICMP unreachable came back.
        public static let unreachable = Code(.unreachable)
        /// Anything else (a local socket error, an address the kernel refuses, …).
        public static let other = Code(.other)

        public var description: String { "\(base)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: ProbeError, rhs: ProbeError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { message }

    /// `timed out after 3s`.
    public static func timedOut(after timeout: Duration) -> ProbeError {
        ProbeError(.timeout, message: "timed out after \(timeout.words)")
    }

    /// An errno from `socket`, `connect` or `SO_ERROR` in words (`EMFILE`: `too many open files`).
    init(errno code: Int32, timeout: Duration) {
        switch code {
        case ECONNREFUSED: self.init(.refused, message: "connection refused")
        case ETIMEDOUT: self = .timedOut(after: timeout)
        case EHOSTUNREACH: self.init(.unreachable, message: "no route to host")
        case ENETUNREACH: self.init(.unreachable, message: "network unreachable")
        default: self.init(.other, message: String(cString: strerror(code)).lowercased())
        }
    }
}

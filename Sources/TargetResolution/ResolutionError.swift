import DNSWire

/// Why a name could not be resolved, with a message that names the server that said so
/// (`NXDOMAIN from 127.0.0.1:5353`): it goes into a NameService's status as it is.
///
/// Compared and hashed on `code` (as `DNSWireError`): the message is context.
/// `ResolutionTracker` reports a change of message too, so a status never names a stale server.
public struct ResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case nxDomain, noData, timeout, serverFailure(UInt16), malformedReply, unreachable
            case noServers, tooManyCNAMEs, cancelled
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The name (or the end of its CNAME chain) does not exist.
        public static let nxDomain = Code(.nxDomain)
        /// The name exists but has neither A nor AAAA records.
        public static let noData = Code(.noData)
        /// No server replied within the timeout, on any attempt.
        public static let timeout = Code(.timeout)
        /// The last server tried answered with this RCODE (SERVFAIL, REFUSED, FORMERR, NOTIMP, …).
        public static func serverFailure(_ rcode: Rcode) -> Code { Code(.serverFailure(rcode.rawValue)) }
        /// A reply that does not decode, does not echo the question, or carries bad address RDATA.
        public static let malformedReply = Code(.malformedReply)
        /// The server could not be reached at all (ICMP port unreachable, TCP connection refused, …).
        public static let unreachable = Code(.unreachable)
        /// The configuration lists no upstream server.
        public static let noServers = Code(.noServers)
        /// The CNAME chain is longer than `UpstreamResolver.maxCNAMEs` or loops.
        public static let tooManyCNAMEs = Code(.tooManyCNAMEs)
        /// The resolving task was cancelled.
        public static let cancelled = Code(.cancelled)

        /// The server's RCODE for `serverFailure`, nil for every other code.
        public var rcode: Rcode? {
            if case .serverFailure(let raw) = base { return Rcode(raw) }
            return nil
        }

        public var description: String {
            switch base {
            case .serverFailure(let raw): "serverFailure(\(Rcode(raw)))"
            default: "\(base)"
            }
        }
    }

    public var code: Code
    /// What happened and which server said so; stable for an unchanged situation.
    public var message: String

    public init(_ code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: ResolutionError, rhs: ResolutionError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { message }
}

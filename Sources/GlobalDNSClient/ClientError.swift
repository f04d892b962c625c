/// A failure of the transport or of the client itself (not an error the API answered; that is
/// `APIError`). Compared on `code`; `message` is for people.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a struct wrapping a private enum so codes can be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case invalidServerURL, connectionRefused, connectTimedOut, connectFailed
            case timedOut, connectionClosed, invalidResponse, invalidManifest, invalidArgument
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// `--server` does not parse.
        public static let invalidServerURL = Code(.invalidServerURL)
        /// Nothing listens at the server's address.
        public static let connectionRefused = Code(.connectionRefused)
        /// The TCP connection was not established within the connect timeout.
        public static let connectTimedOut = Code(.connectTimedOut)
        /// Any other connect failure (name resolution, unreachable network…).
        public static let connectFailed = Code(.connectFailed)
        /// The response did not complete within the request timeout.
        public static let timedOut = Code(.timedOut)
        /// The server closed the connection before the response was complete.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server answered something this client cannot read.
        public static let invalidResponse = Code(.invalidResponse)
        /// A file given to `apply` is not a NameService document.
        public static let invalidManifest = Code(.invalidManifest)
        /// An argument is unusable (a name that cannot be put in a path…).
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { "\(base)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

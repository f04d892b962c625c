/// Why a locality or CIDR string did not parse. Compared on `code`; `message` is the
/// sentence validation shows after the field path.
public struct GSLBParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case emptySegment, tooManySegments, badCharacter, missingPrefixLength, badAddress, badPrefixLength
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A locality segment is empty (`us-west//a`, a leading or trailing `/`).
        public static let emptySegment = Code(.emptySegment)
        /// More than `region/zone/subzone`.
        public static let tooManySegments = Code(.tooManySegments)
        /// A locality segment holds a space or control character.
        public static let badCharacter = Code(.badCharacter)
        /// A CIDR without `/length`.
        public static let missingPrefixLength = Code(.missingPrefixLength)
        /// A CIDR's address is neither IPv4 nor IPv6.
        public static let badAddress = Code(.badAddress)
        /// A CIDR's length is not a number within the family (0...32 or 0...128).
        public static let badPrefixLength = Code(.badPrefixLength)

        public var description: String { "\(base)" }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: GSLBParseError, rhs: GSLBParseError) -> Bool { lhs.code == rhs.code }

    public var description: String { message }
}

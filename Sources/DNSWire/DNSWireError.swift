/// A wire-format problem: what went wrong and at which byte offset of the message.
///
/// Compared on `code` (an error is a struct with a code): the offset is context for logs and tests.
public struct DNSWireError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case truncated, badLabel, nameTooLong, badPointer, pointerLoop, trailingData
            case badRData, badOption, badEDNS, badCount, badClass, badType
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The message ended inside a field.
        public static let truncated = Code(.truncated)
        /// A label is longer than 63 bytes, empty where it must not be, or uses reserved bits (0x40/0x80).
        public static let badLabel = Code(.badLabel)
        /// A name is longer than 255 bytes.
        public static let nameTooLong = Code(.nameTooLong)
        /// A compression pointer points forward, at itself, or outside the message.
        public static let badPointer = Code(.badPointer)
        /// Compression pointers form a loop (or too many hops).
        public static let pointerLoop = Code(.pointerLoop)
        /// Bytes left over after the last field that should have ended the data.
        public static let trailingData = Code(.trailingData)
        /// RDATA does not match its type's format.
        public static let badRData = Code(.badRData)
        /// An EDNS option is malformed (e.g. Client Subnet with a bad prefix or address).
        public static let badOption = Code(.badOption)
        /// The OPT record is malformed or appears twice or outside the additional section.
        public static let badEDNS = Code(.badEDNS)
        /// Section counts are impossible for the message (e.g. QDCOUNT ≠ 1 in a query).
        public static let badCount = Code(.badCount)
        public static let badClass = Code(.badClass)
        public static let badType = Code(.badType)

        public var description: String { "\(base)" }
    }

    public let code: Code
    public let offset: Int

    public init(_ code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    public static func == (lhs: DNSWireError, rhs: DNSWireError) -> Bool { lhs.code == rhs.code }

    public var description: String { "\(code) at offset \(offset)" }
}

/// A zone file that cannot be loaded: what went wrong, in which file, at which line.
///
/// `line` is the line where the failing entry *starts* (for a multi-line `( … )` record, the line
/// of its owner), or 0 when the problem is not tied to a line (a missing file, a duplicate zone).
/// Compared on `code`, `file` and `line`; `message` is for people.
public struct ZoneFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case io, syntax, include, unsupportedClass, badRecord, zone, duplicateOrigin
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The file (or directory) cannot be opened or read.
        public static let io = Code(.io)
        /// ldns rejected an entry or a directive (`$TTL`, `$ORIGIN`) is malformed.
        public static let syntax = Code(.syntax)
        /// A `$INCLUDE` is malformed, loops, nests deeper than the limit, or names a missing file.
        public static let include = Code(.include)
        /// A record has a class other than IN.
        public static let unsupportedClass = Code(.unsupportedClass)
        /// ldns parsed the record but it does not convert to wire form (e.g. a relative name).
        public static let badRecord = Code(.badRecord)
        /// The records do not make a valid zone (ZoneBuilder refused them).
        public static let zone = Code(.zone)
        /// Two files in one directory define the same zone.
        public static let duplicateOrigin = Code(.duplicateOrigin)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The file as it was named (the path given to the loader, or the path an `$INCLUDE` resolved to).
    public let file: String
    /// 1-based line where the faulty entry starts; 0 when no line applies.
    public let line: Int
    public let message: String

    public init(_ code: Code, file: String, line: Int, message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
    }

    public var location: SourceLocation { SourceLocation(file: file, line: line) }

    public static func == (lhs: ZoneFileError, rhs: ZoneFileError) -> Bool {
        lhs.code == rhs.code && lhs.file == rhs.file && lhs.line == rhs.line
    }

    /// `file:line: message`, the form compilers use, so editors can jump to it.
    public var description: String {
        line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)"
    }
}

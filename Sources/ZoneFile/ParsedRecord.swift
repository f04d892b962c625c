import DNSWire

/// Where a record came from: the file it was read from (an included file names itself, not the
/// file that included it) and the 1-based line its entry starts on.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// One record of a zone file and the place it was written.
public struct ParsedRecord: Sendable, Hashable, CustomStringConvertible {
    public var record: ResourceRecord
    public var location: SourceLocation

    public init(record: ResourceRecord, location: SourceLocation) {
        self.record = record
        self.location = location
    }

    public var description: String { "\(location): \(record)" }
}

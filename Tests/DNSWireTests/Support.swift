import DNSWire
import Testing

/// Runs `body` and checks that it throws a `DNSWireError` with `code` (errors compare on the code,
/// the offset is context).
func expectWireError(_ code: DNSWireError.Code, _ what: String = "",
                     sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected \(code) but nothing was thrown \(what)", sourceLocation: sourceLocation)
    } catch let e as DNSWireError {
        #expect(e.code == code, "expected \(code), got \(e) \(what)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error) \(what)", sourceLocation: sourceLocation)
    }
}

/// A 12-byte header with the given counts (ID 0xBEEF, flags as given).
func header(id: UInt16 = 0xBEEF, flags: UInt16 = 0, qd: UInt16 = 0, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
    var h: [UInt8] = []
    for v in [id, flags, qd, an, ns, ar] { h.appendU16(v) }
    return h
}

/// `count` bytes of one repeated letter as a label (length byte included).
func label(_ count: Int, _ c: Character = "a") -> [UInt8] {
    [UInt8(count)] + Array(repeating: c.asciiValue!, count: count)
}

extension Array where Element == UInt8 {
    /// True when `needle` occurs as a contiguous run.
    func contains(run needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for i in 0...(count - needle.count) where self[i..<(i + needle.count)].elementsEqual(needle) { return true }
        return false
    }

    func count(of b: UInt8) -> Int { reduce(0) { $0 + ($1 == b ? 1 : 0) } }
}

extension DNSMessage {
    /// The message with the header counts `encode()` writes, so it compares equal to its decoding.
    var counted: DNSMessage {
        var m = self
        m.header.qdCount = UInt16(questions.count)
        m.header.anCount = UInt16(answers.count)
        m.header.nsCount = UInt16(authority.count)
        m.header.arCount = UInt16(additional.count + (edns == nil ? 0 : 1))
        return m
    }
}

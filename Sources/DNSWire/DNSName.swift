/// A domain name in uncompressed wire form: length-prefixed labels ending with the root label (0).
///
/// The original letter case is kept (answers echo it); equality and hashing are case-insensitive
/// (RFC 4343), so a `DNSName` can key a dictionary the way a resolver matches names.
public struct DNSName: Sendable, CustomStringConvertible {
    /// Uncompressed wire bytes, including the final zero byte. At most 255 bytes.
    public let wire: [UInt8]

    public static let root = DNSName(trustedWire: [0])

    /// Wraps bytes already known to be a valid uncompressed name.
    public init(trustedWire: [UInt8]) {
        self.wire = trustedWire
    }

    /// Validates uncompressed wire bytes (labels of 1...63 bytes, total ≤ 255, ends with root).
    public init(wire: [UInt8]) throws(DNSWireError) {
        var i = 0
        while true {
            guard i < wire.count else { throw DNSWireError(.truncated, offset: i) }
            let len = Int(wire[i])
            if len == 0 {
                guard i + 1 == wire.count else { throw DNSWireError(.trailingData, offset: i + 1) }
                break
            }
            guard len <= 63 else { throw DNSWireError(.badLabel, offset: i) }
            i += 1 + len
        }
        guard wire.count <= 255 else { throw DNSWireError(.nameTooLong, offset: 0) }
        self.wire = wire
    }

    /// Parses presentation format (`www.example.com.`, `\.` and `\DDD` escapes). A name without the
    /// final dot is taken as absolute: names here are always fully qualified.
    public init(_ text: String) throws(DNSWireError) {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        var label: [UInt8] = []
        let bytes = Array(text.utf8)
        if bytes == [UInt8(ascii: ".")] || bytes.isEmpty {
            self = .root
            return
        }
        var i = 0
        func flush(at offset: Int) throws(DNSWireError) {
            guard !label.isEmpty else { throw DNSWireError(.badLabel, offset: offset) }
            guard label.count <= 63 else { throw DNSWireError(.badLabel, offset: offset) }
            out.append(UInt8(label.count))
            out.append(contentsOf: label)
            label.removeAll(keepingCapacity: true)
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { throw DNSWireError(.badLabel, offset: i) }
                let d0 = bytes[i + 1]
                if d0 >= 0x30 && d0 <= 0x39 {
                    guard i + 3 < bytes.count else { throw DNSWireError(.badLabel, offset: i) }
                    var v = 0
                    for k in 1...3 {
                        let d = bytes[i + k]
                        guard d >= 0x30 && d <= 0x39 else { throw DNSWireError(.badLabel, offset: i) }
                        v = v * 10 + Int(d - 0x30)
                    }
                    guard v <= 255 else { throw DNSWireError(.badLabel, offset: i) }
                    label.append(UInt8(v))
                    i += 4
                } else {
                    label.append(d0)
                    i += 2
                }
            } else if c == UInt8(ascii: ".") {
                try flush(at: i)
                i += 1
            } else {
                label.append(c)
                i += 1
            }
        }
        if !label.isEmpty { try flush(at: i) }
        out.append(0)
        guard out.count <= 255 else { throw DNSWireError(.nameTooLong, offset: 0) }
        self.wire = out
    }

    /// Number of labels, not counting the root label.
    public var labelCount: Int {
        var n = 0
        var i = 0
        while wire[i] != 0 {
            n += 1
            i += 1 + Int(wire[i])
        }
        return n
    }

    public var isRoot: Bool { wire.count == 1 }

    /// The name with ASCII letters folded to lower case: the canonical key for lookups.
    public func lowercased() -> DNSName {
        DNSName(trustedWire: wire.map(DNSName.lower))
    }

    @inline(__always)
    public static func lower(_ b: UInt8) -> UInt8 {
        (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
    }

    /// The name without its first label (`www.example.com.` → `example.com.`); nil for the root.
    public var parent: DNSName? {
        guard !isRoot else { return nil }
        return DNSName(trustedWire: Array(wire[(1 + Int(wire[0]))...]))
    }

    /// The first label's bytes.
    public var firstLabel: ArraySlice<UInt8> {
        wire[1..<(1 + Int(wire[0]))]
    }

    public var isWildcard: Bool { wire.count >= 2 && wire[0] == 1 && wire[1] == UInt8(ascii: "*") }

    /// True when `self` equals `other` or lies below it.
    public func isSubdomain(of other: DNSName) -> Bool {
        guard wire.count >= other.wire.count else { return false }
        let start = wire.count - other.wire.count
        // The suffix must start on a label boundary.
        var i = 0
        while i < start { i += 1 + Int(wire[i]) }
        guard i == start else { return false }
        for k in 0..<other.wire.count where DNSName.lower(wire[start + k]) != DNSName.lower(other.wire[k]) {
            return false
        }
        return true
    }

    /// Prepends one label.
    public func prepending(label: some Collection<UInt8>) throws(DNSWireError) -> DNSName {
        guard !label.isEmpty, label.count <= 63 else { throw DNSWireError(.badLabel, offset: 0) }
        guard wire.count + label.count + 1 <= 255 else { throw DNSWireError(.nameTooLong, offset: 0) }
        return DNSName(trustedWire: [UInt8(label.count)] + label + wire)
    }

    public var description: String {
        if isRoot { return "." }
        var s = ""
        var i = 0
        while wire[i] != 0 {
            let len = Int(wire[i])
            for b in wire[(i + 1)...(i + len)] {
                switch b {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("),
                     UInt8(ascii: ")"), UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    s.append("\\")
                    s.unicodeScalars.append(Unicode.Scalar(b))
                case 0x21...0x7E:
                    s.unicodeScalars.append(Unicode.Scalar(b))
                default:
                    s.append("\\")
                    let d = Int(b)
                    s.append(String(d / 100))
                    s.append(String((d / 10) % 10))
                    s.append(String(d % 10))
                }
            }
            s.append(".")
            i += 1 + len
        }
        return s
    }
}

extension DNSName: Hashable {
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.wire.count == rhs.wire.count else { return false }
        for i in 0..<lhs.wire.count where DNSName.lower(lhs.wire[i]) != DNSName.lower(rhs.wire[i]) {
            return false
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for b in wire { hasher.combine(DNSName.lower(b)) }
    }
}

extension DNSName: ExpressibleByStringLiteral {
    /// For tests and constants only: traps on an invalid literal.
    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { fatalError("invalid DNS name literal \(value): \(error)") }
    }
}

extension DNSName: Comparable {
    /// Canonical DNS name order (RFC 4034 §6.1): compare label by label from the right, case-folded.
    public static func < (lhs: DNSName, rhs: DNSName) -> Bool {
        let l = lhs.labelRanges(), r = rhs.labelRanges()
        var i = l.count - 1, j = r.count - 1
        while i >= 0 && j >= 0 {
            let a = lhs.wire[l[i]].map(DNSName.lower), b = rhs.wire[r[j]].map(DNSName.lower)
            if a != b { return a.lexicographicallyPrecedes(b) }
            i -= 1; j -= 1
        }
        return l.count < r.count
    }

    func labelRanges() -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while wire[i] != 0 {
            out.append((i + 1)..<(i + 1 + Int(wire[i])))
            i += 1 + Int(wire[i])
        }
        return out
    }
}

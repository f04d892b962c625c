/// JSON string escapes (RFC 8259 §7), decoded one at a time: shared by the API's body scanner
/// (`BodyLimits`) and `NameServiceJSON`, which differ only in what they do with a lone surrogate.
public enum JSONEscape {
    public enum Decoded: Equatable {
        /// `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`.
        case byte(UInt8)
        /// `\uXXXX`, or a surrogate pair of them.
        case scalar(Unicode.Scalar)
        /// A `\uXXXX` surrogate without its other half (`JSONDecoder` refuses or replaces it).
        case loneSurrogate
    }

    /// The escape whose character after the backslash is at `bytes[i]`; advances `i` past it. Nil
    /// when malformed: an unknown escape, a short or non-hex `\uXXXX`, a high surrogate followed
    /// by an escape that is not a low surrogate.
    @inlinable
    public static func decode<C: RandomAccessCollection>(_ bytes: C, _ i: inout Int) -> Decoded?
    where C.Element == UInt8, C.Index == Int {
        guard i < bytes.endIndex else { return nil }
        let e = bytes[i]
        i += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return .byte(e)
        case UInt8(ascii: "b"): return .byte(0x08)
        case UInt8(ascii: "f"): return .byte(0x0C)
        case UInt8(ascii: "n"): return .byte(0x0A)
        case UInt8(ascii: "r"): return .byte(0x0D)
        case UInt8(ascii: "t"): return .byte(0x09)
        case UInt8(ascii: "u"):
            guard let high = hex4(bytes, &i) else { return nil }
            if (0xD800..<0xDC00).contains(high) {
                guard i + 1 < bytes.endIndex, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                    return .loneSurrogate
                }
                i += 2
                guard let low = hex4(bytes, &i), (0xDC00..<0xE000).contains(low) else { return nil }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)).map { .scalar($0) }
            }
            return Unicode.Scalar(high).map { .scalar($0) } ?? .loneSurrogate
        default:
            return nil
        }
    }

    /// Four hex digits at `bytes[i]`, advancing `i`; nil when they are not.
    @inlinable
    static func hex4<C: RandomAccessCollection>(_ bytes: C, _ i: inout Int) -> UInt32?
    where C.Element == UInt8, C.Index == Int {
        guard i + 4 <= bytes.endIndex else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }
}

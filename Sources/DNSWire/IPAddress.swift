/// An IPv4 address as a 32-bit value in host order. Foundation-free, parse and print only.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    public init(value: UInt32) { self.value = value }

    /// Dotted quad, four decimal octets, no leading zeros beyond a lone `0`.
    public init?(_ text: some StringProtocol) {
        var parts: [UInt32] = []
        var cur: UInt32 = 0
        var digits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0 else { return nil }
                parts.append(cur)
                cur = 0
                digits = 0
            } else if c >= 0x30 && c <= 0x39 {
                if digits == 1 && cur == 0 { return nil }
                cur = cur * 10 + UInt32(c - 0x30)
                digits += 1
                guard cur <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0 else { return nil }
        parts.append(cur)
        guard parts.count == 4 else { return nil }
        value = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
    }

    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    public var description: String {
        "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
    }

    public static func < (l: IPv4Address, r: IPv4Address) -> Bool { l.value < r.value }
}

/// An IPv6 address as two 64-bit halves in host order.
public struct IPv6Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From 16 network-order bytes (fewer are zero-padded on the right).
    public init(bytes: some Collection<UInt8>) {
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.prefix(16).enumerated() {
            if i < 8 { h |= UInt64(b) << UInt64(56 - 8 * i) } else { l |= UInt64(b) << UInt64(56 - 8 * (i - 8)) }
        }
        high = h
        low = l
    }

    /// RFC 4291 text form, including `::` and an embedded dotted quad.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, s.utf8.count <= 45 else { return nil }
        let halves = s.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring, allowV4: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (idx, p) in pieces.enumerated() {
                if allowV4 && idx == pieces.count - 1 && p.contains(".") {
                    guard let v4 = IPv4Address(p) else { return nil }
                    out.append(UInt16(v4.value >> 16))
                    out.append(UInt16(v4.value & 0xFFFF))
                } else {
                    // Hex digits only: `UInt16(_:radix:)` alone would also take a sign ("+1", "-0").
                    guard !p.isEmpty, p.utf8.count <= 4,
                          p.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }),
                          let v = UInt16(p, radix: 16) else { return nil }
                    out.append(v)
                }
            }
            return out
        }
        var all: [UInt16]
        if halves.count == 2 {
            guard let a = groups(halves[0], allowV4: false), let b = groups(halves[1], allowV4: true) else { return nil }
            guard a.count + b.count <= 7 else { return nil }
            all = a + Array(repeating: 0, count: 8 - a.count - b.count) + b
        } else {
            guard let a = groups(halves[0], allowV4: true), a.count == 8 else { return nil }
            all = a
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(all[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(all[i]) }
        high = h
        low = l
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for i in 0..<8 { out.append(UInt8((high >> UInt64(56 - 8 * i)) & 0xFF)) }
        for i in 0..<8 { out.append(UInt8((low >> UInt64(56 - 8 * i)) & 0xFF)) }
        return out
    }

    /// RFC 5952 canonical text: lower-case hex, longest run of two or more zero groups as `::`.
    public var description: String {
        var g: [UInt16] = []
        for i in 0..<4 { g.append(UInt16((high >> UInt64(48 - 16 * i)) & 0xFFFF)) }
        for i in 0..<4 { g.append(UInt16((low >> UInt64(48 - 16 * i)) & 0xFFFF)) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ v: UInt16) -> String { String(v, radix: 16) }
        if bestStart < 0 { return g.map(hex).joined(separator: ":") }
        let left = g[0..<bestStart].map(hex).joined(separator: ":")
        let right = g[(bestStart + bestLen)...].map(hex).joined(separator: ":")
        return left + "::" + right
    }

    public static func < (l: IPv6Address, r: IPv6Address) -> Bool {
        l.high != r.high ? l.high < r.high : l.low < r.low
    }
}

/// Either family.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: some StringProtocol) {
        if let v4 = IPv4Address(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }
}

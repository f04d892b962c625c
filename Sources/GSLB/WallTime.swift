#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A wall-clock instant: nanoseconds since 1970-01-01T00:00:00Z (leap seconds ignored, as POSIX).
/// Foundation-free. `TargetHealth` stamps probes and transitions with it, and a `TargetDrain`
/// expires at one, because both end up in a NameService's status (RFC 3339, `2025-01-31T12:00:00Z`) and
/// an operator's drain is meant in calendar time. Intervals and latencies are measured on the
/// monotonic clock, never with this.
///
/// Codable as an RFC 3339 string.
public struct WallTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var nanosecondsSinceEpoch: Int64

    public init(nanosecondsSinceEpoch: Int64) { self.nanosecondsSinceEpoch = nanosecondsSinceEpoch }

    public init(secondsSinceEpoch: Int64) { nanosecondsSinceEpoch = secondsSinceEpoch * 1_000_000_000 }

    /// The system's real-time clock (`CLOCK_REALTIME`).
    public static var now: WallTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return WallTime(nanosecondsSinceEpoch: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    public var secondsSinceEpoch: Int64 {
        nanosecondsSinceEpoch >= 0 ? nanosecondsSinceEpoch / 1_000_000_000 : (nanosecondsSinceEpoch + 1) / 1_000_000_000 - 1
    }

    public static func < (l: WallTime, r: WallTime) -> Bool { l.nanosecondsSinceEpoch < r.nanosecondsSinceEpoch }

    public static func + (l: WallTime, r: Duration) -> WallTime {
        WallTime(nanosecondsSinceEpoch: l.nanosecondsSinceEpoch + r.saturatingNanoseconds)
    }

    public static func - (l: WallTime, r: Duration) -> WallTime {
        WallTime(nanosecondsSinceEpoch: l.nanosecondsSinceEpoch - r.saturatingNanoseconds)
    }

    public static func - (l: WallTime, r: WallTime) -> Duration {
        .nanoseconds(l.nanosecondsSinceEpoch - r.nanosecondsSinceEpoch)
    }

    /// RFC 3339 in UTC with seconds precision, as Kubernetes writes condition times:
    /// `2025-01-31T12:00:00Z`.
    public var rfc3339: String {
        let seconds = secondsSinceEpoch
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        let (y, m, d) = Self.civil(fromDays: days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var year = "\(y)"
        while year.count < 4 { year = "0" + year }
        return "\(year)-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }

    public var description: String { rfc3339 }

    /// Parses RFC 3339 (`2025-01-31T12:00:00Z`, `2025-01-31t12:00:00.250+02:00`); nil if malformed
    /// or outside the years 1677–2262 (what nanoseconds in an `Int64` cover).
    public init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func num(_ range: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in range {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard let y = num(0..<4), b[4] == UInt8(ascii: "-"), let mo = num(5..<7), b[7] == UInt8(ascii: "-"),
              let d = num(8..<10), b[10] | 0x20 == UInt8(ascii: "t"),
              let h = num(11..<13), b[13] == UInt8(ascii: ":"), let mi = num(14..<16), b[16] == UInt8(ascii: ":"),
              let s = num(17..<19),
              (1...12).contains(mo), d >= 1, d <= Self.daysIn(month: mo, year: y), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if digits < 9 { nanos = nanos * 10 + Int64(b[i] - 0x30) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { nanos *= 10 }
        }
        guard i < b.count else { return nil }
        var offset: Int64 = 0
        if b[i] | 0x20 == UInt8(ascii: "z") {
            guard i + 1 == b.count else { return nil }
        } else {
            guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), i + 6 == b.count,
                  let oh = num(i + 1..<i + 3), b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4..<i + 6),
                  oh < 24, om < 60 else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        let seconds = Self.days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + min(s, 59) - offset
        // Nanoseconds in an Int64 reach from 1677 to 2262: a time outside is not representable.
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflow2) = scaled.addingReportingOverflow(nanos)
        guard !overflow, !overflow2 else { return nil }
        nanosecondsSinceEpoch = total
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let time = WallTime(rfc3339: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not an RFC 3339 time: \(text)"))
        }
        self = time
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Howard Hinnant's `days_from_civil`.
    private static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Howard Hinnant's `civil_from_days`.
    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at the ends of `Int64`.
    fileprivate var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}

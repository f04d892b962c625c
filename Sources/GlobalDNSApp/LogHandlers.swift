import Atomics
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The level and format every `LineLogHandler` made from it uses, changeable while the server
/// runs (SIGHUP applies `log.level` and `log.format` from the file).
public final class LogSettings: Sendable {
    private let levelIndex: ManagedAtomic<Int>
    private let formatIndex: ManagedAtomic<Int>

    public init(level: Logger.Level, format: LogFormat) {
        levelIndex = ManagedAtomic(Self.index(level))
        formatIndex = ManagedAtomic(Self.index(format))
    }

    public var level: Logger.Level {
        get { Logger.Level.allCases[levelIndex.load(ordering: .relaxed)] }
        set { levelIndex.store(Self.index(newValue), ordering: .relaxed) }
    }

    public var format: LogFormat {
        get { LogFormat.allCases[formatIndex.load(ordering: .relaxed)] }
        set { formatIndex.store(Self.index(newValue), ordering: .relaxed) }
    }

    private static func index<T: CaseIterable & Equatable>(_ value: T) -> Int {
        T.allCases.firstIndex(of: value).map { T.allCases.distance(from: T.allCases.startIndex, to: $0) }!
    }
}

/// One line per event on stderr, as logfmt (`ts=… level=info msg="dns listening" address=…`) or
/// JSON. Each line is one write(2) to fd 2, so lines from different threads never interleave.
/// The level and format follow `LogSettings` unless this handler's level is set.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    let label: String
    let settings: LogSettings
    private var levelOverride: Logger.Level?

    public var logLevel: Logger.Level {
        get { levelOverride ?? settings.level }
        set { levelOverride = newValue }
    }

    public init(label: String, settings: LogSettings) {
        self.label = label
        self.settings = settings
    }

    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.init(label: label, settings: LogSettings(level: level, format: format))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        writeToStderr(render(level: level, message: message, metadata: explicit))
    }

    /// One log line, with its newline.
    func render(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?) -> String {
        var all = metadata
        if let explicit { all.merge(explicit) { $1 } }
        var fields: [(String, String)] = [("ts", timestamp()), ("level", level.rawValue), ("msg", message.description)]
        var numeric: Set<String> = []
        for (k, v) in all.sorted(by: { $0.key < $1.key }) {
            let text = "\(v)"
            fields.append((k, text))
            if Self.isNumber(k, v, text) { numeric.insert(k) }
        }
        var out = ""
        switch settings.format {
        case .logfmt:
            out = fields.map { k, v in "\(k)=\(logfmtValue(v))" }.joined(separator: " ")
        case .json:
            // Numbers as JSON numbers (issue 14), so a log pipeline can compare and sum them.
            out = "{" + fields.map { k, v in "\(jsonString(k)):\(numeric.contains(k) ? v : jsonString(v))" }.joined(separator: ",") + "}"
        }
        out += "\n"
        return out
    }

    /// Keys whose values are names even when they are all digits (a NameService called `123`).
    static let textKeys: Set<String> = ["nameservice", "name", "target", "token", "replica", "zone", "identity", "path", "file", "key"]

    /// A metadata value written as a JSON number: an integer, float or boolean value, or a string
    /// that is a plain decimal number (`42`, `-3`, `0.25`; not `007`, `1e5` or `inf`), as most call
    /// sites format numbers into strings; never under a key that names things.
    static func isNumber(_ key: String, _ value: Logger.Metadata.Value, _ text: String) -> Bool {
        guard !textKeys.contains(key) else { return false }
        switch value {
        case .stringConvertible(let v):
            if v is Bool { return false }
            return (v is any BinaryInteger || v is any BinaryFloatingPoint) && isPlainDecimal(text)
        case .string:
            return isPlainDecimal(text)
        default:
            return false
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, at most 18 integer digits (so it is exact in any parser).
    static func isPlainDecimal(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let digits = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !digits.isEmpty, digits.count <= 18, digits.count == 1 || digits.first != 0x30 else { return false }
        let rest = bytes.dropFirst(digits.count)
        if rest.isEmpty { return true }
        guard rest.first == UInt8(ascii: "."), rest.count > 1 else { return false }
        return rest.dropFirst().allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    private func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}

func logfmtValue(_ v: String) -> String {
    let needsQuotes = v.isEmpty || v.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\n" })
    guard needsQuotes else { return v }
    return "\"" + backslashEscaped(v) + "\""
}

/// `\` → `\\`, newline → `\n` and (with `quotes`) `"` → `\"`: what logfmt values and Prometheus
/// label values (and, without quotes, HELP text) need.
func backslashEscaped(_ v: String, quotes: Bool = true) -> String {
    var s = ""
    for c in v {
        switch c {
        case "\"" where quotes: s += "\\\""
        case "\\": s += "\\\\"
        case "\n": s += "\\n"
        default: s.append(c)
        }
    }
    return s
}

func jsonString(_ v: String) -> String {
    var s = "\""
    for u in v.unicodeScalars {
        switch u {
        case "\"": s += "\\\""
        case "\\": s += "\\\\"
        case "\n": s += "\\n"
        case "\r": s += "\\r"
        case "\t": s += "\\t"
        default:
            if u.value < 0x20 {
                let hex = String(u.value, radix: 16)
                s += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                s.unicodeScalars.append(u)
            }
        }
    }
    return s + "\""
}

/// One write(2) of the whole text to standard error.
public func writeToStderr(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { p in
        var off = 0
        while off < p.count {
            let n = write(2, p.baseAddress! + off, p.count - off)
            if n <= 0 { break }
            off += n
        }
    }
}

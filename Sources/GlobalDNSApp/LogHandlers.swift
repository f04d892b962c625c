import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stderr, as logfmt (`ts=… level=info msg="dns listening" address=…`) or
/// JSON. Each line is one write(2) to fd 2, so lines from different threads never interleave.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: LogFormat

    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var all = metadata
        if let explicit { all.merge(explicit) { $1 } }
        var fields: [(String, String)] = [("ts", timestamp()), ("level", level.rawValue), ("msg", message.description)]
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { fields.append((k, "\(v)")) }
        var out = ""
        switch format {
        case .logfmt:
            out = fields.map { k, v in "\(k)=\(logfmtValue(v))" }.joined(separator: " ")
        case .json:
            out = "{" + fields.map { k, v in "\(jsonString(k)):\(jsonString(v))" }.joined(separator: ",") + "}"
        }
        out += "\n"
        writeToStderr(out)
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

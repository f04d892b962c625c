import CLDNS
import DNSWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads an RFC 1035 zone file with libldns and returns its records with the file and line each
/// one was written on.
///
/// ldns (`ldns_rr_new_frm_fp_l`) does the lexing and RDATA parsing: `$ORIGIN`, `$TTL`, `@`,
/// relative and absolute names, owner inheritance (an entry starting with a blank), `( … )` over
/// several lines, quoted strings, comments, `\DDD` escapes, every type ldns knows and the RFC 3597
/// `TYPEnnn \# len hex` form. This type adds what ldns 1.8 lacks:
///
/// - `$INCLUDE <file> [<origin>]`: the path is relative to the including file's directory; the
///   included file starts with the given origin (or the current one), the current `$TTL` and the
///   current owner. When it ends, origin, owner and `$TTL` revert to their values before the
///   directive (RFC 1035 §5.1). Loops and nesting deeper than `maxIncludeDepth` are refused.
/// - A relative `$ORIGIN` is taken relative to the current origin (ldns would keep it relative).
/// - `$TTL` values are checked (ldns silently reads garbage as 0).
/// - Errors name the file and the line the faulty entry *starts* on, found from the bytes between
///   the offsets before and after the failing call, plus ldns's message and, where it can be
///   found, the offending token.
///
/// Records of a class other than IN are refused. No zone semantics are checked here: that is
/// `ZoneBuilder`'s job (see `ZoneLoader`).
public struct ZoneFileParser: Sendable {
    /// The origin at the top of the file (`$ORIGIN` changes it). Without one, names are relative
    /// to the root, as ldns reads them (`www` is `www.`): pass the zone's origin.
    public var origin: DNSName?
    /// TTL for records before any `$TTL` that give none.
    public var defaultTTL: UInt32
    /// How deep `$INCLUDE`s may nest (the top file is depth 0).
    public var maxIncludeDepth: Int

    public init(origin: DNSName? = nil, defaultTTL: UInt32 = 3600, maxIncludeDepth: Int = 16) {
        self.origin = origin
        self.defaultTTL = defaultTTL
        self.maxIncludeDepth = maxIncludeDepth
    }

    /// The records of `file` and the files it includes, in file order.
    public func parse(file: String) throws(ZoneFileError) -> [ParsedRecord] {
        try parseContents(file: file).records
    }

    /// The records of `file` plus what the file says about its origin.
    public func parseContents(file: String) throws(ZoneFileError) -> ZoneFileContents {
        let source = try SourceText.read(file: file)
        let session = ParseSession(maxIncludeDepth: maxIncludeDepth)
        if let canonical = canonicalPath(file) { session.includeStack.append(canonical) }
        try session.parse(source, origin: origin, ttl: defaultTTL, prev: nil, depth: 0, isTop: true)
        return ZoneFileContents(records: session.records, originDirective: session.firstOrigin)
    }

    /// Parses zone text held in memory; `file` names it in locations and errors, and relative
    /// `$INCLUDE` paths are resolved against its directory.
    public func parse(text: String, file: String = "<text>") throws(ZoneFileError) -> [ParsedRecord] {
        let session = ParseSession(maxIncludeDepth: maxIncludeDepth)
        let source = SourceText(name: file, bytes: Array(text.utf8))
        try session.parse(source, origin: origin, ttl: defaultTTL, prev: nil, depth: 0, isTop: true)
        return session.records
    }
}

/// The result of parsing one zone file.
public struct ZoneFileContents: Sendable {
    public var records: [ParsedRecord]
    /// The first `$ORIGIN` directive of the top file, if any (resolved to an absolute name).
    public var originDirective: DNSName?

    public init(records: [ParsedRecord], originDirective: DNSName?) {
        self.records = records
        self.originDirective = originDirective
    }
}

/// `realpath(3)`, or nil when the file does not exist.
func canonicalPath(_ path: String) -> String? {
    guard let c = realpath(path, nil) else { return nil }
    defer { free(c) }
    return String(cString: c)
}

/// The directory part of a path (`zones/a.zone` → `zones`, `a.zone` → `.`).
func directoryName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// A file's bytes, kept so that errors can be placed on lines and directives re-read.
struct SourceText {
    let name: String
    let bytes: [UInt8]
    /// Offsets of every `\n`, ascending.
    let newlines: [Int]

    init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
        var nl: [Int] = []
        for (i, b) in bytes.enumerated() where b == 0x0A { nl.append(i) }
        self.newlines = nl
    }

    static func read(file: String, includedFrom: SourceLocation? = nil) throws(ZoneFileError) -> SourceText {
        guard let fp = fopen(file, "rb") else {
            let reason = String(cString: strerror(errno))
            if let at = includedFrom {
                throw ZoneFileError(.include, file: at.file, line: at.line,
                                    message: "cannot open included file '\(file)': \(reason)")
            }
            throw ZoneFileError(.io, file: file, line: 0, message: "cannot open: \(reason)")
        }
        defer { fclose(fp) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, fp) }
            out += chunk[0..<n]
            if n < chunk.count {
                if ferror(fp) != 0 {
                    throw ZoneFileError(.io, file: file, line: 0, message: "read error: \(String(cString: strerror(errno)))")
                }
                break
            }
        }
        return SourceText(name: file, bytes: out)
    }

    /// 1-based line of a byte offset.
    func line(at offset: Int) -> Int {
        var lo = 0, hi = newlines.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if newlines[mid] < offset { lo = mid + 1 } else { hi = mid }
        }
        return lo + 1
    }

    /// The offset of the first byte of an entry in `range`: blanks, line ends and comments before
    /// it are skipped. Nil when the range holds nothing but those.
    func entryStart(in range: Range<Int>) -> Int? {
        var i = range.lowerBound
        let end = min(range.upperBound, bytes.count)
        while i < end {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C:
                i += 1
            case UInt8(ascii: ";"):
                while i < end && bytes[i] != 0x0A { i += 1 }
            default:
                return i
            }
        }
        return nil
    }

    /// True when the entry at `offset` has no owner of its own (its line starts with a blank).
    func startsWithBlank(_ offset: Int) -> Bool {
        offset > 0 && bytes[offset - 1] != 0x0A
    }

    /// True when `(` and `)` outside quotes and comments do not pair up in `range`: ldns accepts an
    /// entry whose `(` is never closed when the file ends there.
    func hasUnbalancedParentheses(in range: Range<Int>) -> Bool {
        var depth = 0
        var i = range.lowerBound
        let end = min(range.upperBound, bytes.count)
        var inQuotes = false
        while i < end {
            let b = bytes[i]
            if b == UInt8(ascii: "\\") { i += 2; continue }
            if inQuotes {
                if b == UInt8(ascii: "\"") { inQuotes = false }
            } else if b == UInt8(ascii: "\"") {
                inQuotes = true
            } else if b == UInt8(ascii: ";") {
                while i < end && bytes[i] != 0x0A { i += 1 }
                continue
            } else if b == UInt8(ascii: "(") {
                depth += 1
            } else if b == UInt8(ascii: ")") {
                depth -= 1
                if depth < 0 { return true }
            }
            i += 1
        }
        return depth != 0 || inQuotes
    }

    /// The tokens of `range` as a zone file lexer sees them: blanks separate, `;` starts a comment,
    /// `"…"` is one token (quotes kept), `(` and `)` are dropped, `\x` escapes are kept verbatim.
    func tokens(in range: Range<Int>) -> [String] {
        var out: [String] = []
        var cur: [UInt8] = []
        var i = range.lowerBound
        let end = min(range.upperBound, bytes.count)
        var inQuotes = false
        func flush() {
            if !cur.isEmpty { out.append(String(decoding: cur, as: UTF8.self)); cur.removeAll() }
        }
        while i < end {
            let b = bytes[i]
            if b == UInt8(ascii: "\\") && i + 1 < end {
                cur.append(b); cur.append(bytes[i + 1]); i += 2; continue
            }
            if inQuotes {
                cur.append(b)
                if b == UInt8(ascii: "\"") { inQuotes = false; flush() }
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                flush(); cur.append(b); inQuotes = true
            case 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, UInt8(ascii: "("), UInt8(ascii: ")"):
                flush()
            case UInt8(ascii: ";"):
                flush()
                while i < end && bytes[i] != 0x0A { i += 1 }
                continue
            default:
                cur.append(b)
            }
            i += 1
        }
        flush()
        return out
    }
}

import CLDNS
import DNSWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One parse of a top file and its includes: the records found so far and the include chain.
final class ParseSession {
    var records: [ParsedRecord] = []
    /// The first `$ORIGIN` of the top file.
    var firstOrigin: DNSName?
    /// Canonical paths of the files being read, outermost first (for loop detection).
    var includeStack: [String] = []
    let maxIncludeDepth: Int

    init(maxIncludeDepth: Int) {
        self.maxIncludeDepth = maxIncludeDepth
    }

    /// Reads every entry of `source` with `ldns_rr_new_frm_fp_l`, handling its statuses the way
    /// `ldns_zone_new_frm_fp_l` does, plus `$INCLUDE`.
    func parse(_ source: SourceText, origin: DNSName?, ttl: UInt32, prev: DNSName?, depth: Int,
               isTop: Bool) throws(ZoneFileError) {
        guard !source.bytes.isEmpty else { return }
        // ldns reads a FILE*; the bytes already read back it so offsets and lines agree exactly.
        let count = source.bytes.count
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(from: source.bytes, count: count)
        guard let fp = fmemopen(buffer, count, "r") else {
            throw ZoneFileError(.io, file: source.name, line: 0, message: "fmemopen: \(String(cString: strerror(errno)))")
        }
        defer { fclose(fp) }

        // ldns owns these between calls and replaces them as it goes.
        var originRDF: LDNS.RDF? = origin.flatMap(LDNS.rdf)
        var prevRDF: LDNS.RDF? = prev.flatMap(LDNS.rdf)
        defer {
            if let originRDF { ldns_rdf_deep_free(originRDF) }
            if let prevRDF { ldns_rdf_deep_free(prevRDF) }
        }
        var currentOrigin = origin
        var currentTTL = ttl
        var ldnsLine: Int32 = 0

        while feof(fp) == 0 {
            let before = ftell(fp)
            var rr: LDNS.RR?
            var ttlInOut = currentTTL
            let status = ldns_rr_new_frm_fp_l(&rr, fp, &ttlInOut, &originRDF, &prevRDF, &ldnsLine)
            let after = ftell(fp)
            let range = Int(before)..<Int(after)
            let start = source.entryStart(in: range)
            let location = SourceLocation(file: source.name, line: source.line(at: start ?? range.lowerBound))

            switch status {
            case LDNS_STATUS_OK:
                guard let rr else { continue }
                defer { ldns_rr_free(rr) }
                if source.hasUnbalancedParentheses(in: range) {
                    throw ZoneFileError(.syntax, file: location.file, line: location.line,
                                        message: "unbalanced '(' or '\"' (the entry runs to the end of the file?): \(entryText(source, range))")
                }
                let record: ResourceRecord
                do {
                    record = try LDNS.record(rr)
                } catch {
                    throw conversionError(error, at: location, source: source, range: range)
                }
                if let start, let ttl = OffendingToken.oversizedTTL(tokens: source.tokens(in: start..<range.upperBound),
                                                                    hasOwner: !source.startsWithBlank(start)) {
                    throw ZoneFileError(.syntax, file: location.file, line: location.line,
                                        message: "TTL '\(ttl)' is larger than 2147483647 (RFC 2181 §8): \(entryText(source, range))")
                }
                guard record.rrClass == .in else {
                    throw ZoneFileError(.unsupportedClass, file: location.file, line: location.line,
                                        message: "class \(record.rrClass) is not supported, only IN: \(entryText(source, range))")
                }
                records.append(ParsedRecord(record: record, location: location))
            case LDNS_STATUS_SYNTAX_EMPTY:
                break
            case LDNS_STATUS_SYNTAX_TTL:
                currentTTL = try checkedTTL(source, range, at: location)
            case LDNS_STATUS_SYNTAX_ORIGIN:
                currentOrigin = try resolveOrigin(source, range, at: location, current: currentOrigin, ldnsOrigin: &originRDF)
                if isTop && firstOrigin == nil { firstOrigin = currentOrigin }
            case LDNS_STATUS_SYNTAX_INCLUDE:
                let owner = prevRDF.flatMap(LDNS.name)
                try include(source, range, at: location, origin: currentOrigin, ttl: currentTTL, prev: owner, depth: depth)
            default:
                // At the end of the file ldns reports a syntax error for trailing blanks or
                // comments; that is the end, not an error.
                if start == nil && feof(fp) != 0 { break }
                throw syntaxError(status, source: source, range: range, entry: start, at: location)
            }
            if after == before && feof(fp) == 0 {
                throw ZoneFileError(.syntax, file: location.file, line: location.line, message: "the parser made no progress")
            }
        }
    }

    // MARK: - Directives

    /// `$TTL <period>`: ldns has already set the TTL but reads garbage as 0, so check the text.
    private func checkedTTL(_ source: SourceText, _ range: Range<Int>, at location: SourceLocation) throws(ZoneFileError) -> UInt32 {
        let tokens = source.tokens(in: range)
        guard tokens.count == 2 else {
            throw ZoneFileError(.syntax, file: location.file, line: location.line,
                                message: "$TTL needs exactly one value: \(entryText(source, range))")
        }
        var end: UnsafePointer<CChar>?
        let value = tokens[1].withCString { p -> UInt32? in
            let v = ldns_str2period(p, &end)
            guard let end, end.pointee == 0, end != p else { return nil }
            return v
        }
        guard let value, value <= Int32.max else {
            throw ZoneFileError(.syntax, file: location.file, line: location.line,
                                message: "bad $TTL value '\(tokens[1])' (want seconds or a period like 1h30m, at most 2147483647)")
        }
        return value
    }

    /// `$ORIGIN <name>`: ldns keeps a relative name relative; RFC 1035 appends the current origin.
    private func resolveOrigin(_ source: SourceText, _ range: Range<Int>, at location: SourceLocation,
                               current: DNSName?, ldnsOrigin: inout LDNS.RDF?) throws(ZoneFileError) -> DNSName {
        let tokens = source.tokens(in: range)
        guard tokens.count == 2 else {
            throw ZoneFileError(.syntax, file: location.file, line: location.line,
                                message: "$ORIGIN needs exactly one name: \(entryText(source, range))")
        }
        let resolved = try absoluteName(tokens[1], relativeTo: current, at: location, what: "$ORIGIN")
        if let old = ldnsOrigin { ldns_rdf_deep_free(old) }
        ldnsOrigin = LDNS.rdf(resolved)
        return resolved
    }

    /// A name from a directive, made absolute against `origin`.
    private func absoluteName(_ text: String, relativeTo origin: DNSName?, at location: SourceLocation,
                              what: String) throws(ZoneFileError) -> DNSName {
        if text == "@", let origin { return origin }
        guard let (rdf, absolute) = LDNS.parseName(text) else {
            throw ZoneFileError(.syntax, file: location.file, line: location.line, message: "\(what): bad domain name '\(text)'")
        }
        defer { ldns_rdf_deep_free(rdf) }
        var wire = LDNS.bytes(rdf)
        if !absolute {
            guard let origin else {
                throw ZoneFileError(.syntax, file: location.file, line: location.line,
                                    message: "\(what): relative name '\(text)' with no origin to complete it")
            }
            if wire.last == 0 { wire.removeLast() }
            wire += origin.wire
        }
        do {
            return try DNSName(wire: wire)
        } catch {
            throw ZoneFileError(.syntax, file: location.file, line: location.line, message: "\(what): bad domain name '\(text)' (\(error))")
        }
    }

    /// `$INCLUDE <file> [<origin>]`, which ldns 1.8 reports but does not implement.
    private func include(_ source: SourceText, _ range: Range<Int>, at location: SourceLocation,
                         origin: DNSName?, ttl: UInt32, prev: DNSName?, depth: Int) throws(ZoneFileError) {
        let tokens = source.tokens(in: range)
        guard tokens.first == "$INCLUDE", tokens.count == 2 || tokens.count == 3 else {
            throw ZoneFileError(.include, file: location.file, line: location.line,
                                message: "$INCLUDE wants a file name and an optional origin: \(entryText(source, range))")
        }
        var path = tokens[1]
        if path.count >= 2 && path.hasPrefix("\"") && path.hasSuffix("\"") {
            path = String(path.dropFirst().dropLast())
        }
        if !path.hasPrefix("/") {
            let dir = directoryName(source.name)
            path = dir == "." ? path : dir + "/" + path
        }
        let includeOrigin = tokens.count == 3
            ? try absoluteName(tokens[2], relativeTo: origin, at: location, what: "$INCLUDE origin")
            : origin
        guard depth + 1 <= maxIncludeDepth else {
            throw ZoneFileError(.include, file: location.file, line: location.line,
                                message: "$INCLUDE '\(path)' nests deeper than \(maxIncludeDepth) levels")
        }
        let included = try SourceText.read(file: path, includedFrom: location)
        guard let canonical = canonicalPath(path) else {
            throw ZoneFileError(.include, file: location.file, line: location.line,
                                message: "cannot resolve included file '\(path)'")
        }
        if includeStack.contains(canonical) {
            let chain = (includeStack + [canonical]).joined(separator: " -> ")
            throw ZoneFileError(.include, file: location.file, line: location.line,
                                message: "$INCLUDE loop: \(chain)")
        }
        includeStack.append(canonical)
        defer { includeStack.removeLast() }
        try parse(included, origin: includeOrigin, ttl: ttl, prev: prev, depth: depth + 1, isTop: false)
    }

    // MARK: - Errors

    private func conversionError(_ problem: LDNS.ConversionProblem, at location: SourceLocation,
                                 source: SourceText, range: Range<Int>) -> ZoneFileError {
        let text = entryText(source, range)
        let message: String
        switch problem {
        case .relativeOwner: message = "relative owner name with no $ORIGIN to complete it: \(text)"
        case .relativeNameInRData: message = "relative name in RDATA with no $ORIGIN to complete it: \(text)"
        case .rdataTooLong: message = "RDATA longer than 65535 bytes: \(text)"
        }
        return ZoneFileError(.badRecord, file: location.file, line: location.line, message: message)
    }

    private func syntaxError(_ status: ldns_status, source: SourceText, range: Range<Int>, entry: Int?,
                             at location: SourceLocation) -> ZoneFileError {
        let tokens = source.tokens(in: (entry ?? range.lowerBound)..<range.upperBound)
        var message = LDNS.errorString(status)
        if let first = tokens.first, first.hasPrefix("$") {
            message = ["$ORIGIN", "$TTL", "$INCLUDE"].contains(first)
                ? "malformed \(first) directive (\(message))"
                : "unknown directive '\(first)'"
        } else if let entry, let hit = OffendingToken.find(status: status, tokens: tokens,
                                                           hasOwner: !source.startsWithBlank(entry)) {
            message = hit.unknownType
                ? "unknown RR type '\(hit.token)' (\(message))"
                : message + ": '\(hit.token)'"
        }
        if tokens.isEmpty {
            message += " (unexpected end of file; an unclosed '(' or '\"'?)"
        } else {
            message += " in: \(entryText(source, range))"
        }
        return ZoneFileError(.syntax, file: location.file, line: location.line, message: message)
    }

    /// The entry as one line, for messages: comments dropped, blanks collapsed, at most 120 characters.
    private func entryText(_ source: SourceText, _ range: Range<Int>) -> String {
        let text = source.tokens(in: range).joined(separator: " ")
        return text.count > 120 ? String(text.prefix(117)) + "..." : text
    }
}

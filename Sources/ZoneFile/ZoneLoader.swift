import DNSWire
import DNSZone
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns zone files into `Zone`s: `ZoneFileParser` reads the records, `ZoneBuilder` checks and
/// compiles them, and any refusal is reported as `file:line` of the record at fault.
public enum ZoneLoader {
    /// Loads one zone file.
    ///
    /// The origin is, in order: `origin` when given; the owner of the file's first SOA; the first
    /// `$ORIGIN` of the file; the file name without its `.zone` suffix. Relative names before any
    /// `$ORIGIN` are completed with `origin` or, without it, with that file-name origin.
    public static func load(file: String, origin: DNSName? = nil) throws(ZoneFileError) -> Zone {
        let fallback: DNSName
        if let origin { fallback = origin } else { fallback = try originFromFileName(file) }
        let contents = try ZoneFileParser(origin: fallback).parseContents(file: file)
        let zoneOrigin = origin
            ?? contents.records.first(where: { $0.record.type == .soa })?.record.owner
            ?? contents.originDirective
            ?? fallback
        return try build(contents.records, origin: zoneOrigin, file: file)
    }

    /// Feeds parsed records to a `ZoneBuilder`, mapping its `recordIndex` back to file and line.
    /// `file` names the error when the fault is not one record (e.g. no SOA).
    public static func build(_ records: [ParsedRecord], origin: DNSName, file: String) throws(ZoneFileError) -> Zone {
        var builder = ZoneBuilder(origin: origin)
        do {
            for parsed in records { try builder.add(parsed.record) }
            return try builder.build()
        } catch {
            if let index = error.recordIndex, records.indices.contains(index) {
                let at = records[index].location
                throw ZoneFileError(.zone, file: at.file, line: at.line, message: error.message)
            }
            throw ZoneFileError(.zone, file: file, line: 0, message: error.message)
        }
    }

    /// Loads every `*.zone` file of `dir` (not its subdirectories), in name order. The first error
    /// stops the load; two files with the same origin are refused.
    public static func loadDirectory(_ dir: String) throws(ZoneFileError) -> [Zone] {
        guard let handle = opendir(dir) else {
            throw ZoneFileError(.io, file: dir, line: 0, message: "cannot open directory: \(String(cString: strerror(errno)))")
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasSuffix(".zone"), !name.hasPrefix("."), name.count > ".zone".count else { continue }
            names.append(name)
        }
        closedir(handle)
        names.sort()

        var zones: [Zone] = []
        var seen: [DNSName: String] = [:]
        for name in names {
            let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            guard isRegularFile(path) else { continue }
            let zone = try load(file: path)
            if let first = seen[zone.origin] {
                throw ZoneFileError(.duplicateOrigin, file: path, line: 0,
                                    message: "zone \(zone.origin) is already defined by \(first)")
            }
            seen[zone.origin] = path
            zones.append(zone)
        }
        return zones
    }

    /// `g.example.com.zone` → `g.example.com.`
    static func originFromFileName(_ file: String) throws(ZoneFileError) -> DNSName {
        var base = file.split(separator: "/").last.map(String.init) ?? file
        if base.hasSuffix(".zone") { base.removeLast(".zone".count) }
        do {
            return try DNSName(base)
        } catch {
            throw ZoneFileError(.syntax, file: file, line: 0,
                                message: "no origin given and the file name '\(base)' is not a domain name (\(error))")
        }
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}

/// The layout of RDATA for the types whose layout matters to a nameserver: where the domain names
/// are (for compression, case handling and additional-section processing) and how to find the end.
///
/// RFC 3597 §4: names are compressed on output only in the RFC 1035 types; names in any of the
/// types listed here are decompressed on input.
public enum RDataField: Sendable, Equatable {
    case name(compressible: Bool)
    case fixed(Int)
    case characterString
    /// One or more character-strings up to the end of the RDATA (TXT, SPF).
    case characterStrings
    /// Opaque bytes up to the end.
    case remainder
}

public enum RDataSchema {
    /// The fields of `type`'s RDATA, or nil when the type is opaque to this codec (RFC 3597).
    public static func fields(of type: RRType) -> [RDataField]? {
        switch type {
        case .a: [.fixed(4)]
        case .aaaa: [.fixed(16)]
        case .ns, .md, .mf, .cname, .mb, .mg, .mr, .ptr: [.name(compressible: true)]
        case .dname: [.name(compressible: false)]
        case .soa: [.name(compressible: true), .name(compressible: true), .fixed(20)]
        case .minfo: [.name(compressible: true), .name(compressible: true)]
        case .mx: [.fixed(2), .name(compressible: true)]
        case .rp: [.name(compressible: false), .name(compressible: false)]
        case .afsdb, .kx: [.fixed(2), .name(compressible: false)]
        case .hinfo: [.characterString, .characterString]
        case .txt, .spf: [.characterStrings]
        case .srv: [.fixed(6), .name(compressible: false)]
        case .naptr: [.fixed(4), .characterString, .characterString, .characterString, .name(compressible: false)]
        default: nil
        }
    }

    /// Names in these types' RDATA need additional-section processing (RFC 1035 §3.3, RFC 2782).
    public static func needsAdditional(_ type: RRType) -> Bool {
        type == .ns || type == .mx || type == .srv
    }

    /// Validates uncompressed RDATA against the schema and returns each name's byte range.
    public static func nameRanges(type: RRType, rdata: [UInt8]) throws(DNSWireError) -> [(range: Range<Int>, compressible: Bool)] {
        guard let fields = fields(of: type) else { return [] }
        var out: [(Range<Int>, Bool)] = []
        var i = 0
        for f in fields {
            switch f {
            case .name(let c):
                let start = i
                while true {
                    guard i < rdata.count else { throw DNSWireError(.badRData, offset: i) }
                    let len = Int(rdata[i])
                    guard len <= 63 else { throw DNSWireError(.badRData, offset: i) }
                    i += 1 + len
                    if len == 0 { break }
                }
                guard i - start <= 255 else { throw DNSWireError(.nameTooLong, offset: start) }
                out.append((start..<i, c))
            case .fixed(let n):
                i += n
                guard i <= rdata.count else { throw DNSWireError(.badRData, offset: i) }
            case .characterString:
                guard i < rdata.count else { throw DNSWireError(.badRData, offset: i) }
                i += 1 + Int(rdata[i])
                guard i <= rdata.count else { throw DNSWireError(.badRData, offset: i) }
            case .characterStrings:
                guard i < rdata.count else { throw DNSWireError(.badRData, offset: i) }
                while i < rdata.count {
                    i += 1 + Int(rdata[i])
                    guard i <= rdata.count else { throw DNSWireError(.badRData, offset: i) }
                }
            case .remainder:
                i = rdata.count
            }
        }
        guard i == rdata.count else { throw DNSWireError(.badRData, offset: i) }
        return out.map { (range: $0.0, compressible: $0.1) }
    }
}

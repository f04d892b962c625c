/// A typed view of RDATA for the types the server and its tests reason about. Every other type is
/// `.unknown(type, bytes)` and is carried opaquely (RFC 3597), so nothing is ever lost.
public enum RData: Sendable, Hashable {
    public struct SOA: Sendable, Hashable {
        public var mname: DNSName
        public var rname: DNSName
        public var serial: UInt32
        public var refresh: UInt32
        public var retry: UInt32
        public var expire: UInt32
        public var minimum: UInt32
        public init(mname: DNSName, rname: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32) {
            self.mname = mname
            self.rname = rname
            self.serial = serial
            self.refresh = refresh
            self.retry = retry
            self.expire = expire
            self.minimum = minimum
        }
    }

    case a(IPv4Address)
    case aaaa(IPv6Address)
    case ns(DNSName)
    case cname(DNSName)
    case ptr(DNSName)
    case dname(DNSName)
    case soa(SOA)
    case mx(preference: UInt16, exchange: DNSName)
    case txt([[UInt8]])
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    case caa(flags: UInt8, tag: [UInt8], value: [UInt8])
    case hinfo(cpu: [UInt8], os: [UInt8])
    case unknown(RRType, [UInt8])

    public var type: RRType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .ptr: .ptr
        case .dname: .dname
        case .soa: .soa
        case .mx: .mx
        case .txt: .txt
        case .srv: .srv
        case .caa: .caa
        case .hinfo: .hinfo
        case .unknown(let t, _): t
        }
    }

    /// Decodes uncompressed RDATA of `type`.
    public init(type: RRType, rdata: [UInt8]) throws(DNSWireError) {
        var r = ByteReader(rdata)
        switch type {
        case .a:
            guard rdata.count == 4 else { throw DNSWireError(.badRData, offset: 0) }
            self = .a(IPv4Address(rdata[0], rdata[1], rdata[2], rdata[3]))
        case .aaaa:
            guard rdata.count == 16 else { throw DNSWireError(.badRData, offset: 0) }
            self = .aaaa(IPv6Address(bytes: rdata))
        case .ns: self = .ns(try r.name()); try r.expectEnd()
        case .cname: self = .cname(try r.name()); try r.expectEnd()
        case .ptr: self = .ptr(try r.name()); try r.expectEnd()
        case .dname: self = .dname(try r.name()); try r.expectEnd()
        case .soa:
            let m = try r.name(), n = try r.name()
            self = .soa(SOA(mname: m, rname: n, serial: try r.u32(), refresh: try r.u32(), retry: try r.u32(),
                            expire: try r.u32(), minimum: try r.u32()))
            try r.expectEnd()
        case .mx:
            self = .mx(preference: try r.u16(), exchange: try r.name()); try r.expectEnd()
        case .txt:
            var strings: [[UInt8]] = []
            repeat { strings.append(try r.characterString()) } while !r.atEnd
            self = .txt(strings)
        case .srv:
            self = .srv(priority: try r.u16(), weight: try r.u16(), port: try r.u16(), target: try r.name())
            try r.expectEnd()
        case .caa:
            let flags = try r.u8()
            let tag = try r.characterString()
            self = .caa(flags: flags, tag: tag, value: r.rest())
        case .hinfo:
            self = .hinfo(cpu: try r.characterString(), os: try r.characterString()); try r.expectEnd()
        default:
            self = .unknown(type, rdata)
        }
    }

    /// Uncompressed RDATA.
    public func wire() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .a(let ip): out = ip.bytes
        case .aaaa(let ip): out = ip.bytes
        case .ns(let n), .cname(let n), .ptr(let n), .dname(let n): out = n.wire
        case .soa(let s):
            out = s.mname.wire + s.rname.wire
            for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] { out.appendU32(v) }
        case .mx(let p, let x): out.appendU16(p); out += x.wire
        case .txt(let strings): for s in strings { out.append(UInt8(s.count)); out += s }
        case .srv(let p, let w, let port, let t):
            out.appendU16(p); out.appendU16(w); out.appendU16(port); out += t.wire
        case .caa(let f, let tag, let value): out = [f, UInt8(tag.count)] + tag + value
        case .hinfo(let c, let o): out = [UInt8(c.count)] + c + [UInt8(o.count)] + o
        case .unknown(_, let b): out = b
        }
        return out
    }

    /// Presentation format (RFC 1035 §5.1; RFC 3597 `\# len hex` for opaque types).
    public var presentation: String {
        func quoted(_ s: [UInt8]) -> String {
            var out = "\""
            for b in s {
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += "\\"; out.unicodeScalars.append(Unicode.Scalar(b))
                case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
                default:
                    let d = Int(b)
                    out += "\\" + String(d / 100) + String((d / 10) % 10) + String(d % 10)
                }
            }
            return out + "\""
        }
        switch self {
        case .a(let ip): return ip.description
        case .aaaa(let ip): return ip.description
        case .ns(let n), .cname(let n), .ptr(let n), .dname(let n): return n.description
        case .soa(let s):
            return "\(s.mname) \(s.rname) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)"
        case .mx(let p, let x): return "\(p) \(x)"
        case .txt(let strings): return strings.map(quoted).joined(separator: " ")
        case .srv(let p, let w, let port, let t): return "\(p) \(w) \(port) \(t)"
        case .caa(let f, let tag, let value): return "\(f) \(String(decoding: tag, as: UTF8.self)) \(quoted(value))"
        case .hinfo(let c, let o): return "\(quoted(c)) \(quoted(o))"
        case .unknown(_, let b):
            let hex = b.map { byte -> String in
                let digits = Array("0123456789abcdef")
                return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
            }.joined()
            return b.isEmpty ? "\\# 0" : "\\# \(b.count) \(hex)"
        }
    }
}

/// A cursor over uncompressed bytes (RDATA): bounds-checked reads that throw `.badRData`.
struct ByteReader {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { i == bytes.count }
    mutating func u8() throws(DNSWireError) -> UInt8 {
        guard i < bytes.count else { throw DNSWireError(.badRData, offset: i) }
        defer { i += 1 }
        return bytes[i]
    }
    mutating func u16() throws(DNSWireError) -> UInt16 {
        UInt16(try u8()) << 8 | UInt16(try u8())
    }
    mutating func u32() throws(DNSWireError) -> UInt32 {
        UInt32(try u16()) << 16 | UInt32(try u16())
    }
    mutating func name() throws(DNSWireError) -> DNSName {
        let start = i
        while true {
            let len = Int(try u8())
            if len == 0 { break }
            guard len <= 63, i + len <= bytes.count else { throw DNSWireError(.badRData, offset: i) }
            i += len
        }
        guard i - start <= 255 else { throw DNSWireError(.nameTooLong, offset: start) }
        return DNSName(trustedWire: Array(bytes[start..<i]))
    }
    mutating func characterString() throws(DNSWireError) -> [UInt8] {
        let len = Int(try u8())
        guard i + len <= bytes.count else { throw DNSWireError(.badRData, offset: i) }
        defer { i += len }
        return Array(bytes[i..<(i + len)])
    }
    mutating func rest() -> [UInt8] {
        defer { i = bytes.count }
        return Array(bytes[i...])
    }
    func expectEnd() throws(DNSWireError) {
        guard atEnd else { throw DNSWireError(.trailingData, offset: i) }
    }
}

extension Array where Element == UInt8 {
    @inlinable
    public mutating func appendU16(_ v: UInt16) {
        append(UInt8(v >> 8))
        append(UInt8(v & 0xFF))
    }

    @inlinable
    public mutating func appendU32(_ v: UInt32) {
        append(UInt8(v >> 24))
        append(UInt8((v >> 16) & 0xFF))
        append(UInt8((v >> 8) & 0xFF))
        append(UInt8(v & 0xFF))
    }
}

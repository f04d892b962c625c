/// The 12-byte message header (RFC 1035 §4.1.1).
public struct DNSHeader: Sendable, Hashable {
    public var id: UInt16 = 0
    public var flags: UInt16 = 0
    public var qdCount: UInt16 = 0
    public var anCount: UInt16 = 0
    public var nsCount: UInt16 = 0
    public var arCount: UInt16 = 0

    public init() {}

    public var qr: Bool { get { flags & 0x8000 != 0 } set { set(0x8000, newValue) } }
    public var aa: Bool { get { flags & 0x0400 != 0 } set { set(0x0400, newValue) } }
    public var tc: Bool { get { flags & 0x0200 != 0 } set { set(0x0200, newValue) } }
    public var rd: Bool { get { flags & 0x0100 != 0 } set { set(0x0100, newValue) } }
    public var ra: Bool { get { flags & 0x0080 != 0 } set { set(0x0080, newValue) } }
    public var ad: Bool { get { flags & 0x0020 != 0 } set { set(0x0020, newValue) } }
    public var cd: Bool { get { flags & 0x0010 != 0 } set { set(0x0010, newValue) } }
    public var opcode: Opcode {
        get { Opcode(rawValue: UInt8((flags >> 11) & 0xF)) }
        set { flags = (flags & ~0x7800) | (UInt16(newValue.rawValue & 0xF) << 11) }
    }
    /// The low four bits of the response code (the rest lives in OPT).
    public var rcodeLow: UInt16 {
        get { flags & 0xF }
        set { flags = (flags & ~0xF) | (newValue & 0xF) }
    }

    private mutating func set(_ bit: UInt16, _ on: Bool) {
        if on { flags |= bit } else { flags &= ~bit }
    }
}

/// One question.
public struct DNSQuestion: Sendable, Hashable {
    public var name: DNSName
    public var type: RRType
    public var qclass: RRClass
    public init(name: DNSName, type: RRType, qclass: RRClass = .in) {
        self.name = name
        self.type = type
        self.qclass = qclass
    }
}

/// An EDNS option as it appeared on the wire.
public struct EDNSOption: Sendable, Hashable {
    public var code: UInt16
    public var data: [UInt8]
    public init(code: UInt16, data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

/// The OPT pseudo-record's contents (RFC 6891 §6.1.2).
public struct EDNS: Sendable, Hashable {
    public var udpPayloadSize: UInt16
    public var extendedRcodeHigh: UInt8 = 0
    public var version: UInt8 = 0
    public var dnssecOK: Bool = false
    public var options: [EDNSOption] = []

    public init(udpPayloadSize: UInt16 = 1232, version: UInt8 = 0, dnssecOK: Bool = false, options: [EDNSOption] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }

    public func option(_ code: UInt16) -> EDNSOption? { options.first { $0.code == code } }
}

/// A whole message, decoded. Used by tests, tools and the zone loader — never by the query path,
/// which parses straight from the packet (see `QueryParser`).
public struct DNSMessage: Sendable, Hashable {
    public var header = DNSHeader()
    public var questions: [DNSQuestion] = []
    public var answers: [ResourceRecord] = []
    public var authority: [ResourceRecord] = []
    /// Additional records other than OPT.
    public var additional: [ResourceRecord] = []
    public var edns: EDNS?

    public init() {}

    /// The full response code: header bits plus OPT's extended bits.
    public var rcode: Rcode {
        Rcode(UInt16(edns?.extendedRcodeHigh ?? 0) << 4 | header.rcodeLow)
    }

    /// A query for `name`/`type`, optionally with EDNS.
    public static func query(_ name: DNSName, _ type: RRType, qclass: RRClass = .in, id: UInt16 = 0x1234,
                             edns: EDNS? = nil, recursionDesired: Bool = false) -> DNSMessage {
        var m = DNSMessage()
        m.header.id = id
        m.header.rd = recursionDesired
        m.questions = [DNSQuestion(name: name, type: type, qclass: qclass)]
        m.edns = edns
        return m
    }

    // MARK: Decoding

    public init(decoding bytes: [UInt8]) throws(DNSWireError) {
        var r = MessageReader(bytes)
        var h = DNSHeader()
        h.id = try r.u16()
        h.flags = try r.u16()
        h.qdCount = try r.u16()
        h.anCount = try r.u16()
        h.nsCount = try r.u16()
        h.arCount = try r.u16()
        header = h
        for _ in 0..<h.qdCount {
            questions.append(DNSQuestion(name: try r.name(), type: RRType(try r.u16()), qclass: RRClass(try r.u16())))
        }
        // OPT belongs to the additional section only (RFC 6891 §6.1.1).
        for _ in 0..<h.anCount {
            let start = r.offset
            let rr = try r.record()
            guard rr.type != .opt else { throw DNSWireError(.badEDNS, offset: start) }
            answers.append(rr)
        }
        for _ in 0..<h.nsCount {
            let start = r.offset
            let rr = try r.record()
            guard rr.type != .opt else { throw DNSWireError(.badEDNS, offset: start) }
            authority.append(rr)
        }
        for _ in 0..<h.arCount {
            let start = r.offset
            let rr = try r.record()
            if rr.type == .opt {
                guard edns == nil, rr.owner.isRoot else { throw DNSWireError(.badEDNS, offset: start) }
                var e = EDNS(udpPayloadSize: rr.rrClass.rawValue)
                e.extendedRcodeHigh = UInt8(rr.ttl >> 24)
                e.version = UInt8((rr.ttl >> 16) & 0xFF)
                e.dnssecOK = rr.ttl & 0x8000 != 0
                var i = 0
                while i < rr.rdata.count {
                    guard i + 4 <= rr.rdata.count else { throw DNSWireError(.badEDNS, offset: start) }
                    let code = UInt16(rr.rdata[i]) << 8 | UInt16(rr.rdata[i + 1])
                    let len = Int(rr.rdata[i + 2]) << 8 | Int(rr.rdata[i + 3])
                    guard i + 4 + len <= rr.rdata.count else { throw DNSWireError(.badEDNS, offset: start) }
                    e.options.append(EDNSOption(code: code, data: Array(rr.rdata[(i + 4)..<(i + 4 + len)])))
                    i += 4 + len
                }
                edns = e
            } else {
                additional.append(rr)
            }
        }
        guard r.offset == bytes.count else { throw DNSWireError(.trailingData, offset: r.offset) }
    }

    // MARK: Encoding

    /// Encodes with name compression in the RFC 1035 types (RFC 3597 §4). Header counts are
    /// recomputed from the sections.
    public func encode() -> [UInt8] {
        var w = MessageWriter()
        var h = header
        h.qdCount = UInt16(questions.count)
        h.anCount = UInt16(answers.count)
        h.nsCount = UInt16(authority.count)
        h.arCount = UInt16(additional.count + (edns == nil ? 0 : 1))
        w.bytes.appendU16(h.id)
        w.bytes.appendU16(h.flags)
        w.bytes.appendU16(h.qdCount)
        w.bytes.appendU16(h.anCount)
        w.bytes.appendU16(h.nsCount)
        w.bytes.appendU16(h.arCount)
        for q in questions {
            w.name(q.name)
            w.bytes.appendU16(q.type.rawValue)
            w.bytes.appendU16(q.qclass.rawValue)
        }
        for rr in answers + authority + additional { w.record(rr) }
        if let e = edns {
            w.bytes.append(0)
            w.bytes.appendU16(RRType.opt.rawValue)
            w.bytes.appendU16(e.udpPayloadSize)
            w.bytes.append(e.extendedRcodeHigh)
            w.bytes.append(e.version)
            w.bytes.appendU16(e.dnssecOK ? 0x8000 : 0)
            var rdata: [UInt8] = []
            for o in e.options {
                rdata.appendU16(o.code)
                rdata.appendU16(UInt16(o.data.count))
                rdata += o.data
            }
            w.bytes.appendU16(UInt16(rdata.count))
            w.bytes += rdata
        }
        return w.bytes
    }
}

/// Reads a message with compression pointers, rejecting forward pointers and loops.
struct MessageReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() throws(DNSWireError) -> UInt8 {
        guard offset < bytes.count else { throw DNSWireError(.truncated, offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u16() throws(DNSWireError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
    mutating func u32() throws(DNSWireError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }

    mutating func name() throws(DNSWireError) -> DNSName {
        var out: [UInt8] = []
        let (wire, next) = try MessageReader.readName(bytes, at: offset, into: &out)
        offset = next
        return DNSName(trustedWire: wire)
    }

    /// Decompresses the name at `start`; returns it and the offset just past it in the message.
    static func readName(_ bytes: [UInt8], at start: Int, into out: inout [UInt8]) throws(DNSWireError) -> ([UInt8], Int) {
        var i = start
        var end = -1
        var lowestJump = start
        var hops = 0
        while true {
            guard i < bytes.count else { throw DNSWireError(.truncated, offset: i) }
            let len = bytes[i]
            if len & 0xC0 == 0xC0 {
                guard i + 1 < bytes.count else { throw DNSWireError(.truncated, offset: i) }
                let target = Int(len & 0x3F) << 8 | Int(bytes[i + 1])
                if end < 0 { end = i + 2 }
                // Only backward pointers, each strictly before the previous jump: no loops possible.
                guard target < lowestJump else { throw DNSWireError(.badPointer, offset: i) }
                hops += 1
                guard hops <= 127 else { throw DNSWireError(.pointerLoop, offset: i) }
                lowestJump = target
                i = target
            } else if len & 0xC0 != 0 {
                throw DNSWireError(.badLabel, offset: i)
            } else if len == 0 {
                out.append(0)
                if end < 0 { end = i + 1 }
                guard out.count <= 255 else { throw DNSWireError(.nameTooLong, offset: start) }
                return (out, end)
            } else {
                guard i + 1 + Int(len) <= bytes.count else { throw DNSWireError(.truncated, offset: i) }
                out.append(contentsOf: bytes[i...(i + Int(len))])
                guard out.count <= 255 else { throw DNSWireError(.nameTooLong, offset: start) }
                i += 1 + Int(len)
            }
        }
    }

    mutating func record() throws(DNSWireError) -> ResourceRecord {
        let owner = try name()
        let type = RRType(try u16())
        let cls = RRClass(try u16())
        let ttl = try u32()
        let rdlen = Int(try u16())
        let rdStart = offset
        guard rdStart + rdlen <= bytes.count else { throw DNSWireError(.truncated, offset: rdStart) }
        let rdata = try MessageReader.decompressRData(bytes, type: type, start: rdStart, length: rdlen)
        offset = rdStart + rdlen
        return ResourceRecord(owner: owner, type: type, rrClass: cls, ttl: ttl, rdata: rdata)
    }

    /// Copies RDATA, expanding compressed names in the types whose layout is known.
    static func decompressRData(_ bytes: [UInt8], type: RRType, start: Int, length: Int) throws(DNSWireError) -> [UInt8] {
        let end = start + length
        guard let fields = RDataSchema.fields(of: type), fields.contains(where: { if case .name = $0 { true } else { false } }) else {
            return Array(bytes[start..<end])
        }
        var out: [UInt8] = []
        var i = start
        for f in fields {
            switch f {
            case .name:
                var n: [UInt8] = []
                let (wire, next) = try readName(bytes, at: i, into: &n)
                guard next <= end else { throw DNSWireError(.badRData, offset: i) }
                out += wire
                i = next
            case .fixed(let k):
                guard i + k <= end else { throw DNSWireError(.badRData, offset: i) }
                out += bytes[i..<(i + k)]
                i += k
            case .characterString:
                guard i < end, i + 1 + Int(bytes[i]) <= end else { throw DNSWireError(.badRData, offset: i) }
                out += bytes[i..<(i + 1 + Int(bytes[i]))]
                i += 1 + Int(bytes[i])
            case .characterStrings, .remainder:
                out += bytes[i..<end]
                i = end
            }
        }
        guard i == end else { throw DNSWireError(.badRData, offset: i) }
        return out
    }
}

/// Writes a message, compressing names against every name suffix written so far.
struct MessageWriter {
    var bytes: [UInt8] = []
    var known: [DNSName: Int] = [:]

    mutating func name(_ n: DNSName, compress: Bool = true) {
        var w = n.wire
        while w.count > 1 {
            let suffix = DNSName(trustedWire: w)
            if compress, let at = known[suffix], at < 0x4000 {
                bytes.append(0xC0 | UInt8(at >> 8))
                bytes.append(UInt8(at & 0xFF))
                return
            }
            if bytes.count < 0x4000, known[suffix] == nil { known[suffix] = bytes.count }
            let len = Int(w[0])
            bytes.append(contentsOf: w[0...len])
            w.removeFirst(len + 1)
        }
        bytes.append(0)
    }

    mutating func record(_ rr: ResourceRecord) {
        name(rr.owner)
        bytes.appendU16(rr.type.rawValue)
        bytes.appendU16(rr.rrClass.rawValue)
        bytes.appendU32(rr.ttl)
        let lenAt = bytes.count
        bytes.appendU16(0)
        let start = bytes.count
        if let ranges = try? RDataSchema.nameRanges(type: rr.type, rdata: rr.rdata), !ranges.isEmpty {
            var i = 0
            for (range, compressible) in ranges {
                bytes += rr.rdata[i..<range.lowerBound]
                name(DNSName(trustedWire: Array(rr.rdata[range])), compress: compressible)
                i = range.upperBound
            }
            bytes += rr.rdata[i...]
        } else {
            bytes += rr.rdata
        }
        let len = bytes.count - start
        bytes[lenAt] = UInt8(len >> 8)
        bytes[lenAt + 1] = UInt8(len & 0xFF)
    }
}

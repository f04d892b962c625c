import DNSWire
import DNSZone

/// Writes a reply into the caller's buffer: header, the question copied from the query, then
/// pre-rendered RRsets whose compression pointers are patched for where the owner landed.
///
/// Every write checks `limit`; an RRset that does not fit is not written at all (whole RRsets only,
/// RFC 2181 §9), and the caller decides whether that means TC.
struct Writer {
    let base: UnsafeMutablePointer<UInt8>
    var limit: Int
    var position = 0
    var answerCount = 0
    var authorityCount = 0
    var additionalCount = 0
    var truncated = false

    init(base: UnsafeMutablePointer<UInt8>, limit: Int) {
        self.base = base
        self.limit = limit
    }

    var remaining: Int { limit - position }

    @inline(__always) mutating func u8(_ v: UInt8) {
        base[position] = v
        position += 1
    }

    @inline(__always) mutating func u16(_ v: UInt16) {
        base[position] = UInt8(v >> 8)
        base[position + 1] = UInt8(v & 0xFF)
        position += 2
    }

    @inline(__always) mutating func u32(_ v: UInt32) {
        u16(UInt16(v >> 16))
        u16(UInt16(v & 0xFFFF))
    }

    mutating func bytes(_ b: [UInt8]) {
        b.withUnsafeBufferPointer { p in
            (base + position).update(from: p.baseAddress!, count: p.count)
        }
        position += b.count
    }

    /// ID, QDCOUNT = 1 and the question exactly as the client sent it (its letter case included).
    mutating func writeHeaderAndQuestion(_ q: UnsafeBufferPointer<UInt8>, _ query: QueryResponder.Query) {
        base[0] = q[0]
        base[1] = q[1]
        base[4] = 0
        base[5] = 1
        (base + 12).update(from: q.baseAddress! + 12, count: query.questionLength)
        position = 12 + query.questionLength
    }

    /// Where the suffix of `suffixLength` bytes of the name at `pos` (of `length` bytes) starts.
    /// The name may itself be compressed: pointers written earlier are followed. Returns
    /// `Writer.unreachable` if the name has no such suffix (a rendering bug, never a client's
    /// doing): the RRset is then not written, rather than walking off the name.
    @inline(__always)
    func suffixPosition(of pos: Int, length: Int, suffixLength: Int) -> Int {
        var p = pos
        var remaining = length
        var steps = 0
        while remaining != suffixLength {
            guard remaining > suffixLength, steps < 256, p < position else { return Writer.unreachable }
            steps += 1
            let b = Int(base[p])
            if b & 0xC0 == 0xC0 {
                p = (b & 0x3F) << 8 | Int(base[p + 1])
            } else {
                remaining -= 1 + b
                p += 1 + b
            }
        }
        return p
    }

    static let unreachable = Int.max

    /// Copies a rendered RRset whose owner is the name at `ownerPos` (`ownerLen` bytes long).
    @inline(__always)
    mutating func rrset(_ zone: Zone, _ set: RenderedRRset, ownerPos: Int, ownerLen: Int) -> Bool {
        let len = Int(set.blobLength)
        guard len <= limit - position else { return false }
        let start = position
        (base + start).update(from: zone.blobPointer + Int(set.blobOffset), count: len)
        var f = Int(set.fixupStart)
        let end = f + Int(set.fixupCount)
        while f < end {
            let fix = zone.fixup(f)
            let target = fix.suffixLength == Fixup.owner || Int(fix.suffixLength) == ownerLen
                ? ownerPos
                : suffixPosition(of: ownerPos, length: ownerLen, suffixLength: Int(fix.suffixLength))
            // A pointer has 14 bits; past that the RRset cannot be written compressed.
            guard target < 0x4000 else { return false }
            base[start + Int(fix.position)] = 0xC0 | UInt8(target >> 8)
            base[start + Int(fix.position) + 1] = UInt8(target & 0xFF)
            f += 1
        }
        position = start + len
        return true
    }

    /// `count` fixed-size answer records rendered with their owner at the question (0xC00C); the
    /// owner pointer is re-aimed when the owner is elsewhere (the end of a CNAME chain).
    mutating func records(_ p: UnsafePointer<UInt8>, count: Int, size: Int, ownerPos: Int) -> Bool {
        let len = count * size
        guard len <= limit - position, ownerPos < 0x4000 else { return false }
        (base + position).update(from: p, count: len)
        if ownerPos != 12 {
            var r = position
            for _ in 0..<count {
                base[r] = 0xC0 | UInt8(ownerPos >> 8)
                base[r + 1] = UInt8(ownerPos & 0xFF)
                r += size
            }
        }
        position += len
        answerCount += count
        return true
    }

    mutating func answer(_ zone: Zone, _ set: RenderedRRset, ownerPos: Int, ownerLen: Int) -> Bool {
        guard rrset(zone, set, ownerPos: ownerPos, ownerLen: ownerLen) else { return false }
        answerCount += Int(set.count)
        return true
    }

    /// An authority RRset owned by a suffix (`ownerSuffix` bytes) of the name at `ownerPos`.
    mutating func authority(_ zone: Zone, _ set: RenderedRRset, ownerPos: Int, ownerLen: Int, ownerSuffix: Int) -> Bool {
        let pos = suffixPosition(of: ownerPos, length: ownerLen, suffixLength: ownerSuffix)
        guard pos < 0x4000 else { return false }
        guard rrset(zone, set, ownerPos: pos, ownerLen: ownerSuffix) else { return false }
        authorityCount += Int(set.count)
        return true
    }

    /// A and AAAA records for the names in `set`'s RDATA, which starts at `blobStartInPacket`.
    /// Returns false when some did not fit.
    mutating func additionals(_ zone: Zone, _ set: RenderedRRset, blobStartInPacket: Int, required: Bool) -> Bool {
        var ok = true
        var i = Int(set.additionalStart)
        let end = i + Int(set.additionalCount)
        while i < end {
            let ref = zone.additional(i)
            let pos = blobStartInPacket + Int(ref.position)
            let len = zone.nameLength(of: ref.node)
            if let addr = zone.rrset(at: ref.node, type: RRType.a.rawValue) {
                if rrset(zone, addr, ownerPos: pos, ownerLen: len) { additionalCount += Int(addr.count) } else { ok = false }
            }
            if let addr = zone.rrset(at: ref.node, type: RRType.aaaa.rawValue) {
                if rrset(zone, addr, ownerPos: pos, ownerLen: len) { additionalCount += Int(addr.count) } else { ok = false }
            }
            i += 1
        }
        return ok || !required
    }
}

import DNSWire

/// Why a zone could not be built. `recordIndex` is the 0-based index of the `add` call at fault (so
/// a loader can turn it back into file:line), nil for whole-zone problems such as a missing SOA.
public struct ZoneBuildError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public let recordIndex: Int?

    public init(_ message: String, recordIndex: Int? = nil) {
        self.message = message
        self.recordIndex = recordIndex
    }

    public var description: String { message }
}

/// Collects records, checks them as a zone, and compiles the immutable `Zone`.
public struct ZoneBuilder {
    public let origin: DNSName
    private var records: [ResourceRecord] = []
    /// Lowercased owner → type → (first index, TTL, distinct RDATA in order).
    private var byOwner: [DNSName: [UInt16: (index: Int, ttl: UInt32, rdatas: [[UInt8]])]] = [:]
    private var ownerOrder: [DNSName] = []

    public init(origin: DNSName) {
        self.origin = origin.lowercased()
    }

    /// Adds one record. Identical records are merged (an RRset is a set, RFC 2181 §5); an RRset
    /// takes the TTL of its first record (RFC 2181 §5.2 forbids differing TTLs; Knot does the same).
    public mutating func add(_ record: ResourceRecord) throws(ZoneBuildError) {
        let index = records.count
        guard record.owner.isSubdomain(of: origin) else {
            throw ZoneBuildError("owner \(record.owner) is outside the zone \(origin)", recordIndex: index)
        }
        guard record.rrClass == .in else {
            throw ZoneBuildError("class \(record.rrClass) is not served (only IN)", recordIndex: index)
        }
        guard !record.type.isMetaOrQType, record.type.rawValue != 0 else {
            throw ZoneBuildError("type \(record.type) cannot appear in a zone", recordIndex: index)
        }
        do {
            _ = try RDataSchema.nameRanges(type: record.type, rdata: record.rdata)
        } catch {
            throw ZoneBuildError("malformed \(record.type) RDATA (\(error))", recordIndex: index)
        }
        let owner = record.owner.lowercased()
        if record.type == .soa && owner != origin {
            throw ZoneBuildError("SOA at \(record.owner) is not at the zone apex \(origin)", recordIndex: index)
        }
        records.append(record)
        if byOwner[owner] == nil {
            byOwner[owner] = [:]
            ownerOrder.append(owner)
        }
        let t = record.type.rawValue
        if var set = byOwner[owner]![t] {
            if !set.rdatas.contains(record.rdata) { set.rdatas.append(record.rdata) }
            byOwner[owner]![t] = set
        } else {
            byOwner[owner]![t] = (index, record.ttl, [record.rdata])
        }
    }

    public mutating func add(contentsOf records: [ResourceRecord]) throws(ZoneBuildError) {
        for r in records { try add(r) }
    }

    /// Checks the zone as a whole and renders it.
    public func build() throws(ZoneBuildError) -> Zone {
        guard let apexSets = byOwner[origin], let soa = apexSets[RRType.soa.rawValue] else {
            throw ZoneBuildError("zone \(origin) has no SOA record at its apex")
        }
        guard soa.rdatas.count == 1 else {
            throw ZoneBuildError("zone \(origin) has \(soa.rdatas.count) SOA records; exactly one is allowed",
                                 recordIndex: soa.index)
        }
        guard apexSets[RRType.ns.rawValue] != nil else {
            throw ZoneBuildError("zone \(origin) has no NS records at its apex")
        }
        for owner in ownerOrder {
            let sets = byOwner[owner]!
            if let cname = sets[RRType.cname.rawValue] {
                if cname.rdatas.count > 1 {
                    throw ZoneBuildError("\(owner) has \(cname.rdatas.count) CNAME records; only one is allowed",
                                         recordIndex: cname.index)
                }
                // RFC 1034 §3.6.2 / RFC 2181 §10.1: CNAME and other data (DNSSEC types aside) do not mix.
                let others = sets.filter { ![RRType.cname, .rrsig, .nsec].map(\.rawValue).contains($0.key) }
                if let other = others.min(by: { $0.value.index < $1.value.index }) {
                    throw ZoneBuildError("\(owner) has a CNAME and other data (\(RRType(other.key)))",
                                         recordIndex: max(cname.index, other.value.index))
                }
                if owner == origin {
                    throw ZoneBuildError("the zone apex \(owner) cannot be a CNAME", recordIndex: cname.index)
                }
            }
        }

        // Every owner plus every name between it and the apex (empty non-terminals).
        var allNames = Set(ownerOrder)
        for owner in ownerOrder {
            var p = owner
            while p != origin, let up = p.parent {
                allNames.insert(up)
                p = up
            }
        }
        let sorted = allNames.sorted()
        var indexOf: [DNSName: Int32] = [:]
        for (i, n) in sorted.enumerated() { indexOf[n] = Int32(i) }

        func isDelegation(_ n: DNSName) -> Bool {
            n != origin && byOwner[n]?[RRType.ns.rawValue] != nil
        }
        // The highest cut at or above each name (below a cut, everything is occluded).
        func cut(of n: DNSName) -> Int32 {
            var chain: [DNSName] = []
            var p = n
            while p != origin {
                chain.append(p)
                guard let up = p.parent else { break }
                p = up
            }
            for c in chain.reversed() where isDelegation(c) { return indexOf[c]! }
            return -1
        }

        var r = Renderer()
        var nodes: [ZoneNode] = []
        nodes.reserveCapacity(sorted.count)
        // First pass: node shells, so additional processing can refer to any node.
        for n in sorted {
            var flags: UInt32 = 0
            if n == origin { flags |= ZoneNode.apex }
            if isDelegation(n) { flags |= ZoneNode.delegation }
            if (try? n.prepending(label: [UInt8(ascii: "*")])).map({ allNames.contains($0) }) == true {
                flags |= ZoneNode.wildcardParent
            }
            if byOwner[n]?[RRType.cname.rawValue] != nil { flags |= ZoneNode.hasCNAME }
            nodes.append(ZoneNode(rrsetStart: 0, rrsetCount: 0, flags: flags, cut: cut(of: n)))
        }
        func hasAddress(_ node: Int32) -> Bool {
            let sets = byOwner[sorted[Int(node)]] ?? [:]
            return sets[RRType.a.rawValue] != nil || sets[RRType.aaaa.rawValue] != nil
        }
        for (i, n) in sorted.enumerated() {
            let sets = (byOwner[n] ?? [:]).sorted { $0.key < $1.key }
            nodes[i].rrsetStart = UInt32(r.rrsets.count)
            nodes[i].rrsetCount = UInt32(sets.count)
            for (type, set) in sets {
                let isGlueNS = type == RRType.ns.rawValue && isDelegation(n)
                r.render(owner: n, type: RRType(type), ttl: set.ttl, rdatas: set.rdatas) { target in
                    guard let node = indexOf[target.lowercased()], hasAddress(node) else { return nil }
                    // Glue below a cut only for that delegation's NS; otherwise authoritative data only.
                    if nodes[Int(node)].cut >= 0 && !isGlueNS { return nil }
                    return node
                }
            }
        }
        let soaRdata = soa.rdatas[0]
        let minimum = UInt32(soaRdata[soaRdata.count - 4]) << 24 | UInt32(soaRdata[soaRdata.count - 3]) << 16
            | UInt32(soaRdata[soaRdata.count - 2]) << 8 | UInt32(soaRdata[soaRdata.count - 1])
        let serialAt = soaRdata.count - 20
        let serial = UInt32(soaRdata[serialAt]) << 24 | UInt32(soaRdata[serialAt + 1]) << 16
            | UInt32(soaRdata[serialAt + 2]) << 8 | UInt32(soaRdata[serialAt + 3])
        r.render(owner: origin, type: .soa, ttl: min(soa.ttl, minimum), rdatas: [soaRdata]) { _ in nil }
        let negativeSOA = r.rrsets.removeLast()

        var nameList: [[UInt8]] = []
        nameList.reserveCapacity(sorted.count)
        for n in sorted { nameList.append(n.wire) }
        return Zone(origin: origin, serial: serial, records: records, names: NameTable(names: nameList),
                    nodes: nodes, rrsets: r.rrsets, fixups: r.fixups, additionals: r.additionals, blob: r.blob,
                    targets: r.targets, negativeSOA: negativeSOA, apexNode: indexOf[origin]!)
    }
}

/// Renders RRsets into one blob with owner/suffix fixups (see `RenderedRRset`).
struct Renderer {
    var blob: [UInt8] = []
    var rrsets: [RenderedRRset] = []
    var fixups: [Fixup] = []
    var additionals: [AdditionalRef] = []
    var targets: [UInt8] = []

    /// Renders one RRset owned by `owner` (lowercased). `additionalTarget` maps a name in RDATA that
    /// needs additional processing to the node whose address records to add, if any.
    private mutating func renderSet(owner: DNSName, type: RRType, ttl: UInt32, rdatas: [[UInt8]],
                                    additionalTarget: (DNSName) -> Int32?) {
        // Suffixes RDATA names may point at. A wildcard's owner is replaced by the query name, so
        // only suffixes of its parent stay valid. The root (length 1) is never worth a pointer.
        var allowed = Set<Int>()
        do {
            var w = owner.isWildcard ? owner.parent!.wire[...] : owner.wire[...]
            while w.count > 1 {
                allowed.insert(w.count)
                w = w.dropFirst(1 + Int(w.first!))
            }
        }
        var set = RenderedRRset(
            type: type.rawValue, count: UInt16(rdatas.count), ttl: ttl, blobOffset: UInt32(blob.count),
            blobLength: 0, fixupStart: UInt32(fixups.count), fixupCount: 0,
            additionalStart: UInt32(additionals.count), additionalCount: 0, targetOffset: 0, targetLength: 0)
        let setStart = blob.count
        let ranges = rdatas.map { (try? RDataSchema.nameRanges(type: type, rdata: $0)) ?? [] }
        var seenTargets = Set<Int32>()
        for (k, rdata) in rdatas.enumerated() {
            fixups.append(Fixup(position: UInt32(blob.count - setStart), suffixLength: Fixup.owner))
            blob += [0xC0, 0x00]
            blob.appendU16(type.rawValue)
            blob.appendU16(RRClass.in.rawValue)
            blob.appendU32(ttl)
            let lenAt = blob.count
            blob += [0, 0]
            let rdStart = blob.count
            var i = 0
            for (range, compressible) in ranges[k] {
                blob += rdata[i..<range.lowerBound]
                let namePos = blob.count - setStart
                let name = DNSName(trustedWire: Array(rdata[range]))
                if compressible {
                    writeCompressed(name, allowed: allowed, setStart: setStart)
                } else {
                    blob += name.wire
                }
                if RDataSchema.needsAdditional(type), let node = additionalTarget(name), !seenTargets.contains(node) {
                    seenTargets.insert(node)
                    additionals.append(AdditionalRef(position: UInt32(namePos), node: node))
                }
                i = range.upperBound
            }
            blob += rdata[i...]
            let rdlen = blob.count - rdStart
            blob[lenAt] = UInt8(rdlen >> 8)
            blob[lenAt + 1] = UInt8(rdlen & 0xFF)
            if type == .cname {
                set.targetOffset = UInt32(targets.count)
                set.targetLength = UInt32(rdata.count)
                targets += rdata.map(DNSName.lower)
            }
        }
        set.blobLength = UInt32(blob.count - setStart)
        set.fixupCount = UInt32(fixups.count) - set.fixupStart
        set.additionalCount = UInt32(additionals.count) - set.additionalStart
        rrsets.append(set)
    }

    /// Writes `name` as its leading labels (original case) plus a pointer to the longest suffix it
    /// shares with the owner, or in full when it shares none.
    private mutating func writeCompressed(_ name: DNSName, allowed: Set<Int>, setStart: Int) {
        let w = name.wire
        var i = 0
        while w[i] != 0 {
            let remaining = w.count - i
            if allowed.contains(remaining), suffixMatchesOwner(w, from: i) {
                fixups.append(Fixup(position: UInt32(blob.count - setStart), suffixLength: UInt32(remaining)))
                blob += [0xC0, 0x00]
                return
            }
            let len = Int(w[i])
            blob += w[i...(i + len)]
            i += 1 + len
        }
        blob.append(0)
    }

    /// Set by `render` for the owner being rendered; compared case-insensitively.
    private func suffixMatchesOwner(_ w: [UInt8], from i: Int) -> Bool {
        // `allowed` only holds lengths of the owner's own suffixes, and a suffix is fixed by its
        // length; comparing the bytes guards against a same-length different name.
        guard let owner = currentOwner else { return false }
        let o = owner.wire
        let start = o.count - (w.count - i)
        guard start >= 0 else { return false }
        for k in 0..<(w.count - i) where DNSName.lower(w[i + k]) != o[start + k] { return false }
        return true
    }

    private var currentOwner: DNSName? = nil

    mutating func render(owner: DNSName, type: RRType, ttl: UInt32, rdatas: [[UInt8]],
                         _ additionalTarget: (DNSName) -> Int32?) {
        currentOwner = owner.isWildcard ? owner.parent : owner
        renderSet(owner: owner, type: type, ttl: ttl, rdatas: rdatas, additionalTarget: additionalTarget)
        currentOwner = nil
    }
}

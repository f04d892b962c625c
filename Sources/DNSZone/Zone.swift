import DNSWire

/// One RRset, rendered to wire form at load time.
///
/// `blob` holds every RR of the set back to back, each starting with a 2-byte placeholder for its
/// owner. Names inside RDATA (in the RFC 1035 types) are compressed against suffixes of the owner,
/// also as 2-byte placeholders. Each placeholder is a `Fixup`: "a pointer to the suffix of
/// `suffixLength` bytes of the owner name". The responder copies the blob and patches the fixups,
/// which is all the per-query work rendering takes.
public struct RenderedRRset: Sendable, BitwiseCopyable {
    public var type: UInt16
    public var count: UInt16
    public var ttl: UInt32
    public var blobOffset: UInt32
    public var blobLength: UInt32
    public var fixupStart: UInt32
    public var fixupCount: UInt32
    public var additionalStart: UInt32
    public var additionalCount: UInt32
    /// For CNAME: the target, lowercased, in the zone's name arena (offset, length); else length 0.
    public var targetOffset: UInt32
    public var targetLength: UInt32
}

public struct Fixup: Sendable, BitwiseCopyable {
    /// Byte position inside the RRset's blob.
    public var position: UInt32
    /// Length in bytes of the owner-name suffix the pointer must reach, or `Fixup.owner`.
    public var suffixLength: UInt32

    /// "Point at the owner itself", whatever its length: a wildcard's synthesized owner is the
    /// query name, whose length differs from the wildcard's.
    public static let owner: UInt32 = 0
}

/// A name in some RR's RDATA whose address records go in the additional section.
public struct AdditionalRef: Sendable, BitwiseCopyable {
    /// Where the name starts inside the RRset's blob (the owner pointer of the added records).
    public var position: UInt32
    /// The node holding the target's A/AAAA RRsets.
    public var node: Int32
}

/// A node of the zone tree: a name that exists (has data, or is an empty non-terminal).
public struct ZoneNode: Sendable, BitwiseCopyable {
    public var rrsetStart: UInt32
    public var rrsetCount: UInt32
    public var flags: UInt32
    /// The node of the zone cut at or above this name (excluding the apex), or -1.
    public var cut: Int32

    public static let apex: UInt32 = 1
    /// Has NS and is not the apex: a delegation point.
    public static let delegation: UInt32 = 2
    /// Has a child labelled `*`.
    public static let wildcardParent: UInt32 = 4
    /// Has a CNAME RRset.
    public static let hasCNAME: UInt32 = 8
}

/// How a name falls in the zone (RFC 1034 §4.3.2 step 3), computed without allocating.
public enum ZoneLookup: Sendable, Equatable {
    /// The name exists; answer from this node (it may have no RRset of the asked type: NODATA).
    case node(Int32)
    /// The name is at or below a zone cut: refer to the delegation node.
    case delegation(Int32)
    /// The name does not exist but the wildcard node `*.<closest encloser>` does (RFC 4592).
    case wildcard(Int32)
    /// The name does not exist and no wildcard applies.
    case nameError
}

/// An immutable, pre-rendered zone. Built by `ZoneBuilder`; read by many event loops at once.
public final class Zone: Sendable {
    public let origin: DNSName
    public let serial: UInt32
    /// The original records, in the order added (kept for tools, reload diffs and tests).
    public let records: [ResourceRecord]

    @usableFromInline let names: NameTable
    @usableFromInline let nodes: FrozenBuffer<ZoneNode>
    @usableFromInline let rrsets: FrozenBuffer<RenderedRRset>
    @usableFromInline let fixups: FrozenBuffer<Fixup>
    @usableFromInline let additionals: FrozenBuffer<AdditionalRef>
    @usableFromInline let blob: FrozenBuffer<UInt8>
    /// Lowercased CNAME targets.
    @usableFromInline let targets: FrozenBuffer<UInt8>
    /// The apex SOA with TTL = min(SOA TTL, MINIMUM), for negative answers (RFC 2308 §3).
    public let negativeSOA: RenderedRRset
    public let apexNode: Int32

    init(origin: DNSName, serial: UInt32, records: [ResourceRecord], names: NameTable, nodes: [ZoneNode],
         rrsets: [RenderedRRset], fixups: [Fixup], additionals: [AdditionalRef], blob: [UInt8],
         targets: [UInt8], negativeSOA: RenderedRRset, apexNode: Int32) {
        self.origin = origin
        self.serial = serial
        self.records = records
        self.names = names
        self.nodes = FrozenBuffer(nodes)
        self.rrsets = FrozenBuffer(rrsets)
        self.fixups = FrozenBuffer(fixups)
        self.additionals = FrozenBuffer(additionals)
        self.blob = FrozenBuffer(blob)
        self.targets = FrozenBuffer(targets)
        self.negativeSOA = negativeSOA
        self.apexNode = apexNode
    }

    public var nodeCount: Int { nodes.count }

    /// The wire length of a node's name.
    @inlinable public func nameLength(of node: Int32) -> Int { Int(names.lengths[Int(node)]) }

    /// Origin wire length, in bytes.
    public var originLength: Int { origin.wire.count }

    @inlinable public func node(_ i: Int32) -> ZoneNode { nodes[Int(i)] }

    /// The node's RRset of `type`, if any.
    @inlinable
    public func rrset(at node: Int32, type: UInt16) -> RenderedRRset? {
        let n = nodes[Int(node)]
        var i = Int(n.rrsetStart)
        let end = i + Int(n.rrsetCount)
        while i < end {
            if rrsets[i].type == type { return rrsets[i] }
            i += 1
        }
        return nil
    }

    /// The node's RRsets, in type order.
    @inlinable
    public func rrsetIndices(at node: Int32) -> Range<Int> {
        let n = nodes[Int(node)]
        return Int(n.rrsetStart)..<(Int(n.rrsetStart) + Int(n.rrsetCount))
    }

    @inlinable public func rrset(index: Int) -> RenderedRRset { rrsets[index] }
    @inlinable public func fixup(_ i: Int) -> Fixup { fixups[i] }
    @inlinable public func additional(_ i: Int) -> AdditionalRef { additionals[i] }
    @inlinable public var blobPointer: UnsafePointer<UInt8> { blob.pointer }
    @inlinable public var targetPointer: UnsafePointer<UInt8> { targets.pointer }

    /// Finds the node for exactly these bytes (a lowercased wire name), or -1.
    @inlinable
    public func find(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
        Int32(names.find(p, count))
    }

    /// RFC 1034 §4.3.2 step 3 for a lowercased wire name inside this zone.
    ///
    /// `labelStarts[k]` is the offset in `name` of the k-th label; label `apexLabel` starts the
    /// origin. The order of checks is the algorithm:
    /// 1. exact match → the node, unless it lies at or below a zone cut (then the cut refers);
    /// 2. else strip labels to find the closest encloser; below a cut → referral;
    /// 3. else if `*.<closest encloser>` exists → wildcard (RFC 4592 §3.3.1);
    /// 4. else the name does not exist.
    /// `parentSide` (a DS query) answers at a cut node itself rather than referring.
    @inlinable
    public func lookup(_ name: UnsafePointer<UInt8>, length: Int, labelStarts: UnsafePointer<Int>,
                       apexLabel: Int, parentSide: Bool, wildcardScratch: UnsafeMutablePointer<UInt8>) -> ZoneLookup {
        let exact = find(name, length)
        if exact >= 0 {
            let n = nodes[Int(exact)]
            // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): answer it from the cut node.
            if n.cut == exact && parentSide { return .node(exact) }
            return n.cut >= 0 ? .delegation(n.cut) : .node(exact)
        }
        // Walk up from the parent of the name to the apex: the first hit is the closest encloser.
        var k = 1
        while k <= apexLabel {
            let start = labelStarts[k]
            let ce = find(name + start, length - start)
            if ce >= 0 {
                let n = nodes[Int(ce)]
                if n.cut >= 0 { return .delegation(n.cut) }
                if n.flags & ZoneNode.wildcardParent != 0 {
                    // `*` + closest encloser, in the scratch buffer.
                    wildcardScratch[0] = 1
                    wildcardScratch[1] = UInt8(ascii: "*")
                    (wildcardScratch + 2).update(from: name + start, count: length - start)
                    let w = find(UnsafePointer(wildcardScratch), length - start + 2)
                    if w >= 0 { return .wildcard(w) }
                }
                return .nameError
            }
            k += 1
        }
        return .nameError
    }
}

/// Where a name would sit in a zone, for control-plane checks (not the query path).
public enum NamePlacement: Sendable, Equatable {
    /// Nothing is there (or only an empty non-terminal): the name is free for a global name.
    case free
    /// The zone has records at exactly this name.
    case hasRecords([RRType])
    /// The name is at or below a zone cut (delegated away).
    case delegated(cut: DNSName)
}

extension Zone {
    /// `name` must lie inside this zone. Decided by `lookup` itself, so the control plane and the
    /// query path cannot disagree about where a zone cut is.
    public func placement(of name: DNSName) -> NamePlacement {
        let wire = name.lowercased().wire
        var labelStarts: [Int] = []
        var i = 0
        while true {
            labelStarts.append(i)
            if wire[i] == 0 { break }
            i += 1 + Int(wire[i])
        }
        let apexLabel = (labelStarts.count - 1) - origin.labelCount
        guard apexLabel >= 0 else { return .free }
        var scratch = [UInt8](repeating: 0, count: 258)
        let result = wire.withUnsafeBufferPointer { w in
            labelStarts.withUnsafeBufferPointer { l in
                scratch.withUnsafeMutableBufferPointer { sc in
                    lookup(w.baseAddress!, length: wire.count, labelStarts: l.baseAddress!, apexLabel: apexLabel,
                           parentSide: false, wildcardScratch: sc.baseAddress!)
                }
            }
        }
        switch result {
        case .delegation(let cut):
            // The cut is an ancestor (or the name itself): a suffix of the name.
            return .delegated(cut: DNSName(trustedWire: Array(wire.suffix(nameLength(of: cut)))))
        case .node(let n):
            let types = rrsetIndices(at: n).map { RRType(rrsets[$0].type) }
            return types.isEmpty ? .free : .hasRecords(types)
        case .wildcard, .nameError:
            // A wildcard covers the name but a global name is more specific.
            return .free
        }
    }
}

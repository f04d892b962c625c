/// A fixed, immutable array of trivial values in memory this object owns.
///
/// The hot path indexes these with no retain/release, no bounds-check closures and no copy-on-write
/// checks. They are written once while the owning `Zone` is built and never again, which is what
/// makes `@unchecked Sendable` true here: nothing mutates after `init`.
@usableFromInline
final class FrozenBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutableBufferPointer<Element>

    init(_ elements: [Element]) {
        base = .allocate(capacity: max(elements.count, 1))
        _ = base.initialize(from: elements)
    }

    deinit { base.deallocate() }

    @inlinable var count: Int { base.count }

    @inlinable subscript(i: Int) -> Element {
        @inline(__always) get { base[i] }
    }

    @inlinable var pointer: UnsafePointer<Element> { UnsafePointer(base.baseAddress!) }
}

/// FNV-1a over bytes: cheap, good enough for DNS names (which are lowercased before hashing).
@inline(__always)
@usableFromInline
func nameHash(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt32 {
    var h: UInt32 = 0x811C_9DC5
    for i in 0..<count {
        h = (h ^ UInt32(p[i])) &* 0x0100_0193
    }
    return h
}

/// An open-addressing table from lowercased wire names to an index, over one byte arena.
///
/// `find` takes a pointer into the caller's scratch buffer, so a lookup allocates nothing.
@usableFromInline
struct NameTable: Sendable {
    @usableFromInline let arena: FrozenBuffer<UInt8>
    @usableFromInline let offsets: FrozenBuffer<UInt32>
    @usableFromInline let lengths: FrozenBuffer<UInt16>
    /// Slot → entry index + 1 (0 = empty). Capacity is a power of two, at most half full.
    @usableFromInline let slots: FrozenBuffer<Int32>
    @usableFromInline let mask: UInt32
    /// How many names.
    let count: Int

    init(names: [[UInt8]]) {
        self.count = names.count
        var arena: [UInt8] = []
        var offsets: [UInt32] = []
        var lengths: [UInt16] = []
        for n in names {
            offsets.append(UInt32(arena.count))
            lengths.append(UInt16(n.count))
            arena += n
        }
        var cap = 8
        while cap < names.count * 2 + 1 { cap <<= 1 }
        var slots = [Int32](repeating: 0, count: cap)
        let mask = UInt32(cap - 1)
        arena.withUnsafeBufferPointer { a in
            for (i, n) in names.enumerated() {
                var s = nameHash(a.baseAddress! + Int(offsets[i]), n.count) & mask
                while slots[Int(s)] != 0 { s = (s &+ 1) & mask }
                slots[Int(s)] = Int32(i + 1)
            }
        }
        self.arena = FrozenBuffer(arena)
        self.offsets = FrozenBuffer(offsets)
        self.lengths = FrozenBuffer(lengths)
        self.slots = FrozenBuffer(slots)
        self.mask = mask
    }


    /// The bytes of name `i` (a copy; not for the query path).
    func bytes(at i: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: arena.pointer + Int(offsets[i]), count: Int(lengths[i])))
    }

    /// The index of the entry equal to `count` bytes at `p` (already lowercased), or -1.
    @inlinable
    func find(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        find(p, count, hash: nameHash(p, count))
    }

    /// The same with the name's `nameHash` already computed (one pass over the name per query).
    @inlinable
    func find(_ p: UnsafePointer<UInt8>, _ count: Int, hash: UInt32) -> Int {
        var s = hash & mask
        let a = arena.pointer
        while true {
            let e = Int(slots[Int(s)])
            if e == 0 { return -1 }
            let i = e - 1
            if Int(lengths[i]) == count {
                let o = a + Int(offsets[i])
                var k = 0
                while k < count && o[k] == p[k] { k += 1 }
                if k == count { return i }
            }
            s = (s &+ 1) & mask
        }
    }
}

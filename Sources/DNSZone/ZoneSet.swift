import DNSWire

/// The zones served, immutable. Finding the zone for a name is one hash probe per label.
public final class ZoneSet: Sendable {
    public let zones: [Zone]
    @usableFromInline let apexes: NameTable

    public static let empty = ZoneSet(zones: [])

    /// Zones must have distinct origins (the loader reports duplicates with their files).
    public init(zones: [Zone]) {
        self.zones = zones
        self.apexes = NameTable(names: zones.map(\.origin.wire))
    }

    /// The zone with exactly this origin.
    public func zone(named origin: DNSName) -> Zone? {
        zones.first { $0.origin == origin }
    }

    /// The deepest zone containing the lowercased wire name, and the index of the label where its
    /// origin starts; nil when no zone contains the name.
    ///
    /// `labelStarts` holds `labelCount + 1` offsets: each label's start, then the root label's.
    @inlinable
    public func findZone(_ name: UnsafePointer<UInt8>, length: Int, labelStarts: UnsafePointer<Int>,
                         labelCount: Int) -> (zone: Zone, apexLabel: Int)? {
        var k = 0
        while k <= labelCount {
            let start = labelStarts[k]
            let z = apexes.find(name + start, length - start)
            if z >= 0 { return (zones[z], k) }
            k += 1
        }
        return nil
    }
}

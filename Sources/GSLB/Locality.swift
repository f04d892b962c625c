/// Where a target or client is: `region[/zone[/subzone]]`, as Kubernetes topology labels and
/// Istio's locality load balancing spell it (`us-west/us-west-1a/rack7`).
public struct Locality: Sendable, Hashable, Codable, CustomStringConvertible {
    public let region: String
    public let zone: String?
    /// Only present when `zone` is.
    public let subzone: String?

    /// Builds from segments already known to be valid (non-empty, no `/`, no spaces).
    /// `subzone` without `zone` is a programming error.
    public init(region: String, zone: String? = nil, subzone: String? = nil) {
        precondition(subzone == nil || zone != nil, "a locality's subzone needs a zone")
        self.region = region
        self.zone = zone
        self.subzone = subzone
    }

    /// Parses `region[/zone[/subzone]]`: one to three non-empty segments of printable characters
    /// other than space and `/`.
    public init(_ text: String) throws(GSLBParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 3 else {
            throw GSLBParseError(.tooManySegments, "\"\(text)\" has \(parts.count) segments; a locality is region[/zone[/subzone]]")
        }
        for (i, p) in parts.enumerated() {
            let what = ["region", "zone", "subzone"][i]
            guard !p.isEmpty else {
                throw GSLBParseError(.emptySegment, "\"\(text)\" has an empty \(what); a locality is region[/zone[/subzone]] with non-empty segments")
            }
            guard Locality.isValidSegment(p) else {
                throw GSLBParseError(.badCharacter, "\"\(text)\": the \(what) holds a space or control character")
            }
        }
        region = String(parts[0])
        zone = parts.count > 1 ? String(parts[1]) : nil
        subzone = parts.count > 2 ? String(parts[2]) : nil
    }

    /// A region, zone or subzone name: non-empty, printable, no space, no `/`.
    public static func isValidSegment(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "/") }
    }

    public var description: String {
        var s = region
        if let zone { s += "/" + zone }
        if let subzone { s += "/" + subzone }
        return s
    }

    /// How near `other` is to `self`: `.sameSubzone` when both name the same region, zone and
    /// subzone; `.sameZone` when both name the same region and zone; `.sameRegion` when the regions
    /// match; else `.otherRegion`. A segment missing on either side does not match, so a region-only
    /// locality is at most `.sameRegion` from anything. Symmetric; does not allocate.
    public func tier(to other: Locality) -> LocalityTier {
        guard region == other.region else { return .otherRegion }
        guard let z = zone, let oz = other.zone, z == oz else { return .sameRegion }
        guard let s = subzone, let os = other.subzone, s == os else { return .sameZone }
        return .sameSubzone
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// The distance between two localities, nearest first. A closed set by construction (a locality
/// has three levels), so a plain enum.
public enum LocalityTier: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case sameSubzone, sameZone, sameRegion, otherRegion

    public static func < (l: LocalityTier, r: LocalityTier) -> Bool { l.rawValue < r.rawValue }

    public var description: String {
        switch self {
        case .sameSubzone: "same subzone"
        case .sameZone: "same zone"
        case .sameRegion: "same region"
        case .otherRegion: "other region"
        }
    }
}

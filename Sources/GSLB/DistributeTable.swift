/// A `spec.distribute` locality pattern, as Istio spells them: `region[/zone[/subzone]]` with `*`
/// as the last segment (`us-west/*`, `us-west/us-west-1a/*`), or `*` alone for every locality. A
/// pattern with fewer segments matches everything below it (`us-west` is `us-west/*`, as Istio's
/// `LocalityMatch` treats a missing segment), so a pattern is its literal prefix.
public struct LocalityPattern: Sendable, Hashable, CustomStringConvertible {
    /// The literal segments; nil for `*` (every locality, and clients' localities of any depth).
    public let prefix: Locality?

    public init(prefix: Locality?) { self.prefix = prefix }

    /// Parses a pattern: one to three segments, each a locality segment, the last of which may be
    /// `*`; `*` anywhere else is refused (Istio allows only terminal wildcards).
    public init(_ text: String) throws(GSLBParseError) {
        var parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 3 else {
            throw GSLBParseError(.tooManySegments, "\"\(text)\" has \(parts.count) segments; a pattern is region[/zone[/subzone]] with * as the last segment")
        }
        if parts.last == "*" { parts.removeLast() }
        for (i, p) in parts.enumerated() {
            let what = ["region", "zone", "subzone"][i]
            if p == "*" {
                throw GSLBParseError(.badCharacter, "\"\(text)\": * is allowed only as the last segment (as Istio: us-west/*, not */us-west-1a)")
            }
            guard !p.isEmpty else {
                throw GSLBParseError(.emptySegment, "\"\(text)\" has an empty \(what); a pattern is region[/zone[/subzone]] with * as the last segment")
            }
            guard Locality.isValidSegment(p), !p.contains("*") else {
                throw GSLBParseError(.badCharacter, "\"\(text)\": the \(what) holds a space, control character or *")
            }
        }
        switch parts.count {
        case 0: prefix = nil
        case 1: prefix = Locality(region: String(parts[0]))
        case 2: prefix = Locality(region: String(parts[0]), zone: String(parts[1]))
        default: prefix = Locality(region: String(parts[0]), zone: String(parts[1]), subzone: String(parts[2]))
        }
    }

    /// Whether `locality` is at or below the pattern. Does not allocate.
    public func matches(_ locality: Locality) -> Bool {
        guard let p = prefix else { return true }
        guard p.region == locality.region else { return false }
        if let z = p.zone, z != locality.zone { return false }
        if let s = p.subzone, s != locality.subzone { return false }
        return true
    }

    /// Literal segments: a target is in the most specific pattern matching it.
    public var specificity: Int {
        guard let p = prefix else { return 0 }
        return p.subzone != nil ? 3 : p.zone != nil ? 2 : 1
    }

    /// The canonical spelling (`us-west/*`, `us-west/us-west-1a/rack7`, `*`).
    public var description: String {
        guard let p = prefix else { return "*" }
        return p.subzone != nil ? p.description : p.description + "/*"
    }
}

/// `spec.distribute` compiled for one `CandidateSet` (issue 15): per rule, the `to` buckets with
/// their health-adjusted weights as a cumulative array and the active addresses of each bucket's
/// targets as a range of one flat array; and the rules by their `from` prefix, so a pick finds the
/// client's rule with at most four hash look-ups of its own locality's prefixes and draws a bucket
/// with one binary search. Built by the compiler (with health), never per query, and only for
/// names that have rules (`CandidateSet.distribute` is nil otherwise).
///
/// Health adjustment, as Envoy's locality weighted load balancing computes it for Istio: a
/// bucket's effective weight is `weight × min(1, overprovisioningFactor × healthy / targets)`,
/// where `targets` are the bucket's targets with an address of the family and `healthy` those
/// with a healthy one (under FailOpen all count as healthy); the draw normalises the effective
/// weights. A target belongs to the most specific `to` pattern of the rule that matches its
/// locality; a target without locality, or matching no pattern, is in no bucket.
public final class DistributeTable: Sendable {
    public struct Bucket: Sendable, Hashable {
        /// The `to` pattern as written.
        public let pattern: String
        /// The weight as written (percent).
        public let weight: Int
        /// Targets of the bucket with an active address / with an address of the family.
        public let activeTargets: Int
        public let totalTargets: Int
        /// `weight × min(1, factor × active / total)`; 0 for an empty bucket.
        public let effectiveWeight: Double
        /// The bucket's active addresses: a range of `DistributeTable.addresses`.
        let range: Range<Int>
    }

    public struct Rule: Sendable {
        /// The `from` pattern as written.
        public let from: String
        /// The buckets in the order of their patterns (sorted: a map has no order).
        public let buckets: [Bucket]
        /// Running sums of the buckets' effective weights in millionths; the last is the total
        /// (0 when every bucket is empty or down).
        let cumulative: [UInt64]
        /// The last of `cumulative` (stored: `cumulative.last ?? 0` allocated per call in debug builds).
        public let total: UInt64
        /// A bucket's share of the draw (0...1), for the explain answer.
        public func share(_ bucket: Int) -> Double {
            guard total > 0 else { return 0 }
            let low = bucket == 0 ? 0 : cumulative[bucket - 1]
            return Double(cumulative[bucket] - low) / Double(total)
        }
    }

    /// The rules compiled from (`==` against the policy's, as failover rules are checked).
    public let source: [DistributeRule]
    public let overprovisioningFactor: Double
    public let rules: [Rule]
    /// Address indices (into `CandidateSet.addresses`), every bucket's range in one array.
    let addresses: [Int32]
    /// A rule's literal `from` prefix → the first rule (in order) with that prefix.
    let ruleByPrefix: [Locality: Int32]
    /// The first `from: "*"` rule, or -1.
    let ruleForAll: Int32

    /// Weights are scaled to integers of this many units per percent for the draw.
    static let scale = 1_000_000.0

    /// `targets` and `activeAddresses` are the candidate set's; `isActive(i)` says whether target i
    /// may answer in the set's mode. Rules or patterns that do not parse are skipped (validation
    /// refuses them before this runs).
    init(rules source: [DistributeRule], overprovisioningFactor factor: Double, targets: [CandidateSet.Target],
         isActive: (Int) -> Bool, activeAddresses: (Int) -> Range<Int>) {
        self.source = source
        self.overprovisioningFactor = factor
        var flat: [Int32] = []
        var rules: [Rule] = []
        var byPrefix: [Locality: Int32] = [:]
        var forAll: Int32 = -1
        for (ruleIndex, rule) in source.enumerated() {
            let from = try? LocalityPattern(rule.from)
            if let from {
                if let p = from.prefix {
                    if byPrefix[p] == nil { byPrefix[p] = Int32(ruleIndex) }
                } else if forAll < 0 {
                    forAll = Int32(ruleIndex)
                }
            }
            let written = rule.to.sorted { $0.key < $1.key }
            let patterns = written.map { try? LocalityPattern($0.key) }
            // Each target joins the most specific pattern matching it.
            var members = [[Int]](repeating: [], count: written.count)
            for (t, target) in targets.enumerated() {
                guard let l = target.locality else { continue }
                var best = -1
                for (b, p) in patterns.enumerated() {
                    guard let p, p.matches(l) else { continue }
                    if best < 0 || p.specificity > patterns[best]!.specificity { best = b }
                }
                if best >= 0 { members[best].append(t) }
            }
            var buckets: [Bucket] = []
            var cumulative: [UInt64] = []
            var running: UInt64 = 0
            for (b, (pattern, weight)) in written.enumerated() {
                let start = flat.count
                var active = 0
                for t in members[b] where isActive(t) {
                    active += 1
                    for a in activeAddresses(t) { flat.append(Int32(a)) }
                }
                let total = members[b].count
                let fraction = total == 0 ? 0 : Double(active) / Double(total)
                // Clamped so an unvalidated spec (tools, fuzzers) cannot trap the conversion below.
                let w = min(max(0, weight), 100)
                let f = factor.isFinite ? max(0, factor) : NameServiceSpec.defaultOverprovisioningFactor
                let effective = Double(w) * min(1, f * fraction)
                buckets.append(Bucket(pattern: pattern, weight: weight, activeTargets: active, totalTargets: total,
                                      effectiveWeight: effective, range: start..<flat.count))
                // A bucket with no active address can never be drawn, whatever its weight.
                if flat.count > start { running += UInt64((effective * Self.scale).rounded()) }
                cumulative.append(running)
            }
            rules.append(Rule(from: rule.from, buckets: buckets, cumulative: cumulative, total: running))
        }
        self.rules = rules
        self.addresses = flat
        self.ruleByPrefix = byPrefix
        self.ruleForAll = forAll
    }

    /// The first rule whose `from` matches a client at `here`, or nil: the smallest rule index
    /// among the client's own prefixes and `*`. At most four hash look-ups; does not allocate.
    @inline(__always)
    func rule(for here: Locality) -> Int? {
        var best = ruleForAll < 0 ? Int32.max : ruleForAll
        if !ruleByPrefix.isEmpty {
            if let r = ruleByPrefix[Locality(region: here.region)], r < best { best = r }
            if let z = here.zone {
                if let r = ruleByPrefix[Locality(region: here.region, zone: z)], r < best { best = r }
                if here.subzone != nil, let r = ruleByPrefix[here], r < best { best = r }
            }
        }
        return best == Int32.max ? nil : Int(best)
    }

    /// The bucket whose cumulative interval holds `r` (< `rules[rule].total`): a binary search.
    @inline(__always)
    func bucket(_ rule: Int, at r: UInt64) -> Int {
        rules[rule].cumulative.withUnsafeBufferPointer { c in
            var low = 0, high = c.count - 1
            while low < high {
                let mid = (low + high) / 2
                if c[mid] > r { high = mid } else { low = mid + 1 }
            }
            return low
        }
    }
}

import DNSWire

/// The compiled candidates of one NameService for one address family: what a policy picks from.
///
/// Built by the plan compiler whenever the spec or health changes, never per query. Holds only the
/// targets that have at least one address of the family, in spec order; each target's addresses
/// are stored healthy-first in one flat array, so "the healthy addresses of target i" and "all
/// addresses of target i" are both a range. All-down handling is decided here, once: `mode` says
/// whether policies pick among healthy targets, among all (FailOpen), or not at all (FailClosed).
public struct CandidateSet: Sendable {
    /// What the compiler knows of one target for this family.
    public struct Input: Sendable {
        public var name: String
        public var locality: Locality?
        public var ratio: Int
        /// Addresses of any family with their health; other families are ignored.
        public var addresses: [(address: IPAddress, healthy: Bool)]

        public init(name: String, locality: Locality? = nil, ratio: Int = 1, addresses: [(address: IPAddress, healthy: Bool)]) {
            self.name = name
            self.locality = locality
            self.ratio = ratio
            self.addresses = addresses
        }
    }

    public struct Target: Sendable {
        public let name: String
        public let locality: Locality?
        public let ratio: Int
        /// Every address of the family (indices into `addresses`), healthy ones first.
        public let allAddresses: Range<Int>
        /// The healthy prefix of `allAddresses`.
        public let healthyAddresses: Range<Int>
        /// At least one healthy address of the family.
        public var isHealthy: Bool { !healthyAddresses.isEmpty }
    }

    /// Which targets the policies pick from.
    public enum Mode: Sendable, Hashable, CustomStringConvertible {
        /// At least one target is healthy: pick among healthy targets and their healthy addresses.
        case healthy
        /// Every target is down and the spec says FailOpen: pick as if all were healthy.
        case allDownFailOpen
        /// Every target is down (or there is none) and the spec says FailClosed: answer nothing.
        case allDownFailClosed
        /// Every target is down and the spec says Fallback: the only target is `spec.fallback`'s
        /// addresses of the family (none: NODATA).
        case allDownFallback

        public var description: String {
            switch self {
            case .healthy: "healthy"
            case .allDownFailOpen: "all down, fail open"
            case .allDownFailClosed: "all down, fail closed"
            case .allDownFallback: "all down, fallback"
            }
        }
    }

    public let family: AddressFamily
    public let targets: [Target]
    public let addresses: [IPAddress]
    public let mode: Mode
    public let healthyTargetCount: Int
    /// Targets an operator drained: never candidates, named here for the explain answer only.
    public let drained: [String]
    /// The most addresses any pick can return: size the output buffer with this.
    public var addressCount: Int { addresses.count }
    /// Addresses of the family past `maxAddresses(family)`: never candidates (the compiler
    /// reports them in the status).
    public let droppedAddresses: Int

    /// The most addresses of a family one name answers with: what always fits in one TCP reply
    /// (65,535 bytes) with the longest question, NSID, Client Subnet and a 64-hop CNAME chain in
    /// front: 2,048 A records (32 KiB), 1,536 AAAA (42 KiB). `GlobalNameTable` renders the same
    /// number, so every address a policy picks has its record.
    public static func maxAddresses(_ family: AddressFamily) -> Int {
        family == .ipv4 ? 2048 : 1536
    }

    // Compiled for the policies, once per compile (compile, then serve), so that a
    // pick costs O(answers), plus O(log targets) per weighted draw, whatever the spec's size.
    /// The active addresses (`activeAddresses(i)` of every active target), in target order: what
    /// RoundRobin and Locality's all-targets tiers rotate over.
    let active: [Int32]
    /// Ratio's weighted draw over the active targets.
    let draw: WeightedDraw
    /// Locality's tiers: the active addresses per subzone, zone and region of the targets.
    let near: LocalityIndex
    /// The failover rules `failoverByRegion` was resolved for (Locality compiles them in).
    public private(set) var failoverRules: [FailoverRule]
    /// Client region → the first rule (in order) from that region whose `to` region has active
    /// addresses, and those addresses (a range of `near.addresses`).
    private(set) var failoverByRegion: [String: (rule: Int, range: Range<Int>)]
    /// Locality's `spec.distribute` rules compiled with health (issue 15); nil for names without
    /// rules, so they carry one word for it.
    public private(set) var distribute: DistributeTable?

    /// What a policy reads besides the active addresses: the compiler builds only those (a
    /// RoundRobin name needs neither, so a million of them do not carry unused indexes).
    public struct Parts: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Ratio's weighted draw.
        public static let draw = Parts(rawValue: 1)
        /// Locality's tiers.
        public static let near = Parts(rawValue: 2)
        public static let all: Parts = [.draw, .near]

        /// What `kind`'s picks read.
        public static func used(by kind: PolicyKind) -> Parts {
            switch kind {
            case .ratio: .draw
            case .locality: .near
            default: []
            }
        }
    }

    /// `fallback`: what `allDown: Fallback` answers (every address of any family; only this
    /// family's are used), as one target named `fallback` that replaces the others.
    public init(family: AddressFamily, inputs: [Input], allDown: AllDownBehavior, drained: [String] = [],
                failover: [FailoverRule] = [], parts: Parts = .all, distribute: [DistributeRule] = [],
                overprovisioningFactor: Double = NameServiceSpec.defaultOverprovisioningFactor,
                fallback: [IPAddress] = []) {
        var targets: [Target] = []
        var addresses: [IPAddress] = []
        let cap = CandidateSet.maxAddresses(family)
        var dropped = 0
        var inputs = inputs
        var fallingBack = false
        if allDown == .fallback, !inputs.isEmpty,
           !inputs.contains(where: { $0.addresses.contains { $0.healthy && $0.address.family == family } }),
           inputs.contains(where: { $0.addresses.contains { $0.address.family == family } }) {
            // Every target of the family is down: the fallback answers instead (of its family only).
            inputs = [Input(name: "fallback", addresses: fallback.filter { $0.family == family }.map { ($0, true) })]
            fallingBack = true
        }
        for input in inputs {
            let start = addresses.count
            for a in input.addresses where a.healthy && a.address.family == family {
                if addresses.count < cap { addresses.append(a.address) } else { dropped += 1 }
            }
            let healthyEnd = addresses.count
            for a in input.addresses where !a.healthy && a.address.family == family {
                if addresses.count < cap { addresses.append(a.address) } else { dropped += 1 }
            }
            guard addresses.count > start else { continue }
            targets.append(Target(name: input.name, locality: input.locality, ratio: input.ratio,
                                  allAddresses: start..<addresses.count, healthyAddresses: start..<healthyEnd))
        }
        self.family = family
        self.drained = drained
        self.droppedAddresses = dropped
        self.targets = targets
        self.addresses = addresses
        let healthy = targets.count(where: \.isHealthy)
        self.healthyTargetCount = fallingBack ? 0 : healthy
        if fallingBack {
            mode = .allDownFallback
        } else if healthy > 0 || targets.isEmpty {
            mode = .healthy  // no target of the family at all is NODATA, not an outage
        } else if allDown == .failClosed {
            mode = .allDownFailClosed
        } else {
            mode = .allDownFailOpen
        }
        let mode = self.mode
        func isActive(_ t: Target) -> Bool {
            switch mode {
            case .healthy: t.isHealthy
            case .allDownFailOpen: true
            case .allDownFailClosed: false
            case .allDownFallback: true
            }
        }
        func activeRange(_ t: Target) -> Range<Int> { mode == .healthy ? t.healthyAddresses : t.allAddresses }
        var active: [Int32] = []
        var near = LocalityIndex.Builder()
        for t in targets where isActive(t) {
            let range = activeRange(t)
            for a in range { active.append(Int32(a)) }
            if parts.contains(.near), let l = t.locality { near.add(l, range) }
        }
        self.active = active
        self.near = near.build()
        self.draw = parts.contains(.draw) ? WeightedDraw(targets: targets, isActive: isActive)
                                          : WeightedDraw(targets: [], isActive: isActive)
        self.failoverRules = []
        self.failoverByRegion = [:]
        self.distribute = nil
        if !failover.isEmpty { compileFailover(failover) }
        if !distribute.isEmpty { compileDistribute(distribute, overprovisioningFactor) }
    }

    /// The same candidates with Locality's `distribute` rules compiled (what `NamePlan` does for a
    /// Locality policy with rules; O(rules × buckets × targets), at compile time).
    public func withDistribute(_ rules: [DistributeRule], overprovisioningFactor: Double) -> CandidateSet {
        var copy = self
        copy.compileDistribute(rules, overprovisioningFactor)
        return copy
    }

    private mutating func compileDistribute(_ rules: [DistributeRule], _ factor: Double) {
        // Nothing to distribute when the fallback answers or nothing may answer.
        guard !rules.isEmpty, mode == .healthy || mode == .allDownFailOpen else {
            distribute = nil
            return
        }
        let set = self
        distribute = DistributeTable(rules: rules, overprovisioningFactor: factor, targets: targets,
                                     isActive: { set.isActive($0) }, activeAddresses: { set.activeAddresses($0) })
    }

    /// The same candidates with Locality's failover `rules` resolved per client region (what
    /// `NamePlan` does for a Locality policy; O(rules)).
    public func withFailover(_ rules: [FailoverRule]) -> CandidateSet {
        var copy = self
        copy.compileFailover(rules)
        return copy
    }

    private mutating func compileFailover(_ rules: [FailoverRule]) {
        failoverRules = rules
        failoverByRegion = [:]
        for (i, rule) in rules.enumerated() where failoverByRegion[rule.from] == nil {
            if let range = near.regions[rule.to] { failoverByRegion[rule.from] = (i, range) }
        }
    }

    /// Compiles a validated spec's targets that carry literal addresses. `isHealthy` says whether
    /// one address of one target is up (default: all up, as before health checking). Addresses that
    /// do not parse are skipped: `NameService.validate()` rejects them before this runs. Targets
    /// known only by `fqdn` need their resolved addresses: use `init(family:inputs:allDown:)`.
    public init(spec: NameServiceSpec, family: AddressFamily,
                isHealthy: (_ target: String, _ address: IPAddress) -> Bool = { _, _ in true }) {
        var inputs: [Input] = []
        for t in spec.targets {
            var locality: Locality?
            if let text = t.locality {
                do { locality = try Locality(text) } catch { locality = nil }
            }
            var addrs: [(address: IPAddress, healthy: Bool)] = []
            for text in t.addresses {
                guard let a = IPAddress(text) else { continue }
                addrs.append((a, isHealthy(t.name, a)))
            }
            inputs.append(Input(name: t.name, locality: locality, ratio: t.ratio, addresses: addrs))
        }
        self.init(family: family, inputs: inputs, allDown: spec.allDown, failover: spec.failover,
                  distribute: spec.policy == .locality ? spec.distribute : [],
                  overprovisioningFactor: spec.overprovisioningFactor ?? NameServiceSpec.defaultOverprovisioningFactor,
                  fallback: spec.fallback?.addresses.compactMap { IPAddress($0) } ?? [])
    }

    /// Whether policies may pick target `i` in the current mode.
    @inline(__always)
    public func isActive(_ i: Int) -> Bool {
        switch mode {
        case .healthy: targets[i].isHealthy
        case .allDownFailOpen: true
        case .allDownFailClosed: false
        case .allDownFallback: true
        }
    }

    /// The addresses of target `i` a pick may return in the current mode.
    @inline(__always)
    public func activeAddresses(_ i: Int) -> Range<Int> {
        mode == .healthy ? targets[i].healthyAddresses : targets[i].allAddresses
    }
}

/// Ratio's draw, compiled: the targets with weight (the weighted ones, or the standbys when every
/// weighted target is down), their weights in a Fenwick tree (a draw is a descent, O(log n)).
struct WeightedDraw: Sendable {
    /// Target indices (into `CandidateSet.targets`) with a weight, in target order.
    let targets: [Int32]
    /// 1-based Fenwick tree over the weights of `targets` (`tree[0]` unused).
    let tree: [UInt64]
    /// The weights, for removing a drawn target.
    let weights: [UInt64]
    let total: UInt64
    /// The largest power of two ≤ `targets.count` (0 when empty): where a descent starts.
    let topStep: Int
    /// Every weighted target is down: the standbys (ratio 0) share evenly.
    let standby: Bool

    init(targets all: [CandidateSet.Target], isActive: (CandidateSet.Target) -> Bool) {
        var weighted: UInt64 = 0
        for t in all where isActive(t) && t.ratio > 0 { weighted += UInt64(t.ratio) }
        let standby = weighted == 0
        var targets: [Int32] = []
        var weights: [UInt64] = []
        for (i, t) in all.enumerated() where isActive(t) {
            let w: UInt64 = standby ? (t.ratio <= 0 ? 1 : 0) : UInt64(max(t.ratio, 0))
            guard w > 0 else { continue }
            targets.append(Int32(i))
            weights.append(w)
        }
        // No weights, no tree (an empty draw allocates nothing; picks check `total` first).
        var tree = weights.isEmpty ? [] : [UInt64](repeating: 0, count: weights.count + 1)
        for (k, w) in weights.enumerated() {
            let i = k + 1
            tree[i] += w
            let parent = i + (i & -i)
            if parent < tree.count { tree[parent] += tree[i] }
        }
        var top = 0
        if !weights.isEmpty { top = 1; while top * 2 <= weights.count { top *= 2 } }
        self.targets = targets
        self.weights = weights
        self.tree = tree
        self.total = weights.reduce(0, +)
        self.topStep = top
        self.standby = standby
    }
}

/// Locality's tiers, compiled: the active addresses of the targets in each subzone, zone and
/// region (target order), as ranges of one flat array. A client's tier is two or three hash
/// look-ups of its own locality's segments.
struct LocalityIndex: Sendable {
    struct ZoneKey: Hashable, Sendable {
        var region: String
        var zone: String
    }
    struct SubzoneKey: Hashable, Sendable {
        var region: String
        var zone: String
        var subzone: String
    }

    let addresses: [Int32]
    let subzones: [SubzoneKey: Range<Int>]
    let zones: [ZoneKey: Range<Int>]
    let regions: [String: Range<Int>]

    struct Builder {
        var subzones: [SubzoneKey: [Int32]] = [:]
        var zones: [ZoneKey: [Int32]] = [:]
        var regions: [String: [Int32]] = [:]

        mutating func add(_ l: Locality, _ range: Range<Int>) {
            let list = range.map { Int32($0) }
            regions[l.region, default: []] += list
            if let z = l.zone {
                zones[ZoneKey(region: l.region, zone: z), default: []] += list
                if let s = l.subzone { subzones[SubzoneKey(region: l.region, zone: z, subzone: s), default: []] += list }
            }
        }

        func build() -> LocalityIndex {
            var flat: [Int32] = []
            func place<K: Hashable>(_ groups: [K: [Int32]]) -> [K: Range<Int>] {
                var out: [K: Range<Int>] = [:]
                for (k, list) in groups where !list.isEmpty {
                    out[k] = flat.count..<(flat.count + list.count)
                    flat += list
                }
                return out
            }
            let s = place(subzones), z = place(zones), r = place(regions)
            return LocalityIndex(addresses: flat, subzones: s, zones: z, regions: r)
        }
    }

    /// The nearest non-empty tier for a client at `here` (not counting failover), or nil.
    @inline(__always)
    func nearest(to here: Locality) -> (tier: LocalityTier, range: Range<Int>)? {
        if let z = here.zone {
            if let s = here.subzone, let r = subzones[SubzoneKey(region: here.region, zone: z, subzone: s)] {
                return (.sameSubzone, r)
            }
            if let r = zones[ZoneKey(region: here.region, zone: z)] { return (.sameZone, r) }
        }
        if let r = regions[here.region] { return (.sameRegion, r) }
        return nil
    }
}

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

        public var description: String {
            switch self {
            case .healthy: "healthy"
            case .allDownFailOpen: "all down, fail open"
            case .allDownFailClosed: "all down, fail closed"
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

    public init(family: AddressFamily, inputs: [Input], allDown: AllDownBehavior, drained: [String] = []) {
        var targets: [Target] = []
        var addresses: [IPAddress] = []
        for input in inputs {
            let start = addresses.count
            for a in input.addresses where a.healthy && a.address.family == family { addresses.append(a.address) }
            let healthyEnd = addresses.count
            for a in input.addresses where !a.healthy && a.address.family == family { addresses.append(a.address) }
            guard addresses.count > start else { continue }
            targets.append(Target(name: input.name, locality: input.locality, ratio: input.ratio,
                                  allAddresses: start..<addresses.count, healthyAddresses: start..<healthyEnd))
        }
        self.family = family
        self.drained = drained
        self.targets = targets
        self.addresses = addresses
        let healthy = targets.count(where: \.isHealthy)
        self.healthyTargetCount = healthy
        if healthy > 0 || targets.isEmpty {
            mode = .healthy  // no target of the family at all is NODATA, not an outage
        } else if allDown == .failClosed {
            mode = .allDownFailClosed
        } else {
            mode = .allDownFailOpen
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
        self.init(family: family, inputs: inputs, allDown: spec.allDown)
    }

    /// Whether policies may pick target `i` in the current mode.
    @inline(__always)
    public func isActive(_ i: Int) -> Bool {
        switch mode {
        case .healthy: targets[i].isHealthy
        case .allDownFailOpen: true
        case .allDownFailClosed: false
        }
    }

    /// The addresses of target `i` a pick may return in the current mode.
    @inline(__always)
    public func activeAddresses(_ i: Int) -> Range<Int> {
        mode == .healthy ? targets[i].healthyAddresses : targets[i].allAddresses
    }
}

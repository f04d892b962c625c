import DNSWire

/// Who is asking, as the policies see it: the address used, where it came from, and the locality
/// it maps to. Built once per query; does not allocate.
public struct ClientContext: Sendable, Hashable {
    /// Where the client address came from.
    public enum AddressSource: Sendable, Hashable, CustomStringConvertible {
        /// An EDNS Client Subnet option with this source prefix length (> 0).
        case clientSubnet(sourcePrefixLength: UInt8)
        /// The packet's source address (no ECS, or ECS with source prefix 0).
        case packetSource

        public var description: String {
            switch self {
            case .clientSubnet(let p): "ecs/\(p)"
            case .packetSource: "source"
            }
        }
    }

    /// How the locality used was found.
    public enum LocalitySource: Sendable, Hashable, CustomStringConvertible {
        /// The localities table matched an entry of this prefix length.
        case matched(prefixLength: UInt8)
        /// No entry matched; the configured default locality is used.
        case defaultLocality
        /// No entry matched and there is no default: the client has no locality.
        case none

        public var description: String {
            switch self {
            case .matched(let p): "matched /\(p)"
            case .defaultLocality: "default"
            case .none: "none"
            }
        }
    }

    /// The address the locality was looked up with (the ECS subnet address, or the packet source).
    public var address: IPAddress
    public var source: AddressSource
    /// The locality the Locality policy serves: the matched entry's, else the default, else nil.
    public var locality: Locality?
    public var localitySource: LocalitySource
    /// The ECS scope a locality-dependent answer may carry (`LocalityTable.Match.scopePrefixLength`
    /// for ECS clients; 0 for packet-source clients, whose replies carry no tailored ECS scope).
    public var localityScopePrefixLength: UInt8

    public init(address: IPAddress, source: AddressSource, locality: Locality?, localitySource: LocalitySource,
                localityScopePrefixLength: UInt8) {
        self.address = address
        self.source = source
        self.locality = locality
        self.localitySource = localitySource
        self.localityScopePrefixLength = localityScopePrefixLength
    }

    /// Resolves a query's client: the ECS address when the query carries ECS with a source prefix
    /// > 0 (looked up with the source prefix as the limit), else the packet's source address.
    /// Clients matching no entry get `defaultLocality` (which may be nil).
    public init(packetSource: IPAddress, clientSubnet: ClientSubnet?, table: LocalityTable, defaultLocality: Locality?) {
        let address: IPAddress
        let source: AddressSource
        let limit: UInt8?
        if let ecs = clientSubnet, ecs.sourcePrefix > 0 {
            address = ClientContext.address(of: ecs)
            source = .clientSubnet(sourcePrefixLength: ecs.sourcePrefix)
            limit = ecs.sourcePrefix
        } else {
            address = packetSource
            source = .packetSource
            limit = nil
        }
        self.init(address: address, source: source, match: table.lookup(address, limit: limit), defaultLocality: defaultLocality)
    }

    /// From a lookup already made.
    public init(address: IPAddress, source: AddressSource, match: LocalityTable.Match, defaultLocality: Locality?) {
        self.address = address
        self.source = source
        if let l = match.locality {
            locality = l
            localitySource = .matched(prefixLength: match.prefixLength)
        } else if let d = defaultLocality {
            locality = d
            localitySource = .defaultLocality
        } else {
            locality = nil
            localitySource = .none
        }
        if case .clientSubnet = source {
            localityScopePrefixLength = match.scopePrefixLength
        } else {
            localityScopePrefixLength = 0
        }
    }

    /// The option's address without building intermediate arrays.
    static func address(of ecs: ClientSubnet) -> IPAddress {
        switch ecs.family {
        case .ipv4:
            var v: UInt32 = 0
            for i in 0..<4 { v = v << 8 | UInt32(i < ecs.addressBytes.count ? ecs.addressBytes[i] : 0) }
            return .v4(IPv4Address(value: v))
        case .ipv6:
            return .v6(IPv6Address(bytes: ecs.addressBytes))
        }
    }
}

import DNSWire

/// How the DNS path turns a query's client into a `ClientContext`: the localities table and the
/// locality of clients it does not match. Compiled from the configuration's `localities` and
/// `defaultLocality` keys; replaced whole on SIGHUP.
public struct ClientMapping: Sendable {
    public var table: LocalityTable
    /// The locality of clients no entry matches; nil gives them every candidate.
    public var defaultLocality: Locality?

    public static let empty = ClientMapping(table: LocalityTable(), defaultLocality: nil)

    public init(table: LocalityTable, defaultLocality: Locality?) {
        self.table = table
        self.defaultLocality = defaultLocality
    }

    /// The client of a query: the ECS address when the option carries a source prefix > 0 (looked
    /// up with that prefix as the limit), else the packet's source. Does not allocate.
    @inline(__always)
    public func client(packetSource: IPAddress, ecsAddress: IPAddress?, ecsSourcePrefix: UInt8) -> ClientContext {
        if let ecs = ecsAddress, ecsSourcePrefix > 0 {
            return ClientContext(address: ecs, source: .clientSubnet(sourcePrefixLength: ecsSourcePrefix),
                                 match: table.lookup(ecs, limit: ecsSourcePrefix), defaultLocality: defaultLocality)
        }
        return ClientContext(address: packetSource, source: .packetSource, match: table.lookup(packetSource),
                             defaultLocality: defaultLocality)
    }
}

import DNSWire

/// The addresses a name resolved to and how long they may be kept.
public struct ResolvedAddresses: Sendable, Hashable {
    /// IPv4 addresses, then IPv6 addresses, each sorted and without repeats: the same records
    /// in any order give the same value, so an unchanged answer compares equal.
    public var addresses: [IPAddress]
    /// The smallest TTL among the address RRsets and the CNAMEs followed to reach them.
    public var ttl: UInt32

    /// Normalizes `addresses` (IPv4 first, each family sorted, repeats dropped).
    public init(addresses: [IPAddress], ttl: UInt32) {
        var v4: [IPv4Address] = []
        var v6: [IPv6Address] = []
        for address in addresses {
            switch address {
            case .v4(let a): v4.append(a)
            case .v6(let a): v6.append(a)
            }
        }
        self.init(ipv4: v4, ipv6: v6, ttl: ttl)
    }

    init(ipv4: [IPv4Address], ipv6: [IPv6Address], ttl: UInt32) {
        let v4 = Set(ipv4).sorted(), v6 = Set(ipv6).sorted()
        addresses = v4.map(IPAddress.v4) + v6.map(IPAddress.v6)
        self.ttl = ttl
    }

    /// The IPv4 addresses, sorted.
    public var ipv4: [IPv4Address] {
        addresses.compactMap { if case .v4(let a) = $0 { a } else { nil } }
    }

    /// The IPv6 addresses, sorted.
    public var ipv6: [IPv6Address] {
        addresses.compactMap { if case .v6(let a) = $0 { a } else { nil } }
    }
}

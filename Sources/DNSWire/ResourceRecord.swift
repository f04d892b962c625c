/// One resource record with its RDATA in uncompressed wire form.
public struct ResourceRecord: Sendable, Hashable, CustomStringConvertible {
    public var owner: DNSName
    public var type: RRType
    public var rrClass: RRClass
    public var ttl: UInt32
    /// RDATA, uncompressed (names inside it written in full).
    public var rdata: [UInt8]

    public init(owner: DNSName, type: RRType, rrClass: RRClass = .in, ttl: UInt32, rdata: [UInt8]) {
        self.owner = owner
        self.type = type
        self.rrClass = rrClass
        self.ttl = ttl
        self.rdata = rdata
    }

    public init(owner: DNSName, ttl: UInt32, _ data: RData, rrClass: RRClass = .in) {
        self.init(owner: owner, type: data.type, rrClass: rrClass, ttl: ttl, rdata: data.wire())
    }

    /// The typed view of the RDATA, or `.unknown` for types without a typed form.
    public var data: RData { (try? RData(type: type, rdata: rdata)) ?? .unknown(type, rdata) }

    public var description: String { "\(owner) \(ttl) \(rrClass) \(type) \(data.presentation)" }
}

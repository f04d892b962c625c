import DNSWire

/// One TCP connect probe: an address, a port and how often. Two NameServices that want the same
/// address, port and timing want the same `ProbeTarget`, and it is probed once.
public struct ProbeTarget: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public var timing: ProbeTiming

    public init(address: IPAddress, port: UInt16, timing: ProbeTiming) {
        self.address = address
        self.port = port
        self.timing = timing
    }

    /// `192.0.2.1:443` or `[2001:db8::1]:443`.
    public var description: String {
        switch address {
        case .v4(let a): "\(a):\(port)"
        case .v6(let a): "[\(a)]:\(port)"
        }
    }
}

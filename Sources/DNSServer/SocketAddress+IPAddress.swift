import DNSWire
import NIOCore

extension IPAddress {
    /// The address of an IP socket address, read from the sockaddr without allocating; 0.0.0.0
    /// for anything else (Unix sockets, which DNS never listens on).
    @inline(__always)
    init(_ socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let a):
            self = .v4(IPv4Address(value: UInt32(bigEndian: a.address.sin_addr.s_addr)))
        case .v6(let a):
            var raw = a.address.sin6_addr
            let (high, low) = withUnsafeBytes(of: &raw) { p in
                (UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self = .v6(IPv6Address(high: high, low: low))
        default:
            self = .v4(IPv4Address(value: 0))
        }
    }
}

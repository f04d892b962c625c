import DNSWire

/// An IPv4 or IPv6 prefix, `address/prefixLength`, with every bit past the prefix zero.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let address: IPAddress
    public let prefixLength: UInt8

    /// Masks `address` to `prefixLength` bits. The length must fit the family (≤ 32 or ≤ 128).
    public init(address: IPAddress, prefixLength: UInt8) {
        precondition(prefixLength <= address.family.bitCount, "prefix length \(prefixLength) exceeds the family")
        self.address = address.masked(to: prefixLength)
        self.prefixLength = prefixLength
    }

    /// Parses `10.0.0.0/8` or `2001:db8::/32`. Host bits that are set are cleared (use
    /// `parse(_:)` to learn whether there were any: a table that writes `10.1.2.3/16` probably
    /// meant something else).
    public init(_ text: String) throws(GSLBParseError) {
        self = try CIDR.parse(text).cidr
    }

    /// Parses like `init(_:)` and also says whether the text had bits set past the prefix.
    public static func parse(_ text: String) throws(GSLBParseError) -> (cidr: CIDR, hostBitsWereSet: Bool) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw GSLBParseError(.missingPrefixLength, "\"\(text)\" is not a CIDR: write address/length, e.g. 10.0.0.0/8")
        }
        guard let address = IPAddress(parts[0]) else {
            throw GSLBParseError(.badAddress, "\"\(text)\": \"\(parts[0])\" is not an IPv4 or IPv6 address")
        }
        let maxLength = address.family.bitCount
        let digits = parts[1]
        guard !digits.isEmpty, digits.utf8.count <= 3, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let length = UInt8(digits), length <= maxLength
        else {
            throw GSLBParseError(.badPrefixLength, "\"\(text)\": the prefix length must be 0...\(maxLength)")
        }
        let cidr = CIDR(address: address, prefixLength: length)
        return (cidr, cidr.address != address)
    }

    /// True when `other` is of the same family and its first `prefixLength` bits equal this prefix.
    public func contains(_ other: IPAddress) -> Bool {
        other.family == address.family && other.masked(to: prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// IPv4 or IPv6.
public enum AddressFamily: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case ipv4, ipv6

    /// 32 or 128.
    public var bitCount: UInt8 { self == .ipv4 ? 32 : 128 }

    public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }
}

extension IPAddress {
    public var family: AddressFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// The address with every bit past the first `length` cleared.
    public func masked(to length: UInt8) -> IPAddress {
        switch self {
        case .v4(let a):
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - UInt32(min(length, 32)))
            return .v4(IPv4Address(value: a.value & mask))
        case .v6(let a):
            let l = UInt64(min(length, 128))
            let highMask: UInt64 = l == 0 ? 0 : (l >= 64 ? ~0 : ~UInt64(0) << (64 - l))
            let lowMask: UInt64 = l <= 64 ? 0 : (l == 128 ? ~0 : ~UInt64(0) << (128 - l))
            return .v6(IPv6Address(high: a.high & highMask, low: a.low & lowMask))
        }
    }
}

/// EDNS(0) option codes (IANA "DNS EDNS0 Option Codes").
public enum EDNSOptionCode {
    public static let nsid: UInt16 = 3
    public static let clientSubnet: UInt16 = 8
    public static let cookie: UInt16 = 10
    public static let padding: UInt16 = 12
}

/// An EDNS Client Subnet option (RFC 7871 §6), validated.
///
/// `address` holds the family's full address with every bit past `sourcePrefix` zero, so two
/// options for the same subnet compare equal.
public struct ClientSubnet: Sendable, Hashable, CustomStringConvertible {
    public enum Family: UInt16, Sendable {
        case ipv4 = 1
        case ipv6 = 2
        public var maxPrefix: UInt8 { self == .ipv4 ? 32 : 128 }
    }

    public var family: Family
    public var sourcePrefix: UInt8
    public var scopePrefix: UInt8
    /// The address bytes as sent: exactly ceil(sourcePrefix / 8) bytes.
    public var addressBytes: [UInt8]

    public init(family: Family, sourcePrefix: UInt8, scopePrefix: UInt8 = 0, addressBytes: [UInt8]) {
        self.family = family
        self.sourcePrefix = sourcePrefix
        self.scopePrefix = scopePrefix
        self.addressBytes = addressBytes
    }

    /// Builds the option a client would send for `address/prefix` (bits past the prefix cleared).
    public init(address: IPAddress, sourcePrefix: UInt8) {
        let full: [UInt8]
        switch address {
        case .v4(let a): family = .ipv4; full = a.bytes
        case .v6(let a): family = .ipv6; full = a.bytes
        }
        self.sourcePrefix = sourcePrefix
        scopePrefix = 0
        let n = (Int(sourcePrefix) + 7) / 8
        var bytes = Array(full.prefix(n))
        if sourcePrefix % 8 != 0, n > 0 {
            bytes[n - 1] &= UInt8(truncatingIfNeeded: 0xFF << (8 - Int(sourcePrefix % 8)))
        }
        addressBytes = bytes
    }

    /// Parses and validates option data (without the code/length header) as RFC 7871 §7.1.1 asks of
    /// a server: known family, prefixes within the family, address exactly as long as the source
    /// prefix needs, no bits set past the prefix, SCOPE PREFIX-LENGTH 0 in queries.
    public init(optionData p: UnsafeRawBufferPointer, isQuery: Bool = true) throws(DNSWireError) {
        guard p.count >= 4 else { throw DNSWireError(.badOption, offset: 0) }
        let fam = UInt16(p[0]) << 8 | UInt16(p[1])
        guard let family = Family(rawValue: fam) else { throw DNSWireError(.badOption, offset: 0) }
        let source = p[2], scope = p[3]
        guard source <= family.maxPrefix, scope <= family.maxPrefix else { throw DNSWireError(.badOption, offset: 2) }
        if isQuery { guard scope == 0 else { throw DNSWireError(.badOption, offset: 3) } }
        let n = (Int(source) + 7) / 8
        guard p.count == 4 + n else { throw DNSWireError(.badOption, offset: 4) }
        if source % 8 != 0 {
            let mask = UInt8(truncatingIfNeeded: 0xFF >> Int(source % 8))
            guard p[3 + n] & mask == 0 else { throw DNSWireError(.badOption, offset: 3 + n) }
        }
        self.family = family
        self.sourcePrefix = source
        self.scopePrefix = scope
        self.addressBytes = Array(p[4..<(4 + n)])
    }

    public init(optionData bytes: [UInt8], isQuery: Bool = true) throws(DNSWireError) {
        var result: Result<ClientSubnet, DNSWireError> = .failure(DNSWireError(.badOption, offset: 0))
        bytes.withUnsafeBytes { p in
            do throws(DNSWireError) { result = .success(try ClientSubnet(optionData: p, isQuery: isQuery)) }
            catch { result = .failure(error) }
        }
        self = try result.get()
    }

    /// Option data (without the code/length header).
    public var optionData: [UInt8] {
        var out: [UInt8] = []
        out.appendU16(family.rawValue)
        out.append(sourcePrefix)
        out.append(scopePrefix)
        return out + addressBytes
    }

    /// The subnet's address, zero-padded to the family's width.
    public var address: IPAddress {
        switch family {
        case .ipv4:
            var b = addressBytes
            while b.count < 4 { b.append(0) }
            return .v4(IPv4Address(b[0], b[1], b[2], b[3]))
        case .ipv6:
            return .v6(IPv6Address(bytes: addressBytes))
        }
    }

    public var description: String { "\(address)/\(sourcePrefix)/\(scopePrefix)" }
}

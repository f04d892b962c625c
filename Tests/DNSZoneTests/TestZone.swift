import DNSServer
import DNSWire
import DNSZone

/// Minimal presentation-format reader for inline test zones (as CoreDNS's table tests): one record per line,
/// `owner TTL [IN] TYPE rdata…`, names relative to `origin` unless they end with a dot. The real
/// zone-file parser (libldns) is tested in ZoneFileTests.
func records(_ text: String, origin: DNSName) throws -> [ResourceRecord] {
    func name(_ s: Substring) throws -> DNSName {
        if s == "@" { return origin }
        if s.hasSuffix(".") { return try DNSName(String(s)) }
        return try DNSName(String(s) + "." + origin.description)
    }
    var out: [ResourceRecord] = []
    for line in text.split(separator: "\n") {
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard !f.isEmpty, !f[0].hasPrefix(";") else { continue }
        var i = 2
        if f[i] == "IN" { i += 1 }
        let owner = try name(f[0])
        let ttl = UInt32(f[1])!
        let type = RRType(mnemonic: String(f[i]))!
        let args = Array(f[(i + 1)...])
        let data: RData
        switch type {
        case .a: data = .a(IPv4Address(args[0])!)
        case .aaaa: data = .aaaa(IPv6Address(args[0])!)
        case .ns: data = .ns(try name(args[0]))
        case .cname: data = .cname(try name(args[0]))
        case .ptr: data = .ptr(try name(args[0]))
        case .mx: data = .mx(preference: UInt16(args[0])!, exchange: try name(args[1]))
        case .srv: data = .srv(priority: UInt16(args[0])!, weight: UInt16(args[1])!, port: UInt16(args[2])!, target: try name(args[3]))
        case .txt: data = .txt(args.map { Array($0.trimmingCharacters(in: "\"").utf8) })
        case .soa:
            data = .soa(.init(mname: try name(args[0]), rname: try name(args[1]), serial: UInt32(args[2])!,
                              refresh: UInt32(args[3])!, retry: UInt32(args[4])!, expire: UInt32(args[5])!,
                              minimum: UInt32(args[6])!))
        default: fatalError("test zone reader: unsupported type \(type)")
        }
        out.append(ResourceRecord(owner: owner, ttl: ttl, data))
    }
    return out
}

extension Substring {
    func trimmingCharacters(in c: Character) -> Substring {
        var s = self
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return s
    }
}

func makeZone(_ text: String, origin: DNSName) throws -> Zone {
    var b = ZoneBuilder(origin: origin)
    try b.add(contentsOf: try records(text, origin: origin))
    return try b.build()
}

func makeResponder(_ zones: [Zone], identity: String = "ns1.test", maxUDP: Int = 1232) -> QueryResponder {
    let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: zones), generation: 1))
    return QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: identity, maxUDPPayload: maxUDP))
}

extension QueryResponder {
    func ask(_ name: DNSName, _ type: RRType, qclass: RRClass = .in, edns: EDNS? = nil,
             transport: Transport = .udp) throws -> DNSMessage {
        let q = DNSMessage.query(name, type, qclass: qclass, edns: edns).encode()
        guard let reply = respond(to: q, transport: transport) else { throw TestFailure("dropped") }
        return try DNSMessage(decoding: reply)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

let exampleZoneText = """
@            3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@            3600 IN NS ns1
@            3600 IN NS ns2.other.net.
@            3600 IN MX 10 mail
ns1          3600 IN A 192.0.2.1
ns1          3600 IN AAAA 2001:db8::1
mail         3600 IN A 192.0.2.25
www          300 IN A 192.0.2.80
www          300 IN A 192.0.2.81
www          300 IN AAAA 2001:db8::80
alias        300 IN CNAME www
chain1       300 IN CNAME chain2
chain2       300 IN CNAME www
loop1        300 IN CNAME loop2
loop2        300 IN CNAME loop1
dangling     300 IN CNAME nothere
outside      300 IN CNAME www.example.net.
*.wild       60 IN A 192.0.2.99
*.wild       60 IN MX 5 mail
*.cwild      60 IN CNAME www
deep.ent.x   300 IN A 192.0.2.7
sub          3600 IN NS ns.sub
sub          3600 IN NS ns.elsewhere.org.
ns.sub       3600 IN A 192.0.2.53
_sip._tcp    300 IN SRV 10 60 5060 mail
txt          300 IN TXT "hello" "world"
"""

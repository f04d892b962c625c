import DNSServer
import DNSWire
import DNSZone
import Foundation
import GSLB
import Testing

/// The zone every DNSServer test answers from: the shapes of Tests/DNSZoneTests' example zone plus
/// a 60-address RRset (`big`) that cannot fit 512 bytes.
enum ServerZone {
    static let origin: DNSName = "example.com."

    static func n(_ s: String) -> DNSName { DNSName(stringLiteral: s) }

    static func records() -> [ResourceRecord] {
        func rr(_ owner: String, _ ttl: UInt32, _ d: RData) -> ResourceRecord {
            ResourceRecord(owner: n(owner), ttl: ttl, d)
        }
        var out: [ResourceRecord] = [
            rr("example.com.", 3600, .soa(.init(mname: n("ns1.example.com."), rname: n("hostmaster.example.com."),
                                                serial: 2024010101, refresh: 7200, retry: 3600, expire: 1209600,
                                                minimum: 300))),
            rr("example.com.", 3600, .ns(n("ns1.example.com."))),
            rr("example.com.", 3600, .ns(n("ns2.other.net."))),
            rr("example.com.", 3600, .mx(preference: 10, exchange: n("mail.example.com."))),
            rr("ns1.example.com.", 3600, .a(IPv4Address(192, 0, 2, 1))),
            rr("ns1.example.com.", 3600, .aaaa(IPv6Address("2001:db8::1")!)),
            rr("mail.example.com.", 3600, .a(IPv4Address(192, 0, 2, 25))),
            rr("www.example.com.", 300, .a(IPv4Address(192, 0, 2, 80))),
            rr("www.example.com.", 300, .a(IPv4Address(192, 0, 2, 81))),
            rr("www.example.com.", 300, .aaaa(IPv6Address("2001:db8::80")!)),
            rr("alias.example.com.", 300, .cname(n("www.example.com."))),
            rr("*.wild.example.com.", 60, .a(IPv4Address(192, 0, 2, 99))),
            rr("sub.example.com.", 3600, .ns(n("ns.sub.example.com."))),
            rr("ns.sub.example.com.", 3600, .a(IPv4Address(192, 0, 2, 53))),
            rr("_sip._tcp.example.com.", 300, .srv(priority: 10, weight: 60, port: 5060, target: n("mail.example.com."))),
            rr("txt.example.com.", 300, .txt([Array("hello".utf8), Array("world".utf8)])),
        ]
        for i in 0..<60 { out.append(rr("big.example.com.", 300, .a(IPv4Address(198, 51, 100, UInt8(i))))) }
        return out
    }

    static func zone() throws -> Zone {
        var b = ZoneBuilder(origin: origin)
        try b.add(contentsOf: records())
        return try b.build()
    }

    static func responder(identity: String = "ns1.test", maxUDP: Int = 1232) throws -> QueryResponder {
        let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: [try zone()]), generation: 1))
        return QueryResponder(holder: holder,
                              configuration: ResponderConfiguration(identity: identity, maxUDPPayload: maxUDP))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension QueryResponder {
    /// Sends `query` and decodes the reply; throws when the query was dropped.
    func ask(_ query: DNSMessage, transport: Transport = .udp) throws -> (DNSMessage, [UInt8]) {
        guard let reply = respond(to: query.encode(), transport: transport) else { throw TestFailure("dropped") }
        return (try DNSMessage(decoding: reply), reply)
    }

    /// Checks that a plain query is answered correctly (the responder is not left in a bad state).
    func expectHealthy(id: UInt16 = 0x7777, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (m, _) = try ask(.query("www.example.com.", .a, id: id))
        #expect(m.header.id == id, sourceLocation: sourceLocation)
        #expect(m.rcode == .noError, sourceLocation: sourceLocation)
        #expect(m.header.aa && m.header.qr, sourceLocation: sourceLocation)
        #expect(m.answers.map(\.data) == [.a(IPv4Address(192, 0, 2, 80)), .a(IPv4Address(192, 0, 2, 81))],
                sourceLocation: sourceLocation)
    }
}

/// Test fixtures under Tests/Fixtures, found from this file's path.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func files(in dir: String) throws -> [(name: String, bytes: [UInt8])] {
        let url = root.appendingPathComponent(dir)
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".bin") }.sorted()
        return try names.map { ($0, Array(try Data(contentsOf: url.appendingPathComponent($0)))) }
    }
}


import DNSServer
import DNSWire
import DNSZone
import GSLB
import Testing

/// Issue 12: a global name always fits one TCP reply, and the plan never picks an address the
/// table did not render (which used to give NOERROR with no answer and no SOA, or TC=1 even over
/// TCP). Through the real responder, at the ceilings, with the worst case around the answer: the
/// longest question, a 255-byte NSID, Client Subnet /128.
@Suite struct ReplySizeCeilingTests {
    /// 255 bytes in wire form: three 63-byte labels, one of 49, then example.com.
    static func longName(_ first: Character) -> DNSName {
        let l63 = String(repeating: "x", count: 62)
        let name = "\(first)\(l63).\(String(repeating: "y", count: 63)).\(String(repeating: "z", count: 63)).\(String(repeating: "w", count: 49)).example.com."
        return DNSName(stringLiteral: name)
    }

    static let v4Name = longName("a")
    static let v6Name = longName("b")
    static let overName = DNSName(stringLiteral: "over.example.com.")

    /// Targets of 8 addresses each, RoundRobin (every address in every answer: the largest reply).
    static func plan(_ count: Int, family: AddressFamily) -> NamePlan {
        let inputs = stride(from: 0, to: count, by: 8).map { start in
            CandidateSet.Input(name: "t\(start)", addresses: (start..<min(start + 8, count)).map { i in
                (family == .ipv4 ? .v4(IPv4Address(value: 0x0A00_0000 + UInt32(i))) : .v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: UInt64(i))), true)
            })
        }
        return NamePlan(policy: RoundRobinPolicy(),
                        ipv4: CandidateSet(family: .ipv4, inputs: family == .ipv4 ? inputs : [], allDown: .failOpen),
                        ipv6: CandidateSet(family: .ipv6, inputs: family == .ipv6 ? inputs : [], allDown: .failOpen))
    }

    static func responder() throws -> QueryResponder {
        let named: [(DNSName, NamePlan)] = [
            (v4Name, plan(CandidateSet.maxAddresses(.ipv4), family: .ipv4)),
            (v6Name, plan(CandidateSet.maxAddresses(.ipv6), family: .ipv6)),
            (overName, plan(5000, family: .ipv4)),  // target FQDNs can resolve to this many
        ]
        let entries = named.map { $0.1.tableEntry(fqdn: $0.0, ttl: 30, zone: ServerZone.origin) }
        let state = ServingState(zones: ZoneSet(zones: [try ServerZone.zone()]), globals: GlobalNames(entries: entries, plans: named.map(\.1)),
                                  generation: 1)
        return QueryResponder(holder: ServingStateHolder(state),
                              configuration: ResponderConfiguration(identity: String(repeating: "n", count: 255), maxUDPPayload: 1232))
    }

    static func query(_ name: DNSName, _ type: RRType, edns: Bool = true) -> DNSMessage {
        let ecs = ClientSubnet(address: IPAddress("2001:db8:1:2:3:4:5:6")!, sourcePrefix: 128)
        return DNSMessage.query(name, type, edns: edns ? EDNS(udpPayloadSize: 1232, options: [
            EDNSOption(code: EDNSOptionCode.nsid, data: []),
            EDNSOption(code: EDNSOptionCode.clientSubnet, data: ecs.optionData),
        ]) : nil)
    }

    @Test func theCeilingsAreWhatTheTableRenders() {
        #expect(CandidateSet.maxAddresses(.ipv4) == GlobalNameTable.maxIPv4Records)
        #expect(CandidateSet.maxAddresses(.ipv6) == GlobalNameTable.maxIPv6Records)
        // The arithmetic behind "always fits": header, the longest question (255 + 4), OPT with a
        // 255-byte NSID and ECS /128, a 64-hop chain of CNAMEs with 255-byte targets, the records.
        let around = 12 + 259 + (11 + 4 + 255 + 8 + 16) + 64 * (2 + 10 + 255)
        #expect(around + GlobalNameTable.maxIPv4Records * GlobalNameTable.ipv4RecordSize <= 65535)
        #expect(around + GlobalNameTable.maxIPv6Records * GlobalNameTable.ipv6RecordSize <= 65535)
        // And the configurable spec limit cannot ask for more than a name answers.
        #expect(SpecLimits.ceilings.maxAddressesPerNameService <= CandidateSet.maxAddresses(.ipv4))
    }

    @Test(arguments: [(RRType.a, 2048), (.aaaa, 1536)])
    func atTheCeilingTCPCarriesEveryRecord(_ type: RRType, _ count: Int) throws {
        let r = try Self.responder()
        let name = type == .a ? Self.v4Name : Self.v6Name
        #expect(name.wire.count == 255)
        let (m, bytes) = try r.ask(Self.query(name, type), transport: .tcp)
        #expect(m.rcode == .noError && !m.header.tc)
        #expect(m.answers.count == count)
        #expect(Set(m.answers.map(\.data)).count == count, "every address once")
        #expect(bytes.count <= 65535)
        // The OPT record with the NSID and the ECS option made it too.
        #expect(m.edns?.option(EDNSOptionCode.nsid)?.data.count == 255)
        #expect(m.edns?.option(EDNSOptionCode.clientSubnet) != nil)
    }

    @Test(arguments: [(RRType.a, true), (.aaaa, true), (.a, false), (.aaaa, false)])
    func overUDPItTruncatesWholly(_ type: RRType, _ edns: Bool) throws {
        let r = try Self.responder()
        let (m, bytes) = try r.ask(Self.query(type == .a ? Self.v4Name : Self.v6Name, type, edns: edns), transport: .udp)
        #expect(m.rcode == .noError && m.header.tc, "TC=1: the client retries over TCP")
        #expect(m.answers.isEmpty, "whole RRset or nothing")
        #expect(bytes.count <= (edns ? 1232 : 512))
    }

    /// More addresses than a reply holds (target FQDNs resolving to 5,000): the plan keeps the
    /// ceiling, the table renders the same, and every answer has records (never an empty NOERROR).
    @Test func pastTheCeilingThePlanAndTheTableAgree() throws {
        let r = try Self.responder()
        let over = Self.plan(5000, family: .ipv4)
        #expect(over.ipv4.addressCount == 2048 && over.ipv4.droppedAddresses == 5000 - 2048)
        for _ in 0..<20 {
            let (m, _) = try r.ask(.query(Self.overName, .a), transport: .tcp)
            #expect(m.rcode == .noError && !m.header.tc && m.answers.count == 2048)
        }
        let (udp, _) = try r.ask(.query(Self.overName, .a), transport: .udp)
        #expect(udp.header.tc && udp.answers.isEmpty)
    }
}

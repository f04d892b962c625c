import CMallocCounter
import DNSServer
import DNSWire
import DNSZone
import GSLB
import Testing

/// The query path allocates nothing: each answer shape — static data, negative answers, CNAME
/// chains, every GSLB policy with and without ECS, IPv6, truncation, errors — is answered 1,000
/// times into a caller buffer (as the UDP and TCP handlers do), with the per-query counters on and
/// the query log off, while this thread's heap allocations are counted through an interposed malloc. The explain query is the one path that
/// may allocate (it builds text) and is not listed.
@Suite struct QueryPathAllocationTests {
    static let origin: DNSName = "example.com."

    static func responder() throws -> QueryResponder {
        var b = ZoneBuilder(origin: origin)
        func rr(_ owner: DNSName, _ ttl: UInt32, _ d: RData) -> ResourceRecord { ResourceRecord(owner: owner, ttl: ttl, d) }
        try b.add(contentsOf: [
            rr(origin, 3600, .soa(.init(mname: "ns1.example.com.", rname: "h.example.com.", serial: 1, refresh: 3600,
                                        retry: 600, expire: 86400, minimum: 300))),
            rr(origin, 3600, .ns("ns1.example.com.")),
            rr("ns1.example.com.", 3600, .a(IPv4Address(192, 0, 2, 1))),
            rr(origin, 3600, .mx(preference: 10, exchange: "ns1.example.com.")),
            rr("www.example.com.", 300, .a(IPv4Address(192, 0, 2, 80))),
            rr("www.example.com.", 300, .aaaa(IPv6Address("2001:db8::80")!)),
            rr("alias.example.com.", 300, .cname("www.example.com.")),
            rr("to-geo.example.com.", 300, .cname("geo.example.com.")),
            rr("*.wild.example.com.", 60, .a(IPv4Address(192, 0, 2, 99))),
            rr("sub.example.com.", 3600, .ns("ns.sub.example.com.")),
            rr("ns.sub.example.com.", 3600, .a(IPv4Address(192, 0, 2, 53))),
        ] + (0..<60).map { rr("big.example.com.", 300, .a(IPv4Address(198, 51, 100, UInt8($0)))) })
        let specs = [
            NameServiceSpec(fqdn: "geo.example.com.", policy: .locality, failover: [FailoverRule(from: "us-west", to: "us-east")],
                            targets: [Target(name: "w", addresses: ["192.0.2.11", "2001:db8::11"], locality: "us-west/us-west-1a"),
                                      Target(name: "e", addresses: ["192.0.2.21", "2001:db8::21"], locality: "us-east/us-east-1a")]),
            NameServiceSpec(fqdn: "rr.example.com.", policy: .roundRobin, maxAnswers: 2,
                            targets: (1...4).map { Target(name: "t\($0)", addresses: ["192.0.2.3\($0)"]) }),
            NameServiceSpec(fqdn: "ratio.example.com.", policy: .ratio,
                            targets: [Target(name: "a", addresses: ["192.0.2.41"], ratio: 99),
                                      Target(name: "b", addresses: ["192.0.2.42"], ratio: 1)]),
            // Draw without replacement: the weight tree's per-loop scratch, reused.
            NameServiceSpec(fqdn: "ratiok.example.com.", policy: .ratio, maxAnswers: 12,
                            targets: (0..<50).map { Target(name: "t\($0)", addresses: ["10.1.0.\($0)", "10.2.0.\($0)"], ratio: $0 + 1) }),
            // Failover resolved per client region at compile time (the client's region has no target).
            NameServiceSpec(fqdn: "far.example.com.", policy: .locality,
                            failover: (0..<40).map { FailoverRule(from: "us-east", to: "nowhere-\($0)") }
                                + [FailoverRule(from: "us-east", to: "eu")],
                            targets: [Target(name: "eu", addresses: ["192.0.2.61"], locality: "eu/eu-1a/r1"),
                                      Target(name: "ap", addresses: ["192.0.2.62"], locality: "ap")]),
            // Issue 15: distribute rules (a zone-level rule, a region rule and a catch-all) with a
            // health-adjusted bucket, and one whose buckets are all down (falls to failover).
            {
                var s = NameServiceSpec(fqdn: "dist.example.com.", policy: .locality,
                                        failover: [FailoverRule(from: "us-west", to: "eu")],
                                        targets: [Target(name: "w1", addresses: ["192.0.2.71", "2001:db8::71"], locality: "us-west/us-west-1a"),
                                                  Target(name: "w2", addresses: ["192.0.2.72"], locality: "us-west/us-west-1b"),
                                                  Target(name: "e", addresses: ["192.0.2.81", "2001:db8::81"], locality: "us-east/us-east-1a"),
                                                  Target(name: "eu", addresses: ["192.0.2.91"], locality: "eu/eu-1a")])
                s.distribute = [DistributeRule(from: "us-west/us-west-1a/*", to: ["us-west/*": 99, "us-east/*": 1]),
                                DistributeRule(from: "us-east", to: ["us-east/*": 70, "us-west/*": 20, "eu/*": 10]),
                                DistributeRule(from: "*", to: ["eu/*": 100])]
                return s
            }(),
        ]
        var entries: [GlobalNameTable.Entry] = []
        var plans: [NamePlan] = []
        // Every bucket of the us-west rule down (only eu is up): us-west clients fall to the failover rule.
        var westDown = specs.last!
        westDown.fqdn = "dist-down.example.com."
        let westDownPlan = NamePlan(spec: westDown, isHealthy: { t, _ in t == "eu" })!
        plans.append(westDownPlan)
        entries.append(westDownPlan.tableEntry(fqdn: "dist-down.example.com.", ttl: 30, zone: origin))
        for spec in specs {
            let plan = NamePlan(spec: spec)!
            plans.append(plan)
            entries.append(plan.tableEntry(fqdn: try DNSName(spec.fqdn), ttl: 30, zone: origin))
        }
        let down = NameServiceSpec(fqdn: "down.example.com.", allDown: .failClosed,
                                   targets: [Target(name: "a", addresses: ["192.0.2.51"])])
        let downPlan = NamePlan(spec: down, isHealthy: { _, _ in false })!
        plans.append(downPlan)
        entries.append(downPlan.tableEntry(fqdn: "down.example.com.", ttl: 30, zone: origin))
        let table = try LocalityTable(entries: [
            .init(cidr: "10.10.0.0/16", locality: "us-west/us-west-1a"),
            .init(cidr: "10.20.0.0/16", locality: "us-east/us-east-1a"),
            .init(cidr: "127.0.0.0/8", locality: "us-east/us-east-1a"),
            .init(cidr: "10.30.0.0/16", locality: "ap/ap-1a"),
            .init(cidr: "2001:db8:10::/48", locality: "us-west/us-west-1a"),
        ])
        let state = ServingState(zones: ZoneSet(zones: [try b.build()]), globals: GlobalNames(entries: entries, plans: plans),
                                  clients: ClientMapping(table: table, defaultLocality: nil), generation: 1)
        return QueryResponder(holder: ServingStateHolder(state),
                              configuration: ResponderConfiguration(identity: "ns1.test"), seed: 1)
    }

    static func ecs(_ address: String, _ prefix: UInt8) -> EDNS {
        EDNS(options: [EDNSOption(code: EDNSOptionCode.clientSubnet,
                                  data: ClientSubnet(address: IPAddress(address)!, sourcePrefix: prefix).optionData)])
    }

    static let cases: [(String, [UInt8])] = [
        ("static A", DNSMessage.query("www.example.com.", .a).encode()),
        ("static AAAA with EDNS and NSID", DNSMessage.query("www.example.com.", .aaaa, edns: EDNS(options: [EDNSOption(code: EDNSOptionCode.nsid, data: [])])).encode()),
        ("MX with additional", DNSMessage.query("example.com.", .mx).encode()),
        ("CNAME chain", DNSMessage.query("alias.example.com.", .a).encode()),
        ("wildcard", DNSMessage.query("x.wild.example.com.", .a).encode()),
        ("referral with glue", DNSMessage.query("host.sub.example.com.", .a).encode()),
        ("NXDOMAIN", DNSMessage.query("nope.example.com.", .a).encode()),
        ("NODATA", DNSMessage.query("www.example.com.", .txt).encode()),
        ("REFUSED", DNSMessage.query("www.example.org.", .a).encode()),
        ("truncated over UDP", DNSMessage.query("big.example.com.", .a).encode()),
        ("Locality, ECS v4", DNSMessage.query("geo.example.com.", .a, edns: ecs("10.10.1.0", 24)).encode()),
        ("Locality, ECS v6", DNSMessage.query("geo.example.com.", .aaaa, edns: ecs("2001:db8:10::", 56)).encode()),
        ("Locality, failover tier", DNSMessage.query("geo.example.com.", .a, edns: ecs("10.20.1.0", 24)).encode()),
        ("Locality, packet source", DNSMessage.query("geo.example.com.", .a).encode()),
        ("Locality, unmatched ECS", DNSMessage.query("geo.example.com.", .a, edns: ecs("192.0.2.0", 24)).encode()),
        ("CNAME into a Locality name", DNSMessage.query("to-geo.example.com.", .a, edns: ecs("10.10.1.0", 24)).encode()),
        ("RoundRobin with maxAnswers", DNSMessage.query("rr.example.com.", .a).encode()),
        ("Ratio", DNSMessage.query("ratio.example.com.", .a).encode()),
        ("Ratio with maxAnswers", DNSMessage.query("ratiok.example.com.", .a).encode()),
        ("Locality, compiled failover rule", DNSMessage.query("far.example.com.", .a, edns: ecs("10.20.1.0", 24)).encode()),
        ("FailClosed NODATA", DNSMessage.query("down.example.com.", .a).encode()),
        ("Locality distribute, ECS v4", DNSMessage.query("dist.example.com.", .a, edns: ecs("10.10.1.0", 24)).encode()),
        ("Locality distribute, ECS v6", DNSMessage.query("dist.example.com.", .aaaa, edns: ecs("2001:db8:10::", 56)).encode()),
        ("Locality distribute, packet source", DNSMessage.query("dist.example.com.", .a).encode()),
        ("Locality distribute, catch-all rule", DNSMessage.query("dist.example.com.", .a, edns: ecs("10.30.1.0", 24)).encode()),
        ("Locality distribute, every bucket down", DNSMessage.query("dist-down.example.com.", .a, edns: ecs("10.10.1.0", 24)).encode()),
        ("family NODATA", DNSMessage.query("rr.example.com.", .aaaa).encode()),
        ("CH id.server", DNSMessage.query("id.server.", .txt, qclass: .ch).encode()),
        ("ANY at a CNAME owner", DNSMessage.query("alias.example.com.", .any).encode()),
        ("ANY at a CNAME to a global name", DNSMessage.query("to-geo.example.com.", .any).encode()),
        ("QCLASS ANY", DNSMessage.query("alias.example.com.", .a, qclass: .any).encode()),
        ("CD set", { var m = DNSMessage.query("www.example.com.", .a); m.header.cd = true; return m.encode() }()),
        ("FORMERR", Array(DNSMessage.query("www.example.com.", .a).encode().dropLast())),
    ]

    @Test(arguments: cases.map(\.0))
    func answersWithoutAllocating(_ name: String) throws {
        let query = try #require(Self.cases.first { $0.0 == name }?.1)
        let responder = try Self.responder()
        let source = IPAddress.v4(IPv4Address(127, 0, 0, 1))
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
        defer { out.deallocate() }
        var lengths = 0
        try query.withUnsafeBytes { packet in
            // Warm up: lazily initialised statics and the snapshot cache.
            for _ in 0..<10 { lengths &+= responder.respond(to: packet, transport: .udp, source: source, into: out) }
            #expect(lengths > 0, "answered")
            let before = gd_thread_allocations()
            for _ in 0..<1_000 { lengths &+= responder.respond(to: packet, transport: .udp, source: source, into: out) }
            for _ in 0..<100 { lengths &+= responder.respond(to: packet, transport: .tcp, source: source, into: out) }
            let allocations = gd_thread_allocations() - before
            #expect(allocations == 0, "\(name): \(allocations) heap allocations in 1,100 queries (UDP and TCP)")
            // The reply is what it should be (a wrong answer that allocates nothing proves nothing).
            let n = responder.respond(to: packet, transport: .udp, source: source, into: out)
            let reply = try DNSMessage(decoding: Array(UnsafeRawBufferPointer(rebasing: out[0..<n])))
            #expect(reply.header.id == 0x1234)
            // Counting was on (the default) for every one of them.
            #expect(responder.stats.totalQueries == 1_111)
        }
    }

    @Test func theCounterSeesAllocations() {
        let before = gd_thread_allocations()
        let array = [UInt8](repeating: 1, count: 1000 + Int(before % 7))
        #expect(gd_thread_allocations() > before)
        #expect(array.count >= 1000)
    }
}

import DNSServer
import DNSWire
import DNSZone
import GSLB
import Testing

/// Global names answered by policy through the real responder: the plan compiled from specs, the
/// localities table, ECS in and out, the packet source, and the explain query. Policy internals
/// (every tier, fallback and weight) are table-tested in GSLBTests; these check the wiring.
@Suite struct GSLBAnsweringTests {
    static let localities: [LocalityTable.Entry] = [
        .init(cidr: "10.10.0.0/16", locality: "us-west/us-west-1a/rack1"),
        .init(cidr: "10.11.0.0/16", locality: "us-west/us-west-1b"),
        .init(cidr: "10.20.0.0/16", locality: "us-east/us-east-1a"),
        .init(cidr: "10.20.128.0/17", locality: "us-east/us-east-1b"),
        .init(cidr: "2001:db8:10::/48", locality: "us-west/us-west-1a/rack1"),
        .init(cidr: "2001:db8:20::/48", locality: "us-east/us-east-1a"),
        .init(cidr: "127.0.0.2/32", locality: "us-east/us-east-1a"),
        .init(cidr: "127.0.0.3/32", locality: "eu-central/eu-central-1a"),
        .init(cidr: "127.0.0.4/32", locality: "us-west/us-west-1b"),
    ]

    static let geo = NameServiceSpec(
        fqdn: "geo.example.com.", ttl: 20, policy: .locality, failover: [FailoverRule(from: "us-west", to: "us-east")],
        targets: [
            Target(name: "w1a", addresses: ["192.0.2.11", "2001:db8::11"], locality: "us-west/us-west-1a/rack1"),
            Target(name: "w1b", addresses: ["192.0.2.12"], locality: "us-west/us-west-1b"),
            Target(name: "e1a", addresses: ["192.0.2.21", "2001:db8::21"], locality: "us-east/us-east-1a"),
            Target(name: "eu", addresses: ["192.0.2.31"], locality: "eu-central/eu-central-1a"),
        ])
    /// No us-west target: us-west clients take the failover rule to eu-central, not "any".
    static let far = NameServiceSpec(
        fqdn: "far.example.com.", policy: .locality, failover: [FailoverRule(from: "us-west", to: "eu-central")],
        targets: [
            Target(name: "e1a", addresses: ["192.0.2.21"], locality: "us-east/us-east-1a"),
            Target(name: "eu", addresses: ["192.0.2.31"], locality: "eu-central/eu-central-1a"),
        ])
    static let rr = NameServiceSpec(
        fqdn: "rr.example.com.", policy: .roundRobin,
        targets: [Target(name: "a", addresses: ["192.0.2.1", "192.0.2.2"]), Target(name: "b", addresses: ["192.0.2.3"])])
    static let capped = NameServiceSpec(
        fqdn: "capped.example.com.", policy: .roundRobin, maxAnswers: 2,
        targets: (1...5).map { Target(name: "t\($0)", addresses: ["192.0.2.\(40 + $0)"]) })
    static let canary = NameServiceSpec(
        fqdn: "canary.example.com.", policy: .ratio,
        targets: [Target(name: "stable", addresses: ["192.0.2.51"], ratio: 99),
                  Target(name: "canary", addresses: ["192.0.2.52"], ratio: 1)])
    static let split = NameServiceSpec(
        fqdn: "split.example.com.", policy: .ratio,
        targets: [Target(name: "a", addresses: ["192.0.2.61", "192.0.2.62"], ratio: 70),
                  Target(name: "b", addresses: ["192.0.2.63"], ratio: 20),
                  Target(name: "c", addresses: ["192.0.2.64"], ratio: 10)])
    static let many = NameServiceSpec(
        fqdn: "many.example.com.", policy: .roundRobin,
        targets: (0..<100).map { Target(name: "t\($0)", addresses: ["198.18.0.\($0)"]) })

    /// Compiles specs the way the reconciler does (every target healthy) and serves them.
    static func responder(_ specs: [NameServiceSpec] = [geo, far, rr, capped, canary, split, many],
                          defaultLocality: String? = nil, extra: [(NameServiceSpec, NamePlan)] = [],
                          seed: UInt64 = 7) throws -> QueryResponder {
        var entries: [GlobalNameTable.Entry] = []
        var plans: [NamePlan] = []
        for spec in specs {
            let plan = try #require(NamePlan(spec: spec))
            plans.append(plan)
            entries.append(plan.tableEntry(fqdn: try DNSName(spec.fqdn), ttl: UInt32(spec.ttl), zone: ServerZone.origin))
        }
        for (spec, plan) in extra {
            plans.append(plan)
            entries.append(plan.tableEntry(fqdn: try DNSName(spec.fqdn), ttl: UInt32(spec.ttl), zone: ServerZone.origin))
        }
        let mapping = ClientMapping(table: try LocalityTable(entries: localities),
                                    defaultLocality: try defaultLocality.map { try Locality($0) })
        let state = ServingState(zones: ZoneSet(zones: [try ServerZone.zone()]), globals: GlobalNames(entries: entries, plans: plans),
                                  clients: mapping, generation: 1)
        return QueryResponder(holder: ServingStateHolder(state), configuration: ResponderConfiguration(identity: "t"),
                              seed: seed)
    }

    struct Reply {
        var message: DNSMessage
        var addresses: [String]
        /// The reply's ECS option, nil when it carries none.
        var ecs: ClientSubnet?
    }

    static func ask(_ r: QueryResponder, _ name: String, _ type: RRType = .a, ecs: String? = nil,
                    source: String = "127.0.0.1", qclass: RRClass = .in) throws -> Reply {
        var edns: EDNS?
        if let ecs {
            let parts = ecs.split(separator: "/")
            let subnet = ClientSubnet(address: try #require(IPAddress(parts[0])), sourcePrefix: try #require(UInt8(parts[1])))
            edns = EDNS(options: [EDNSOption(code: EDNSOptionCode.clientSubnet, data: subnet.optionData)])
        }
        let q = DNSMessage.query(try DNSName(name), type, qclass: qclass, edns: edns).encode()
        let from = try #require(IPAddress(source))
        let bytes = try #require(r.respond(to: q, source: from))
        let m = try DNSMessage(decoding: bytes)
        let replyECS = try m.edns?.option(EDNSOptionCode.clientSubnet).map { try ClientSubnet(optionData: $0.data, isQuery: false) }
        let addresses = m.answers.compactMap { rr -> String? in
            switch rr.data {
            case .a(let a): a.description
            case .aaaa(let a): a.description
            default: nil
            }
        }
        return Reply(message: m, addresses: addresses, ecs: replyECS)
    }

    // MARK: - Locality

    @Test(arguments: [
        // ECS subnet, family, expected addresses, expected scope
        ("10.10.5.0/24", RRType.a, ["192.0.2.11"], UInt8(16)),          // same subzone
        ("10.11.0.0/16", .a, ["192.0.2.12"], 16),                        // same zone (1b target)
        ("10.20.5.0/24", .a, ["192.0.2.21"], 17),                        // /16 entry, but a /17 sits beside: scope 17
        ("10.20.200.0/24", .a, ["192.0.2.21"], 17),                      // us-east-1b client: same region
        ("2001:db8:10:ab::/64", .aaaa, ["2001:db8::11"], 48),           // v6 ECS
        ("2001:db8:20::/56", .aaaa, ["2001:db8::21"], 48),
        ("10.10.0.0/12", .a, ["192.0.2.11", "192.0.2.12", "192.0.2.21", "192.0.2.31"], 12), // too coarse to match
    ])
    func ecsClientsGetTheirLocalTargets(_ subnet: String, _ type: RRType, _ expected: [String], _ scope: UInt8) throws {
        let r = try Self.responder()
        let reply = try Self.ask(r, "geo.example.com.", type, ecs: subnet)
        #expect(reply.message.rcode == .noError && reply.message.header.aa)
        #expect(reply.addresses.sorted() == expected.sorted())
        #expect(reply.message.answers.allSatisfy { $0.ttl == 20 })
        let ecs = try #require(reply.ecs, "an ECS query gets ECS back")
        #expect(ecs.scopePrefix == scope, "scope for \(subnet)")
        #expect(ecs.sourcePrefix == UInt8(subnet.split(separator: "/")[1]))
    }

    @Test func clientsWithoutECSAreMappedBySourceAddressAndGetNoECS() throws {
        let r = try Self.responder()
        let east = try Self.ask(r, "geo.example.com.", source: "127.0.0.2")
        #expect(east.addresses == ["192.0.2.21"])
        #expect(east.ecs == nil && east.message.edns == nil)
        let eu = try Self.ask(r, "geo.example.com.", source: "127.0.0.3")
        #expect(eu.addresses == ["192.0.2.31"])
        // Source prefix 0 means "do not use my subnet": the packet source decides, scope 0.
        let zero = try Self.ask(r, "geo.example.com.", ecs: "0.0.0.0/0", source: "127.0.0.3")
        #expect(zero.addresses == ["192.0.2.31"])
        #expect(zero.ecs?.scopePrefix == 0)
        // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let mapped = try Self.ask(r, "geo.example.com.", source: "::ffff:127.0.0.2")
        #expect(mapped.addresses == ["192.0.2.21"])
    }

    @Test func failoverRuleBeforeAnyTarget() throws {
        let r = try Self.responder()
        let west = try Self.ask(r, "far.example.com.", ecs: "10.10.1.0/24")
        #expect(west.addresses == ["192.0.2.31"], "us-west has no target; failover names eu-central")
        // A us-east client is served locally.
        #expect(try Self.ask(r, "far.example.com.", ecs: "10.20.1.0/24").addresses == ["192.0.2.21"])
    }

    @Test func unmatchedClientsUseTheDefaultLocalityElseEveryone() throws {
        let noDefault = try Self.responder()
        let all = try Self.ask(noDefault, "geo.example.com.", source: "192.0.2.200")
        #expect(all.addresses.count == 4)
        let withDefault = try Self.responder(defaultLocality: "eu-central")
        #expect(try Self.ask(withDefault, "geo.example.com.", source: "192.0.2.200").addresses == ["192.0.2.31"])
        #expect(try Self.ask(withDefault, "geo.example.com.", ecs: "192.0.2.0/24").addresses == ["192.0.2.31"])
    }

    // MARK: - RoundRobin and Ratio

    @Test func roundRobinRotatesOnePositionPerQueryWithScopeZero() throws {
        let r = try Self.responder()
        var seen: [[String]] = []
        for _ in 0..<3 { seen.append(try Self.ask(r, "rr.example.com.").addresses) }
        #expect(Set(seen.map { $0.sorted() }) == [["192.0.2.1", "192.0.2.2", "192.0.2.3"]])
        #expect(seen[1] == Array(seen[0].dropFirst()) + [seen[0][0]])
        #expect(seen[2] == Array(seen[1].dropFirst()) + [seen[1][0]])
        #expect(Set(seen.map { $0[0] }).count == 3, "each address leads once in three queries")
        let ecs = try Self.ask(r, "rr.example.com.", ecs: "10.10.0.0/16")
        #expect(ecs.ecs?.scopePrefix == 0, "the answer does not depend on the client")
        let capped = try Self.ask(r, "capped.example.com.")
        #expect(capped.addresses.count == 2)
    }

    @Test(arguments: [
        ("canary.example.com.", ["192.0.2.51": 0.99, "192.0.2.52": 0.01]),
        ("split.example.com.", ["192.0.2.61": 0.70, "192.0.2.63": 0.20, "192.0.2.64": 0.10]),
    ])
    func ratioSharesOver100kQueries(_ name: String, _ shares: [String: Double]) async throws {
        let r = try Self.responder(seed: 42)
        var counts: [String: Int] = [:]
        let n = 100_000
        let query = DNSMessage.query(try DNSName(name), .a).encode()
        for i in 0..<n {
            if i % 1000 == 999 { await Task.yield() }  // CPU-bound: leave the shared test threads to others
            let m = try DNSMessage(decoding: try #require(r.respond(to: query)))
            guard case .a(let first)? = m.answers.first?.data else { Issue.record("no answer"); return }
            // A target's addresses travel together: key by the target's first address.
            let key = first.description == "192.0.2.62" ? "192.0.2.61" : first.description
            counts[key, default: 0] += 1
        }
        for (address, share) in shares {
            let got = Double(counts[address, default: 0]) / Double(n)
            #expect(abs(got - share) < 0.01, "\(address): \(got) vs \(share)")
        }
    }

    @Test func ratioKeepsATargetsAddressesTogether() throws {
        let r = try Self.responder()
        for _ in 0..<200 {
            let a = try Self.ask(r, "split.example.com.").addresses.sorted()
            #expect(a == ["192.0.2.61", "192.0.2.62"] || a == ["192.0.2.63"] || a == ["192.0.2.64"])
        }
    }

    // MARK: - Families, all-down, size

    @Test func aFamilyWithoutAddressesIsNoData() throws {
        let r = try Self.responder()
        let reply = try Self.ask(r, "rr.example.com.", .aaaa)
        #expect(reply.message.rcode == .noError && reply.addresses.isEmpty)
        #expect(reply.message.authority.map(\.type) == [.soa])
        let mx = try Self.ask(r, "geo.example.com.", .mx)
        #expect(mx.message.rcode == .noError && mx.message.answers.isEmpty)
    }

    @Test(arguments: [AllDownBehavior.failOpen, .failClosed])
    func allTargetsDown(_ behaviour: AllDownBehavior) throws {
        let spec = NameServiceSpec(fqdn: "down.example.com.", allDown: behaviour,
                                   targets: [Target(name: "a", addresses: ["192.0.2.71"]),
                                             Target(name: "b", addresses: ["192.0.2.72"])])
        let plan = try #require(NamePlan(spec: spec, isHealthy: { _, _ in false }))
        let r = try Self.responder([], extra: [(spec, plan)])
        let reply = try Self.ask(r, "down.example.com.")
        #expect(reply.message.rcode == .noError)
        if behaviour == .failOpen {
            #expect(reply.addresses.sorted() == ["192.0.2.71", "192.0.2.72"])
        } else {
            #expect(reply.addresses.isEmpty)
            #expect(reply.message.authority.map(\.type) == [.soa])
        }
    }

    @Test func tooManyAddressesForUDPTruncateAndFitTCP() throws {
        let r = try Self.responder()
        let q = DNSMessage.query("many.example.com.", .a).encode()
        let udp = try DNSMessage(decoding: try #require(r.respond(to: q, transport: .udp)))
        #expect(udp.header.tc && udp.answers.isEmpty)
        let tcp = try DNSMessage(decoding: try #require(r.respond(to: q, transport: .tcp)))
        #expect(!tcp.header.tc && tcp.answers.count == 100)
    }

    @Test func aStaticCNAMEToAGlobalNameIsAnsweredByItsPolicy() throws {
        var entries: [GlobalNameTable.Entry] = []
        var plans: [NamePlan] = []
        let spec = Self.geo
        let plan = try #require(NamePlan(spec: spec))
        plans.append(plan)
        entries.append(plan.tableEntry(fqdn: "geo.example.com.", ttl: 20, zone: ServerZone.origin))
        var b = ZoneBuilder(origin: ServerZone.origin)
        try b.add(contentsOf: ServerZone.records() + [ResourceRecord(owner: "to-geo.example.com.", ttl: 300,
                                                                     .cname("geo.example.com."))])
        let state = ServingState(zones: ZoneSet(zones: [try b.build()]), globals: GlobalNames(entries: entries, plans: plans),
                                  clients: ClientMapping(table: try LocalityTable(entries: Self.localities),
                                                                      defaultLocality: nil), generation: 1)
        let r = QueryResponder(holder: ServingStateHolder(state), configuration: ResponderConfiguration(identity: "t"))
        let reply = try Self.ask(r, "to-geo.example.com.", ecs: "10.20.1.0/24")
        #expect(reply.message.answers.first?.type == .cname)
        #expect(reply.addresses == ["192.0.2.21"])
        #expect(reply.ecs?.scopePrefix == 17)
    }

    // MARK: - Explain

    @Test func explainTellsTheDecision() throws {
        let r = try Self.responder()
        let reply = try Self.ask(r, "geo.example.com.", .txt, ecs: "10.10.0.0/16", qclass: .ch)
        #expect(reply.message.rcode == .noError && reply.message.header.aa)
        let texts = reply.message.answers.map { rr -> [String] in
            guard case .txt(let strings) = rr.data else { return [] }
            return strings.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(reply.message.answers.allSatisfy { $0.rrClass == .ch && $0.ttl == 0 })
        #expect(texts.count == 2, "one record per family with candidates")
        let a = try #require(texts.first)
        #expect(a == ["family=A", "policy=Locality", "client=10.10.0.0 from=ecs/16",
                      "locality=us-west/us-west-1a/rack1 (matched /16)", "tier=same-subzone",
                      "healthy=4/4 mode=healthy", "scope=16", "chosen=192.0.2.11"])
        #expect(texts[1].first == "family=AAAA")
        #expect(texts[1].last == "chosen=2001:db8::11")
        #expect(reply.ecs?.scopePrefix == 16)

        let bySource = try Self.ask(r, "geo.example.com.", .txt, source: "127.0.0.2", qclass: .ch)
        let strings = bySource.message.answers.first.flatMap { rr -> [String]? in
            guard case .txt(let s) = rr.data else { return nil }
            return s.map { String(decoding: $0, as: UTF8.self) }
        } ?? []
        #expect(strings.contains("client=127.0.0.2 from=source"))
        #expect(strings.contains("locality=us-east/us-east-1a (matched /32)"))

        let rrExplain = try Self.ask(r, "canary.example.com.", .txt, qclass: .ch)
        #expect(rrExplain.message.answers.count == 1)
    }

    /// Drained targets are not candidates (the reconciler leaves them out); explain names them
    /// so that `healthy=1/1` is not mistaken for a one-target NameService.
    @Test func explainNamesDrainedTargets() throws {
        let spec = NameServiceSpec(fqdn: "drained.example.com", ttl: 30,
                                   targets: [Target(name: "a", addresses: ["192.0.2.71"])])
        let inputs = [CandidateSet.Input(name: "a", addresses: [(IPAddress("192.0.2.71")!, true)])]
        let plan = NamePlan(policy: RoundRobinPolicy(),
                            ipv4: CandidateSet(family: .ipv4, inputs: inputs, allDown: .failOpen, drained: ["b", "c"]),
                            ipv6: CandidateSet(family: .ipv6, inputs: inputs, allDown: .failOpen, drained: ["b", "c"]))
        let r = try Self.responder([], extra: [(spec, plan)])
        let reply = try Self.ask(r, "drained.example.com.", .txt, qclass: .ch)
        let texts = reply.message.answers.map { rr -> [String] in
            guard case .txt(let strings) = rr.data else { return [] }
            return strings.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(texts == [["family=A", "policy=RoundRobin", "client=127.0.0.1 from=source", "locality=- (none)",
                           "tier=all", "healthy=1/1 mode=healthy", "scope=0", "chosen=192.0.2.71", "drained=b,c"]])
        #expect(try Self.ask(r, "drained.example.com.").addresses == ["192.0.2.71"])
    }

    @Test func explainIsRefusedOutsideTheAllowListAndForStaticNames() throws {
        let r = try Self.responder()
        // The allow-list checks the packet source; an ECS address proves nothing.
        let outside = try Self.ask(r, "geo.example.com.", .txt, ecs: "127.0.0.0/8", source: "10.10.1.1", qclass: .ch)
        #expect(outside.message.rcode == .refused && outside.message.answers.isEmpty)
        #expect(r.stats.explainRefused == 1)
        #expect(try Self.ask(r, "www.example.com.", .txt, qclass: .ch).message.rcode == .refused)
        #expect(try Self.ask(r, "geo.example.com.", .a, qclass: .ch).message.rcode == .refused)
        #expect(try Self.ask(r, "id.server.", .txt, qclass: .ch).message.rcode == .noError)
    }
}

import DNSServer
import DNSWire
import DNSZone
import Testing

/// Global names (compiled NameServices) answered from the plan, alongside static data.
@Suite struct GlobalNameTests {
    let responder: QueryResponder

    init() throws {
        let zone = try makeZone(exampleZoneText + "\nto-global 300 IN CNAME checkout\n", origin: origin)
        let globals = GlobalNames(entries: [
            .init(fqdn: "checkout.example.com.", ttl: 30,
                  ipv4: [IPv4Address("10.0.0.1")!, IPv4Address("10.0.0.2")!], ipv6: [IPv6Address("2001:db8::7")!],
                  zone: origin),
            .init(fqdn: "api.apps.example.com.", ttl: 20, ipv4: [], ipv6: [IPv6Address("2001:db8::9")!], zone: origin),
        ])
        let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: [zone]), globals: globals, generation: 1))
        responder = QueryResponder(holder: holder, configuration: ResponderConfiguration(identity: "t"))
    }

    @Test func addressesOfEachFamily() throws {
        let a = try responder.ask("checkout.example.com.", .a)
        #expect(a.rcode == .noError && a.header.aa)
        // Without a compiled plan a name answers RoundRobin: every address, rotated per query.
        #expect(a.answers.map(render).sorted() == ["checkout.example.com. 30 A 10.0.0.1", "checkout.example.com. 30 A 10.0.0.2"])
        let next = try responder.ask("checkout.example.com.", .a)
        #expect(next.answers.map(render) == Array(a.answers.map(render).reversed()))
        let aaaa = try responder.ask("CheckOut.Example.COM.", .aaaa)
        #expect(aaaa.answers.map(render) == ["checkout.example.com. 30 AAAA 2001:db8::7"])
        #expect(aaaa.answers.first?.owner.wire == DNSName("CheckOut.Example.COM.").wire)
    }

    @Test func missingFamilyAndOtherTypesAreNoData() throws {
        for (name, type) in [("api.apps.example.com.", RRType.a), ("checkout.example.com.", .mx), ("checkout.example.com.", .cname)] {
            let r = try responder.ask(try DNSName(name), type)
            #expect(r.rcode == .noError)
            #expect(r.answers.isEmpty)
            #expect(r.authority.map(\.type) == [.soa])
        }
    }

    @Test func namesAboveAGlobalNameExist() throws {
        let r = try responder.ask("apps.example.com.", .a)
        #expect(r.rcode == .noError)
        #expect(r.authority.map(\.type) == [.soa])
        #expect(try responder.ask("below.checkout.example.com.", .a).rcode == .nxDomain)
    }

    @Test func aStaticCNAMEReachesAGlobalName() throws {
        let r = try responder.ask("to-global.example.com.", .a)
        let rendered = r.answers.map(render)
        #expect(rendered.first == "to-global.example.com. 300 CNAME checkout.example.com.")
        #expect(rendered.dropFirst().sorted() == ["checkout.example.com. 30 A 10.0.0.1", "checkout.example.com. 30 A 10.0.0.2"])
    }

    @Test func anyIsOneFamily() throws {
        #expect(try responder.ask("checkout.example.com.", .any).answers.map(\.type) == [.a, .a])
        #expect(try responder.ask("api.apps.example.com.", .any).answers.map(\.type) == [.aaaa])
    }

    @Test func staticDataIsUnchanged() throws {
        #expect(try responder.ask("www.example.com.", .a).answers.count == 2)
        #expect(try responder.ask("nope.example.com.", .a).rcode == .nxDomain)
    }
}

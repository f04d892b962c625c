import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// GSLB answering end to end: NameServices applied over the API, answered by policy to dig and
/// kdig clients that differ by EDNS Client Subnet, by source address (127.0.0.x) and by family.
extension IntegrationSuite {
    @Suite("GSLB answering") struct GSLBAnswering {
        /// Localities the server is started with. Clients are told apart by ECS (10.x, 2001:db8:x::)
        /// or, without ECS, by the loopback address they send from.
        static let config = """
            localities:
              - {cidr: 127.0.0.2/32, locality: us-west/us-west-1a}
              - {cidr: 127.0.0.3/32, locality: us-east/us-east-1a}
              - {cidr: 127.0.0.4/32, locality: eu-central/eu-central-1a}
              - {cidr: 10.10.0.0/16, locality: us-west/us-west-1a}
              - {cidr: 10.20.0.0/16, locality: us-east/us-east-1a}
              - {cidr: 10.30.0.0/16, locality: eu-central/eu-central-1a}
              - {cidr: "2001:db8:10::/48", locality: us-west/us-west-1a}
              - {cidr: "2001:db8:20::/48", locality: us-east/us-east-1a}
              - {cidr: "::1/128", locality: eu-central/eu-central-1a}
            explain:
              allow: [127.0.0.1/32, "::1/128"]
            """

        static func checkout(westTargets: Bool = true) -> String {
            var targets = """
                  - {name: gw-us-east-1a, addresses: [192.0.2.20, "2001:db8:20::1"], locality: us-east/us-east-1a}
                  - {name: gw-eu-central-1a, addresses: [192.0.2.30, "2001:db8:30::1"], locality: eu-central/eu-central-1a}

                """
            if westTargets {
                targets = """
                      - {name: gw-us-west-1a, addresses: [192.0.2.10, "2001:db8:10::1"], locality: us-west/us-west-1a}

                    """ + targets
            }
            return """
                apiVersion: globaldns.io/v1alpha1
                kind: NameService
                metadata: {name: checkout}
                spec:
                  fqdn: checkout.g.example.com
                  ttl: 30
                  policy: Locality
                  failover: [{from: us-west, to: us-east}, {from: us-east, to: eu-central}]
                  targets:

                """ + targets
        }

        static let canary = """
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata: {name: search}
            spec:
              fqdn: search.g.example.com
              policy: Ratio
              targets:
              - {name: stable, addresses: [192.0.2.50, 192.0.2.51], ratio: 9}
              - {name: canary, addresses: [192.0.2.52], ratio: 1}

            """

        static let roundRobin = """
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata: {name: pool}
            spec:
              fqdn: pool.g.example.com
              policy: RoundRobin
              targets:
              - {name: a, addresses: [192.0.2.61]}
              - {name: b, addresses: [192.0.2.62]}
              - {name: c, addresses: [192.0.2.63]}

            """

        func apply(_ server: RunningServer, _ name: String, _ yaml: String) throws {
            let code = try httpPut(port: server.apiPort, path: "/v1/nameservices/\(name)", yaml: yaml)
            #expect(code / 100 == 2, "PUT \(name): HTTP \(code)")
        }

        func options() throws -> GlobalDNSOptions {
            var o = try GlobalDNSOptions()
            o.extraConfig = Self.config
            return o
        }

        /// `dig +short` lines, sorted.
        func short(_ server: RunningServer, _ args: [String], client: DNSClient = .dig, ipv6: Bool = false) async throws -> [String] {
            let q = ipv6 ? server.querierIPv6 : server.querier
            let out = try await q.run(client, args + ["+short"])
            return out.text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") && !$0.isEmpty }.sorted()
        }

        /// Polls until `args` prints `expected`, bounded.
        func eventually(_ server: RunningServer, _ args: [String], _ expected: [String], within: Duration = .seconds(5)) async throws {
            let deadline = ContinuousClock.now + within
            var last: [String] = []
            while ContinuousClock.now < deadline {
                last = try await short(server, args)
                if last == expected.sorted() { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw HarnessError("\(args.joined(separator: " ")): expected \(expected.sorted()), got \(last)\n\(server.log)")
        }

        @Test("each locality's +subnet gets its local VIPs, with the matched prefix as ECS scope (dig and kdig, v4 and v6)")
        func ecsClients() async throws {
            try await withGlobalDNS(try options()) { server in
                try apply(server, "checkout", Self.checkout())
                try await eventually(server, ["checkout.g.example.com", "A", "+subnet=10.10.1.0/24"], ["192.0.2.10"])
                for client in [DNSClient.dig, .kdig] {
                    for (subnet, vip) in [("10.10.1.0/24", "192.0.2.10"), ("10.20.7.0/24", "192.0.2.20"), ("10.30.0.0/16", "192.0.2.30")] {
                        let m = try await server.querier.query("checkout.g.example.com", "A", ["+subnet=\(subnet)"], client: client)
                        #expect(m.status == "NOERROR" && m.flags.contains("aa"))
                        #expect(m.answer.map(\.rdata) == [vip], "\(client) +subnet=\(subnet)")
                        #expect(m.edns?.clientSubnet == "\(subnet)/16", "\(client): scope is the matched /16")
                    }
                    let v6 = try await server.querier.query("checkout.g.example.com", "AAAA", ["+subnet=2001:db8:20:5::/64"], client: client)
                    #expect(v6.answer.map(\.rdata) == ["2001:db8:20::1"])
                    #expect(v6.edns?.clientSubnet == "2001:db8:20:5::/64/48")
                }
            }
        }

        @Test("without ECS the source address decides: dig -b 127.0.0.x, and ::1 over IPv6")
        func sourceAddressClients() async throws {
            try await withGlobalDNS(try options()) { server in
                try apply(server, "checkout", Self.checkout())
                try await eventually(server, ["-b", "127.0.0.2", "checkout.g.example.com", "A"], ["192.0.2.10"])
                #expect(try await short(server, ["-b", "127.0.0.3", "checkout.g.example.com", "A"]) == ["192.0.2.20"])
                #expect(try await short(server, ["-b", "127.0.0.4", "checkout.g.example.com", "A"]) == ["192.0.2.30"])
                #expect(try await short(server, ["-b", "127.0.0.4", "checkout.g.example.com", "A"], client: .kdig) == ["192.0.2.30"])
                // ::1 is eu-central.
                #expect(try await short(server, ["checkout.g.example.com", "AAAA"], ipv6: true) == ["2001:db8:30::1"])
                // No ECS in the query: none in the reply.
                let m = try await server.querier.query("checkout.g.example.com", "A", ["-b", "127.0.0.3"])
                #expect(m.edns?.clientSubnet == nil)
                // A client no entry matches (127.0.0.9, no default locality) gets every target.
                #expect(try await short(server, ["-b", "127.0.0.9", "checkout.g.example.com", "A"]).count == 3)
            }
        }

        @Test("removing the local targets moves clients to the failover tier; restoring them moves them back")
        func failover() async throws {
            try await withGlobalDNS(try options()) { server in
                try apply(server, "checkout", Self.checkout())
                try await eventually(server, ["checkout.g.example.com", "A", "+subnet=10.10.0.0/16"], ["192.0.2.10"])
                try apply(server, "checkout", Self.checkout(westTargets: false))
                // us-west → us-east by the first failover rule (not "any": eu-central stays out).
                try await eventually(server, ["checkout.g.example.com", "A", "+subnet=10.10.0.0/16"], ["192.0.2.20"])
                try await eventually(server, ["-b", "127.0.0.2", "checkout.g.example.com", "A"], ["192.0.2.20"])
                #expect(try await short(server, ["checkout.g.example.com", "A", "+subnet=10.30.0.0/16"]) == ["192.0.2.30"])
                try apply(server, "checkout", Self.checkout())
                try await eventually(server, ["checkout.g.example.com", "A", "+subnet=10.10.0.0/16"], ["192.0.2.10"])
            }
        }

        @Test("the explain query tells policy, client, locality, tier, counts, scope and choice; others are refused")
        func explain() async throws {
            try await withGlobalDNS(try options()) { server in
                try apply(server, "checkout", Self.checkout())
                try await eventually(server, ["checkout.g.example.com", "A", "+subnet=10.20.0.0/16"], ["192.0.2.20"])
                let out = try await server.querier.run(.dig, ["checkout.g.example.com", "CH", "TXT", "+subnet=10.20.0.0/16"])
                let m = try #require(out.messages.last)
                #expect(m.status == "NOERROR" && m.flags.contains("aa"))
                let a = try #require(m.answer.first { $0.rdata.contains("family=A\"") })
                for part in ["\"policy=Locality\"", "\"client=10.20.0.0 from=ecs/16\"",
                             "\"locality=us-east/us-east-1a (matched /16)\"", "\"tier=same-zone\"",
                             "\"healthy=3/3 mode=healthy\"", "\"scope=16\"", "\"chosen=192.0.2.20\""] {
                    #expect(a.rdata.contains(part), "missing \(part) in \(a.rdata)")
                }
                #expect(a.rrClass == "CH")
                // kdig asks the same way.
                let k = try await server.querier.run(.kdig, ["-c", "CH", "-t", "TXT", "checkout.g.example.com", "+subnet=10.10.0.0/16"])
                #expect(k.text.contains("chosen=192.0.2.10"), "\(k.text)")
                // 127.0.0.2 is not in this server's allow-list (127.0.0.1/32, ::1).
                let refused = try await server.querier.query("checkout.g.example.com", "TXT", ["-c", "CH", "-b", "127.0.0.2"])
                #expect(refused.status == "REFUSED" && refused.answer.isEmpty)
                // Static names have nothing to explain.
                let stat = try await server.querier.query("www.g.example.com", "TXT", ["-c", "CH"])
                #expect(stat.status == "REFUSED")
            }
        }

        @Test("RoundRobin rotates every address; Ratio answers one target's addresses per reply")
        func roundRobinAndRatio() async throws {
            try await withGlobalDNS(try options()) { server in
                try apply(server, "pool", Self.roundRobin)
                try apply(server, "search", Self.canary)
                try await eventually(server, ["pool.g.example.com", "A"], ["192.0.2.61", "192.0.2.62", "192.0.2.63"])
                var firsts = Set<String>()
                for _ in 0..<6 {
                    let m = try await server.querier.query("pool.g.example.com", "A")
                    if let first = m.answer.first?.rdata { firsts.insert(first) }
                }
                #expect(firsts.count >= 2, "the first answer rotates")
                var replies: [String: Int] = [:]
                for _ in 0..<40 {
                    replies[(try await short(server, ["search.g.example.com", "A"])).joined(separator: ","), default: 0] += 1
                }
                #expect(Set(replies.keys).isSubset(of: ["192.0.2.50,192.0.2.51", "192.0.2.52"]), "\(replies)")
                #expect(replies["192.0.2.50,192.0.2.51", default: 0] > 20)
            }
        }

        @Test("a target naming another NameService follows it; SIGHUP reloads the localities")
        func fqdnTargetAndLocalityReload() async throws {
            try await withGlobalDNS(try options()) { server in
                try apply(server, "pool", Self.roundRobin)
                try apply(server, "front", """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: front}
                    spec:
                      fqdn: front.g.example.com
                      targets:
                      - {name: pool, fqdn: pool.g.example.com}
                      - {name: web, fqdn: www.g.example.com}

                    """)
                let www = try await short(server, ["www.g.example.com", "A"])
                #expect(!www.isEmpty)
                try await eventually(server, ["front.g.example.com", "A"], ["192.0.2.61", "192.0.2.62", "192.0.2.63"] + www)
                try apply(server, "pool", Self.roundRobin.replacingOccurrences(of: "192.0.2.63", with: "192.0.2.64"))
                try await eventually(server, ["front.g.example.com", "A"], ["192.0.2.61", "192.0.2.62", "192.0.2.64"] + www)

                // Rewrite the localities: 127.0.0.2 moves to eu-central; SIGHUP applies it.
                try apply(server, "checkout", Self.checkout())
                try await eventually(server, ["-b", "127.0.0.2", "checkout.g.example.com", "A"], ["192.0.2.10"])
                let configURL = server.scratch.appendingPathComponent("globaldns.yaml")
                let text = try String(contentsOf: configURL, encoding: .utf8)
                try text.replacingOccurrences(of: "{cidr: 127.0.0.2/32, locality: us-west/us-west-1a}",
                                              with: "{cidr: 127.0.0.2/32, locality: eu-central/eu-central-1a}")
                    .write(to: configURL, atomically: true, encoding: .utf8)
                server.process.send(signal: SIGHUP)
                try await eventually(server, ["-b", "127.0.0.2", "checkout.g.example.com", "A"], ["192.0.2.30"])
                // A broken table keeps the one being served.
                try text.replacingOccurrences(of: "10.30.0.0/16", with: "10.30.0.0/99").write(to: configURL, atomically: true, encoding: .utf8)
                server.process.send(signal: SIGHUP)
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await short(server, ["-b", "127.0.0.2", "checkout.g.example.com", "A"]) == ["192.0.2.30"])
                #expect(server.log.contains("configuration reload failed") && server.log.contains("localities[5].cidr"),
                        "the broken file is not reported with its key path:\n\(server.log)")
            }
        }

        static func upstreamZone(serial: Int, address: String) -> String {
            """
            $ORIGIN example.net.
            $TTL 1
            @    3600 IN SOA ns.example.net. h.example.net. \(serial) 3600 600 86400 1
            @    3600 IN NS  ns.example.net.
            ns   3600 IN A   192.0.2.253
            gw      1 IN A   \(address)
            gw      1 IN AAAA 2001:db8:77::1
            alias   1 IN CNAME gw

            """
        }

        @Test("a target FQDN outside the zones is resolved through the upstream resolver (a real knotd) and followed when it changes")
        func upstreamTargetFQDN() async throws {
            try await withKnot(zones: ["example.net.zone": Self.upstreamZone(serial: 1, address: "192.0.2.77")], identity: nil) { knot in
                var o = try GlobalDNSOptions()
                o.extraConfig = Self.config + """

                    upstream:
                      resolvers: ["127.0.0.1:\(knot.address.port)"]
                      timeoutSeconds: 1
                      minRefreshSeconds: 1
                      maxRefreshSeconds: 2
                      retryAfterFailureSeconds: 1
                    """
                try await withGlobalDNS(o) { server in
                    try apply(server, "ext", """
                        apiVersion: globaldns.io/v1alpha1
                        kind: NameService
                        metadata: {name: ext}
                        spec:
                          fqdn: ext.g.example.com
                          targets:
                          - {name: gw, fqdn: alias.example.net}
                          - {name: gone, fqdn: missing.example.net}

                        """)
                    try await eventually(server, ["ext.g.example.com", "A"], ["192.0.2.77"])
                    #expect(try await short(server, ["ext.g.example.com", "AAAA"]) == ["2001:db8:77::1"])
                    // The status is written after the plan that answers: describe until it catches up.
                    var described = ""
                    try await IntegrationTests.eventually("describe shows gw up and gone's NXDOMAIN", within: .seconds(10)) {
                        described = try await runCommand(try TestEnvironment.executableNextToTests("globaldnsctl"),
                                                         ["describe", "--server", server.apiURL, "ext"], scratch: server.scratch).stdout
                        return described.contains("SomeTargetsDown")
                    }
                    #expect(described.contains("NXDOMAIN from 127.0.0.1:\(knot.address.port)"), "\(described)")

                    // The upstream name changes address: the answer follows within the refresh bounds.
                    try Self.upstreamZone(serial: 2, address: "192.0.2.78")
                        .write(to: knot.zoneDirectory.appendingPathComponent("example.net.zone"), atomically: true, encoding: .utf8)
                    let reload = try await runCommand(try findTool("knotc"),
                                                      ["-s", knot.scratch.appendingPathComponent("knot.sock").path, "zone-reload", "example.net."],
                                                      scratch: server.scratch)
                    #expect(reload.exitCode == 0, "\(reload.stderr)")
                    try await eventually(server, ["ext.g.example.com", "A"], ["192.0.2.78"], within: .seconds(10))
                }
            }
        }
    }
}

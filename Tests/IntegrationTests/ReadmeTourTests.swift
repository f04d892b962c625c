import Foundation
import Testing

/// Issue 14: every command of the README's two tours is run against the server `make run` starts
/// (the repository's `config/globaldns.yaml`, `zones/` and `config/nameservices/`, on free loopback
/// ports) and what the README says it shows is checked, so the docs cannot drift from the code.
/// A row added to the dig tour without a check here fails the test, as does a check whose row is gone.
extension IntegrationSuite {
    @Suite("README tours") struct ReadmeTour {
        static var repository: URL {
            TestEnvironment.fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
        }

        static func readme() throws -> String {
            try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        }

        /// The first code span of each row of the dig tour's table.
        static func digRows(_ readme: String) throws -> [String] {
            let start = try #require(readme.range(of: "## A five-minute tour with dig"))
            let end = try #require(readme.range(of: "## A five-minute tour of the control plane"))
            return readme[start.upperBound..<end.lowerBound].split(separator: "\n").compactMap { line in
                guard line.hasPrefix("| `"), let open = line.firstIndex(of: "`") else { return nil }
                let rest = line[line.index(after: open)...]
                guard let close = rest.firstIndex(of: "`") else { return nil }
                return String(rest[..<close])
            }
        }

        /// The server as `make run` starts it, with the example NameServices applied.
        func withTourServer(_ body: (RunningServer) async throws -> Void) async throws {
            let scratch = try TestEnvironment.makeScratchDirectory("readme")
            defer { TestEnvironment.removeScratch(scratch) }
            let port = try TestEnvironment.freePort(), apiPort = try TestEnvironment.freePort()
            let repo = Self.repository
            let process = try ChildProcess(
                name: "globaldns", executable: try TestEnvironment.globalDNSExecutable(),
                arguments: ["--config", repo.appendingPathComponent("config/globaldns.yaml").path,
                            "--dns-listen", "127.0.0.1:\(port)", "--api-listen", "127.0.0.1:\(apiPort)",
                            "--state", scratch.appendingPathComponent("state").path],
                logDirectory: scratch)
            let server = RunningServer(name: "globaldns", process: process, address: ServerAddress(host: "127.0.0.1", port: port),
                                       scratch: scratch, zoneDirectory: repo.appendingPathComponent("zones"), apiPort: Int(apiPort))
            do {
                try await waitUntilAnswering(server, timeout: .seconds(30))
                let applied = try await ctl(server, ["apply", "-f", repo.appendingPathComponent("config/nameservices").path])
                #expect(applied.exitCode == 0, "\(applied.stdout)\(applied.stderr)")
                try await eventually("the example NameServices answer", within: .seconds(10)) {
                    try await server.querier.query("search.g.example.com").answer.contains { $0.type == "A" }
                }
                try await body(server)
                await process.stop()
            } catch {
                await process.stop()
                throw error
            }
        }

        typealias Check = @Sendable (DNSQuerier) async throws -> Void

        /// What each dig row claims, checked. Keys are the rows' commands exactly as written.
        static let digChecks: [String: Check] = [
            "dig @127.0.0.1 -p 8053 www.g.example.com": { q in
                let m = try await q.query("www.g.example.com")
                #expect(m.flags.contains("aa") && m.answer.filter { $0.type == "A" }.count == 2, "\(m)")
            },
            "dig … docs.g.example.com": { q in
                let m = try await q.query("docs.g.example.com")
                #expect(m.answer.filter { $0.type == "CNAME" }.map(\.name) == ["docs.g.example.com.", "portal.g.example.com."], "\(m)")
                #expect(m.answer.contains { $0.type == "A" && $0.name == "www.g.example.com." }, "\(m)")
            },
            "dig … anything.static.g.example.com": { q in
                let m = try await q.query("anything.static.g.example.com")
                #expect(m.status == "NOERROR" && !m.answer.isEmpty && m.answer.allSatisfy { $0.name == "anything.static.g.example.com." }, "\(m)")
            },
            "dig … lb.internal.g.example.com": { q in
                let m = try await q.query("lb.internal.g.example.com")
                #expect(m.status == "NOERROR" && m.answer.isEmpty && m.authority.contains { $0.type == "SOA" }, "\(m)")
            },
            "dig … nope.g.example.com": { q in
                let m = try await q.query("nope.g.example.com")
                let soa = try #require(m.authority.first { $0.type == "SOA" })
                let minimum = UInt32(soa.rdata.split(separator: " ").last ?? "") ?? 0
                #expect(m.status == "NXDOMAIN" && soa.ttl <= minimum, "\(m)")
            },
            "dig … host.sub.g.example.com": { q in
                let m = try await q.query("host.sub.g.example.com")
                #expect(!m.flags.contains("aa") && m.authority.contains { $0.type == "NS" }
                        && m.additional.contains { $0.type == "A" || $0.type == "AAAA" }, "\(m)")
            },
            "dig … www.example.org": { q in
                let m = try await q.query("www.example.org")
                #expect(m.status == "REFUSED", "\(m)")
            },
            "dig … g.example.com ANY": { q in
                for transport in [Transport.udp, .tcp] {
                    let m = try await q.query("g.example.com", "ANY", transport: transport)
                    #expect(!m.answer.isEmpty && Set(m.answer.map(\.type)).count == 1, "\(transport): \(m)")
                }
            },
            "dig … big-txt.g.example.com TXT +bufsize=512 +ignore": { q in
                let m = try await q.query("big-txt.g.example.com", "TXT", ["+bufsize=512", "+ignore"])
                #expect(m.flags.contains("tc"), "\(m)")
                let full = try await q.query("big-txt.g.example.com", "TXT", transport: .tcp)
                #expect(full.answer.filter { $0.type == "TXT" }.count == 4, "\(full)")
            },
            "dig … www.g.example.com +nsid": { q in
                let m = try await q.query("www.g.example.com", "A", ["+nsid"])
                #expect(m.edns?.nsid?.contains("globaldns-dev-1") == true, "\(m)")
            },
            "dig … www.g.example.com +subnet=10.1.2.0/24": { q in
                let m = try await q.query("www.g.example.com", "A", ["+subnet=10.1.2.0/24"])
                #expect(m.edns?.clientSubnet == "10.1.2.0/24/0", "\(m)")
            },
            "dig … checkout.g.example.com +subnet=10.30.0.0/24": { q in
                let m = try await q.query("checkout.g.example.com", "A", ["+subnet=10.30.0.0/24"])
                #expect(m.answer.map(\.rdata) == ["203.0.113.10"] && m.edns?.clientSubnet == "10.30.0.0/24/16", "\(m)")
            },
            "dig -b 127.0.0.1 … checkout.g.example.com": { q in
                let m = try await q.query("checkout.g.example.com", "A", ["-b", "127.0.0.1"])
                #expect(m.answer.map(\.rdata) == ["192.0.2.10"], "\(m)")
            },
            "dig … checkout.g.example.com CH TXT": { q in
                let text = try await q.query("checkout.g.example.com", "TXT", ["-c", "CH"]).answer.map(\.rdata).joined(separator: " ")
                for word in ["policy", "client", "locality", "tier", "scope", "chosen"] {
                    #expect(text.contains(word), "explain lacks \(word): \(text)")
                }
            },
            "dig … search.g.example.com": { q in
                var counts: [String: Int] = [:]
                for _ in 0..<200 {
                    for r in try await q.query("search.g.example.com").answer where r.type == "A" { counts[r.rdata, default: 0] += 1 }
                }
                #expect(Set(counts.keys).isSubset(of: ["192.0.2.20", "192.0.2.21"]) && counts["192.0.2.20", default: 0] >= 185, "\(counts)")
            },
            "dig … orders.g.example.com +subnet=10.10.0.0/24": { q in
                var counts: [String: Int] = [:]
                for _ in 0..<200 {
                    let m = try await q.query("orders.g.example.com", "A", ["+subnet=10.10.0.0/24"])
                    #expect(m.edns?.clientSubnet == "10.10.0.0/24/16", "\(m)")
                    for r in m.answer where r.type == "A" { counts[r.rdata, default: 0] += 1 }
                }
                #expect(Set(counts.keys).isSubset(of: ["192.0.2.110", "198.51.100.110"]) && counts["192.0.2.110", default: 0] >= 185, "\(counts)")
            },
            "dig … site.docs.g.example.com": { q in
                let m = try await q.query("site.docs.g.example.com")
                let www = try await q.query("www.g.example.com").answer.filter { $0.type == "A" }.map(\.rdata)
                let addresses = Set(m.answer.filter { $0.type == "A" }.map(\.rdata))
                #expect(Set(www).isSubset(of: addresses) && addresses.count > www.count, "\(m)")
            },
            "dig … id.server CH TXT": { q in
                for name in ["id.server", "hostname.bind"] {
                    let m = try await q.query(name, "TXT", ["-c", "CH"])
                    #expect(m.answer.first?.rdata == "\"globaldns-dev-1\"", "\(name): \(m)")
                }
            },
            "dig … www.g.example.com +edns=1 +noednsneg": { q in
                let m = try await q.query("www.g.example.com", "A", ["+edns=1", "+noednsneg"])
                #expect(m.status == "BADVERS", "\(m)")
            },
            "dig … g.example.com SOA +opcode=notify": { q in
                let m = try await q.query("g.example.com", "SOA", ["+opcode=notify"])
                #expect(m.status == "NOTIMP", "\(m)")
            },
        ]

        @Test("every row of the README's dig tour shows what it says, against make run's configuration")
        func digTour() async throws {
            let rows = try Self.digRows(try Self.readme())
            #expect(Set(rows) == Set(Self.digChecks.keys),
                    "rows without a check: \(Set(rows).subtracting(Self.digChecks.keys)); checks without a row: \(Set(Self.digChecks.keys).subtracting(rows))")
            try await withTourServer { server in
                for row in rows {
                    guard let check = Self.digChecks[row] else { continue }
                    try await check(server.querier)
                }
            }
        }

        @Test("the README's control-plane tour: get, describe, a refused manifest, delete")
        func controlPlaneTour() async throws {
            let readme = try Self.readme()
            let tour = try #require(readme.range(of: "## A five-minute tour of the control plane"))
            let text = String(readme[tour.upperBound...])
            /// The lines of the first fenced block after `marker`.
            func block(after marker: String) throws -> [String] {
                let at = try #require(text.range(of: marker))
                let open = try #require(text.range(of: "```\n", range: at.upperBound..<text.endIndex))
                let close = try #require(text.range(of: "```", range: open.upperBound..<text.endIndex))
                return text[open.upperBound..<close.lowerBound].split(separator: "\n").map {
                    $0.trimmingCharacters(in: .whitespaces)
                }.filter { !$0.isEmpty }
            }
            func words(_ line: String) -> [Substring] { line.split(separator: " ", omittingEmptySubsequences: true) }
            try await withTourServer { server in
                // get: the table the README prints
                let shown = try block(after: "from the repository root")
                #expect(shown.first == "$ .build/release/globaldnsctl get")
                try await eventually("every example NameService Ready", within: .seconds(10)) {
                    try await ctl(server, ["get"]).stdout.split(separator: "\n").dropFirst().allSatisfy { $0.hasSuffix("True") }
                }
                let got = try await ctl(server, ["get"]).stdout.split(separator: "\n").map(String.init)
                #expect(got.map(words) == shown.dropFirst().map(words), "\(got)")

                // describe: the four conditions
                let described = try await ctl(server, ["describe", "checkout"]).stdout
                for condition in ["Accepted", "Programmed", "Healthy", "Ready"] {
                    #expect(described.contains("    \(condition) "), "\(described)")
                }

                // a refused manifest: the output the README shows, line by line ("..." ends a line early)
                let expected = try block(after: "An\n   invalid spec")
                let bad = server.scratch.appendingPathComponent("bad.yaml")
                try """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: checkout}
                    spec:
                      fqdn: checkout.g.example.com
                      ttl: 100000
                      targets: [{name: a, addresses: [10.0.0.999]}]

                    """.write(to: bad, atomically: true, encoding: .utf8)
                let r = try await ctl(server, ["apply", "-f", bad.path])
                #expect(r.exitCode == 1)
                let printed = r.stderr.replacingOccurrences(of: bad.path, with: "bad.yaml")
                    .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                #expect(expected.first == "$ .build/release/globaldnsctl apply -f bad.yaml")
                #expect(printed.count == expected.count - 1, "\(r.stderr)")
                for (line, claim) in zip(printed, expected.dropFirst()) {
                    let prefix = claim.hasSuffix("...") ? String(claim.dropLast(3)).trimmingCharacters(in: .whitespaces) : claim
                    #expect(claim.hasSuffix("...") ? line.hasPrefix(prefix) : line == claim, "printed \(line), README \(claim)")
                }

                // delete: NXDOMAIN
                #expect(try await ctl(server, ["delete", "checkout"]).exitCode == 0)
                try await eventually("checkout NXDOMAIN", within: .seconds(10)) {
                    try await server.querier.query("checkout.g.example.com").status == "NXDOMAIN"
                }
            }
        }
    }
}

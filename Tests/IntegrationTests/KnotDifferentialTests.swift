import Foundation
import Testing

/// One query of the differential test: dig arguments after `+norec +noall +comments +question
/// +answer +authority +additional`.
struct DiffQuery: Sendable, CustomStringConvertible {
    var arguments: [String]
    var compare: Comparison = .exact

    enum Comparison: Sendable, Equatable {
        /// rcode, aa, tc, EDNS version/DO/size and the three sections as sets of records.
        case exact
        /// ANY: Knot answers with a single RRset of the name (RFC 8482 §4.2, over UDP and TCP alike),
        /// and which one is not specified. Compare rcode and flags, and require a non-empty answer
        /// made only of records owned by the query name.
        case anyQuery
    }

    init(_ arguments: String, _ compare: Comparison = .exact) {
        self.arguments = arguments.split(separator: " ").map(String.init)
        self.compare = compare
    }

    var description: String { arguments.joined(separator: " ") }
}

/// Names × types of Tests/Fixtures/knot-diff.zone (origin g.example.com.).
let differentialQueries: [DiffQuery] = [
    // apex
    DiffQuery("g.example.com. SOA"),
    DiffQuery("g.example.com. NS"),
    DiffQuery("g.example.com. MX"),  // Knot adds the in-zone A/AAAA of the MX target as additional
    DiffQuery("g.example.com. TXT"),
    DiffQuery("g.example.com. A"),  // NODATA at the apex
    DiffQuery("g.example.com. ANY", .anyQuery),
    // plain names
    DiffQuery("www.g.example.com. A"),
    DiffQuery("www.g.example.com. AAAA"),
    DiffQuery("www.g.example.com. TXT"),
    DiffQuery("www.g.example.com. MX"),
    DiffQuery("www.g.example.com. ANY", .anyQuery),
    DiffQuery("www.g.example.com. ANY +tcp", .anyQuery),
    DiffQuery("ns1.g.example.com. AAAA"),
    DiffQuery("mail.g.example.com. A"),
    // case variants (the question must echo the query's case; owner names compare case-insensitively)
    DiffQuery("WwW.G.ExAmPlE.CoM. A"),
    DiffQuery("WWW.G.EXAMPLE.COM. AAAA"),
    DiffQuery("Foo.WILD.g.example.com. A"),
    // CNAME
    DiffQuery("alias.g.example.com. A"),
    DiffQuery("alias.g.example.com. CNAME"),
    DiffQuery("alias.g.example.com. TXT"),
    DiffQuery("chain1.g.example.com. AAAA"),
    DiffQuery("dangling.g.example.com. A"),  // CNAME to a name that does not exist: NXDOMAIN + CNAME
    DiffQuery("external.g.example.com. A"),  // CNAME out of the zone: the CNAME alone
    // wildcards
    DiffQuery("foo.wild.g.example.com. A"),
    DiffQuery("foo.wild.g.example.com. TXT"),
    DiffQuery("foo.wild.g.example.com. AAAA"),  // NODATA through the wildcard
    DiffQuery("a.b.wild.g.example.com. A"),  // several labels below the wildcard
    DiffQuery("exists.wild.g.example.com. A"),
    DiffQuery("exists.wild.g.example.com. TXT"),  // an existing name is not covered by the wildcard
    DiffQuery("x.wcname.g.example.com. A"),  // wildcard CNAME
    DiffQuery("x.wcname.g.example.com. CNAME"),
    // empty non-terminals
    DiffQuery("ent.g.example.com. A"),
    DiffQuery("b.ent.g.example.com. TXT"),
    DiffQuery("a.b.ent.g.example.com. A"),
    DiffQuery("x.ent.g.example.com. A"),
    // delegation
    DiffQuery("sub.g.example.com. NS"),
    DiffQuery("sub.g.example.com. A"),
    DiffQuery("sub.g.example.com. DS"),  // DS is answered by the parent side: NODATA, AA set
    DiffQuery("host.sub.g.example.com. A"),
    DiffQuery("ns.sub.g.example.com. A"),  // glue is not authoritative data: a referral
    DiffQuery("deep.host.sub.g.example.com. AAAA"),
    // negative
    DiffQuery("nope.g.example.com. A"),
    DiffQuery("nope.nope.g.example.com. TXT"),
    // sizes
    DiffQuery("big.g.example.com. TXT"),
    DiffQuery("big.g.example.com. TXT +bufsize=512 +ignore"),
    // DO bit
    DiffQuery("www.g.example.com. A +dnssec"),
    DiffQuery("nope.g.example.com. A +dnssec"),
    DiffQuery("host.sub.g.example.com. A +dnssec"),
    // over TCP
    DiffQuery("www.g.example.com. A +tcp"),
    DiffQuery("nope.g.example.com. A +tcp"),
    DiffQuery("host.sub.g.example.com. A +tcp"),
    // not ours
    DiffQuery("www.example.org. A"),
    DiffQuery("com. SOA"),
    DiffQuery("example.com. NS"),
    // CD set in the query: an authoritative server clears it in the reply (RFC 4035 §3.1.6), on
    // answers, negative answers, referrals, REFUSED and class CH alike
    DiffQuery("www.g.example.com. A +cdflag"),
    DiffQuery("nope.g.example.com. A +cdflag"),
    DiffQuery("www.g.example.com. MX +cdflag"),
    DiffQuery("host.sub.g.example.com. A +cdflag"),
    DiffQuery("www.example.org. A +cdflag"),
    DiffQuery("www.g.example.com. A +cdflag +tcp"),
    DiffQuery("id.server. CH TXT +cdflag"),
    // ANY at a CNAME owner: the CNAME alone, the chain is not followed (RFC 8482 minimal ANY)
    DiffQuery("alias.g.example.com. ANY"),
    DiffQuery("chain1.g.example.com. ANY"),
    DiffQuery("dangling.g.example.com. ANY"),
    DiffQuery("external.g.example.com. ANY"),
    DiffQuery("x.wcname.g.example.com. ANY"),
    DiffQuery("alias.g.example.com. ANY +tcp"),
    // QCLASS ANY (255): answered as IN (AA, records of class IN; referrals, NXDOMAIN and REFUSED
    // as for IN)
    DiffQuery("www.g.example.com. CLASS255 A"),
    DiffQuery("g.example.com. CLASS255 MX"),
    DiffQuery("nope.g.example.com. CLASS255 A"),
    DiffQuery("www.g.example.com. CLASS255 MX"),
    DiffQuery("alias.g.example.com. CLASS255 A"),
    DiffQuery("foo.wild.g.example.com. CLASS255 A"),
    DiffQuery("host.sub.g.example.com. CLASS255 A"),
    DiffQuery("www.example.org. CLASS255 A"),
    DiffQuery("g.example.com. CLASS255 AXFR"),
    DiffQuery("www.g.example.com. CLASS255 ANY", .anyQuery),
    DiffQuery("id.server. CLASS255 TXT"),
    DiffQuery("www.g.example.com. HS A"),  // other classes stay REFUSED
    // class CH identity: the TXT answer with AA clear; other types (ANY too) REFUSED
    DiffQuery("id.server. CH TXT"),
    DiffQuery("hostname.bind. CH TXT"),
    DiffQuery("ID.Server. CH TXT"),
    DiffQuery("id.server. CH TXT +tcp"),
    DiffQuery("id.server. CH ANY"),
    DiffQuery("hostname.bind. CH A"),
    DiffQuery("nothing.example. CH TXT"),
]

/// A message reduced to what two correct servers must agree on. Knot's RD/RA echo and its EDE
/// option (e.g. "20 (Not Authoritative)" on REFUSED) are left out on purpose.
struct ComparableAnswer: Equatable, CustomStringConvertible {
    var status: String
    var aa: Bool
    var tc: Bool
    /// Checking Disabled: an authoritative server clears it (RFC 4035 §3.1.6).
    var cd: Bool
    var edns: String
    var question: [String]
    var answer: Set<PrintedRecord>
    var authority: Set<PrintedRecord>
    var additional: Set<PrintedRecord>

    init(_ message: DigMessage) {
        status = message.status
        aa = message.aa
        tc = message.tc
        cd = message.flags.contains("cd")
        if let e = message.edns {
            edns = "version \(e.version.map(String.init) ?? "?") flags [\(e.flags.sorted().joined(separator: " "))] udp \(e.udpSize.map(String.init) ?? "?")"
        } else {
            edns = "none"
        }
        question = message.question
        answer = normalizedSet(message.answer)
        authority = normalizedSet(message.authority)
        additional = normalizedSet(message.additional)
    }

    var description: String {
        """
        status \(status) aa \(aa) tc \(tc) cd \(cd) edns \(edns)
          question:   \(question.joined(separator: " | "))
          answer:     \(show(answer))
          authority:  \(show(authority))
          additional: \(show(additional))
        """
    }

    /// Line-by-line differences, reference first.
    static func diff(reference: ComparableAnswer, candidate: ComparableAnswer) -> String {
        var lines: [String] = []
        func field(_ name: String, _ a: String, _ b: String) {
            if a != b { lines.append("  \(name): knot \(a) | globaldns \(b)") }
        }
        field("status", reference.status, candidate.status)
        field("aa", "\(reference.aa)", "\(candidate.aa)")
        field("tc", "\(reference.tc)", "\(candidate.tc)")
        field("cd", "\(reference.cd)", "\(candidate.cd)")
        field("edns", reference.edns, candidate.edns)
        field("question", reference.question.joined(separator: " | "), candidate.question.joined(separator: " | "))
        for section in DigMessage.Section.allCases {
            let a = reference[section], b = candidate[section]
            for record in a.subtracting(b).map(\.description).sorted() { lines.append("  \(section) - \(record)   (only knot)") }
            for record in b.subtracting(a).map(\.description).sorted() { lines.append("  \(section) + \(record)   (only globaldns)") }
        }
        return lines.joined(separator: "\n")
    }

    subscript(section: DigMessage.Section) -> Set<PrintedRecord> {
        switch section {
        case .answer: answer
        case .authority: authority
        case .additional: additional
        }
    }
}

extension IntegrationSuite {
    @Suite("Knot differential")
    struct KnotDifferential {
        @Test("globaldns answers the fixture zone exactly like Knot DNS")
        func sameAnswersAsKnot() async throws {
            let zone = try String(contentsOf: TestEnvironment.fixtureZone, encoding: .utf8)
            let zones = [Fixture.zoneFileName: zone]
            let options = try GlobalDNSOptions(zones: zones)
            try await withKnot(zones: zones) { knot in
                try await withGlobalDNS(options) { globaldns in
                    var differences: [String] = []
                    for query in differentialQueries {
                        let args = ["+norec", "+noall", "+comments", "+question", "+answer", "+authority",
                                    "+additional"] + query.arguments
                        let reference = try await knot.querier.run(.dig, args).message()
                        let candidate = try await globaldns.querier.run(.dig, args).message()
                        let a = ComparableAnswer(reference), b = ComparableAnswer(candidate)
                        switch query.compare {
                        case .exact:
                            if a != b {
                                differences.append("dig \(query):\n\(ComparableAnswer.diff(reference: a, candidate: b))")
                            }
                        case .anyQuery:
                            let owner = query.arguments[0].lowercased()
                            var problems: [String] = []
                            if a.status != b.status { problems.append("  status: knot \(a.status) | globaldns \(b.status)") }
                            if a.aa != b.aa || a.tc != b.tc || a.cd != b.cd {
                                problems.append("  flags: knot aa \(a.aa) tc \(a.tc) cd \(a.cd) | globaldns aa \(b.aa) tc \(b.tc) cd \(b.cd)")
                            }
                            if b.answer.isEmpty || b.answer.contains(where: { $0.name != owner }) {
                                problems.append("  answer must be non-empty and owned by \(owner):\n    \(show(b.answer))")
                            }
                            if !problems.isEmpty { differences.append("dig \(query):\n" + problems.joined(separator: "\n")) }
                        }
                    }
                    #expect(differences.isEmpty, """
                        \(differences.count) of \(differentialQueries.count) answers differ from Knot (the reference):
                        \(differences.joined(separator: "\n\n"))
                        """)
                }
            }
        }

        /// The harness itself: two knotd on the same zone agree on every query, and a one-record
        /// change in the second zone shows up as a readable difference, so a difference found above
        /// is globaldns' and not noise of the comparison.
        @Test("the comparison is stable and sensitive: Knot against Knot")
        func knotAgainstKnot() async throws {
            let zone = try String(contentsOf: TestEnvironment.fixtureZone, encoding: .utf8)
            let changed = zone.replacingOccurrences(of: "www             A       192.0.2.2",
                                                    with: "www             A       192.0.2.3")
            try #require(changed != zone, "the fixture's www A 192.0.2.2 line moved; update this test")
            let args = ["+norec", "+noall", "+comments", "+question", "+answer", "+authority", "+additional"]
            try await withKnot(zones: [Fixture.zoneFileName: zone]) { first in
                try await withKnot(zones: [Fixture.zoneFileName: zone]) { same in
                    for query in differentialQueries where query.compare == .exact {
                        let a = ComparableAnswer(try await first.querier.run(.dig, args + query.arguments).message())
                        let b = ComparableAnswer(try await same.querier.run(.dig, args + query.arguments).message())
                        #expect(a == b, "dig \(query):\n\(ComparableAnswer.diff(reference: a, candidate: b))")
                    }
                }
                try await withKnot(zones: [Fixture.zoneFileName: changed]) { other in
                    let query = ["www.g.example.com.", "A"]
                    let a = ComparableAnswer(try await first.querier.run(.dig, args + query).message())
                    let b = ComparableAnswer(try await other.querier.run(.dig, args + query).message())
                    let diff = ComparableAnswer.diff(reference: a, candidate: b)
                    #expect(a != b)
                    #expect(diff.contains("answer - www.g.example.com. 3600 IN A 192.0.2.2   (only knot)"), "\(diff)")
                    #expect(diff.contains("answer + www.g.example.com. 3600 IN A 192.0.2.3   (only globaldns)"), "\(diff)")
                }
            }
        }
    }
}

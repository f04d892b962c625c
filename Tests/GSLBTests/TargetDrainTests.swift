import Foundation
import GSLB
import Testing

/// Operator drains: in force until their expiry, then lifted by themselves; their wire form.
@Suite struct TargetDrainTests {
    static let now = WallTime(secondsSinceEpoch: 1_738_324_800)

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var until: Int64?      // seconds after `now`; nil: no expiry
        var at: Int64          // seconds after `now`
        var active: Bool
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no expiry, now", until: nil, at: 0, active: true),
        Case(name: "no expiry, a year on", until: nil, at: 31_536_000, active: true),
        Case(name: "expiry ahead", until: 60, at: 0, active: true),
        Case(name: "one second before expiry", until: 60, at: 59, active: true),
        Case(name: "at expiry: lifted", until: 60, at: 60, active: false),
        Case(name: "after expiry: lifted", until: 60, at: 61, active: false),
        Case(name: "expiry already past when written", until: -1, at: 0, active: false),
    ]

    @Test(arguments: cases)
    func activeUntilItsExpiry(_ c: Case) {
        let drain = TargetDrain(target: "a", reason: "r", by: "alice", since: Self.now,
                                until: c.until.map { Self.now + .seconds($0) })
        #expect(drain.isActive(at: Self.now + .seconds(c.at)) == c.active)
        #expect([drain].active(for: "a", at: Self.now + .seconds(c.at)) == (c.active ? drain : nil))
        #expect([drain].active(for: "b", at: Self.now) == nil)
    }

    @Test func nextExpiryIsTheEarliestAhead() {
        let drains = [
            TargetDrain(target: "a", reason: "r", by: "x", since: Self.now),
            TargetDrain(target: "b", reason: "r", by: "x", since: Self.now, until: Self.now + .seconds(30)),
            TargetDrain(target: "c", reason: "r", by: "x", since: Self.now, until: Self.now + .seconds(10)),
            TargetDrain(target: "d", reason: "r", by: "x", since: Self.now, until: Self.now - .seconds(5)),
        ]
        #expect(drains.nextExpiry(after: Self.now) == Self.now + .seconds(10))
        #expect(drains.nextExpiry(after: Self.now + .seconds(10)) == Self.now + .seconds(30))
        #expect(drains.nextExpiry(after: Self.now + .seconds(30)) == nil)
        #expect(drains[1].summary == "r (by x, until 2025-01-31T12:00:30Z)")
        #expect(drains[0].summary == "r (by x)")
    }

    @Test func codableAsPartOfANameService() throws {
        let drain = TargetDrain(target: "zone-a", reason: "maintenance", by: "alice", since: Self.now,
                                until: Self.now + .seconds(3600))
        let ns = NameService(metadata: ObjectMeta(name: "n"), spec: NameServiceSpec(fqdn: "n.g.example.com", targets: []),
                             drains: [drain])
        let json = String(decoding: try JSONEncoder().encode(ns), as: UTF8.self)
        #expect(json.contains(#""until":"2025-01-31T13:00:00Z""#))
        #expect(json.contains(#""since":"2025-01-31T12:00:00Z""#))
        #expect(try JSONDecoder().decode(NameService.self, from: Data(json.utf8)) == ns)
        // No drains: no key at all (objects written before drains existed read the same).
        var plain = ns
        plain.drains = []
        #expect(!String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("drains"))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TargetDrain.self, from: Data(#"{"target":"a","reason":"r","by":"b","since":"tomorrow"}"#.utf8))
        }
    }
}

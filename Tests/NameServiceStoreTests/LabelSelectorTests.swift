import GSLB
import NameServiceStore
import Testing

/// Kubernetes label selector syntax: every kind of term, and every malformed one refused with
/// the term named (a typo must never become a selector that quietly matches nothing).
@Suite struct LabelSelectorTests {
    @Test func everyKindOfTermParsesAndMatches() throws {
        let s = try LabelSelector(parsing: "team=pay, tier!=canary,env in (prod, staging),zone notin (a),shard,!legacy,app==web")
        #expect(s.requirements == [.equals("team", "pay"), .notEquals("tier", "canary"), .in("env", ["prod", "staging"]),
                                   .notIn("zone", ["a"]), .exists("shard"), .notExists("legacy"), .equals("app", "web")])
        #expect(s.description == "team=pay,tier!=canary,env in (prod,staging),zone notin (a),shard,!legacy,app=web")
        let base = ["team": "pay", "env": "prod", "shard": "1", "app": "web"]
        #expect(s.matches(base))
        #expect(s.matches(base.merging(["zone": "b"]) { $1 }))
        #expect(!s.matches(base.merging(["zone": "a"]) { $1 }))                 // notin
        #expect(!s.matches(base.merging(["env": "dev"]) { $1 }))                // in
        #expect(!s.matches(base.filter { $0.key != "env" }))                    // in needs the key
        #expect(!s.matches(base.merging(["legacy": "yes"]) { $1 }))
        #expect(try LabelSelector(parsing: "env notin (dev)").matches([:]))     // notin: absent matches
        #expect(try LabelSelector(parsing: "app.kubernetes.io/name=checkout").matches(["app.kubernetes.io/name": "checkout"]))
    }

    @Test func malformedSelectorsAreRefusedNamingTheTerm() {
        let bad: [(String, String)] = [
            ("shard in (1,2", "unclosed '('"),
            ("shard in 1,2)", "unbalanced ')'"),
            ("shard within (1)", "is not a selector term"),
            ("shard in ()", "no values"),
            ("shard in (1) x", "text after ')'"),
            ("team name=pay", "invalid label key \"team name\""),
            ("team=pay ments", "invalid label value \"pay ments\""),
            ("=pay", "no key"),
            ("team=pay,,tier=a", "empty term"),
            ("-team", "invalid label key \"-team\""),
        ]
        for (text, message) in bad {
            #expect {
                try LabelSelector(parsing: text)
            } throws: { error in
                guard let error = error as? StoreError, error.code == .invalid else { return false }
                return error.message.contains(message)
            }
        }
    }
}

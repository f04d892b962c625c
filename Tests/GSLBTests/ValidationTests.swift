import DNSWire
@testable import GSLB
import Testing

@Suite("NameService validation")
struct ValidationTests {
    static let valid = NameService(
        metadata: ObjectMeta(name: "checkout"),
        spec: NameServiceSpec(
            fqdn: "checkout.g.example.com",
            policy: .locality,
            failover: [FailoverRule(from: "us-west", to: "us-east")],
            healthCheck: HealthCheckSpec(port: 443),
            targets: [
                Target(name: "west", addresses: ["10.10.1.7", "2001:db8::7"], locality: "us-west/us-west-1a"),
                Target(name: "east", addresses: ["10.20.1.7"], locality: "us-east"),
                Target(name: "by-name", fqdn: "checkout.gw.example.net."),
            ]))

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let change: @Sendable (inout NameService) -> Void
        let expected: [String]
        init(_ name: String, _ expected: [String], _ change: @escaping @Sendable (inout NameService) -> Void) {
            self.name = name
            self.change = change
            self.expected = expected
        }
        var testDescription: String { name }
    }

    static let label = "is not a DNS label (RFC 1123): 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit"
    static let host = "is not a host name: each label must be letters, digits and inner hyphens"
    static let ttlWhy = "seconds: resolvers keep an answer for its TTL, so a longer one would delay failover away from a dead target by more than a day"
    static let a64 = String(repeating: "a", count: 64)

    static let cases: [Case] = [
        Case("valid as written", []) { _ in },
        Case("ttl 0 and a standby are fine", []) { $0.spec.ttl = 0; $0.spec.policy = .ratio; $0.spec.targets[1].ratio = 0 },
        Case("ttl one day is fine", []) { $0.spec.ttl = 86_400 },
        Case("fqdn with trailing dot and upper case is fine", []) { $0.spec.fqdn = "Checkout.G.Example.COM." },
        Case("apiVersion", ["apiVersion: \"v1\" is not served; use \"globaldns.io/v1alpha1\""]) { $0.apiVersion = "v1" },
        Case("kind", ["kind: \"Service\" is not \"NameService\""]) { $0.kind = "Service" },
        Case("name upper case", ["metadata.name: \"Checkout\" \(label)"]) { $0.metadata.name = "Checkout" },
        Case("name leading hyphen", ["metadata.name: \"-a\" \(label)"]) { $0.metadata.name = "-a" },
        Case("name trailing hyphen", ["metadata.name: \"a-\" \(label)"]) { $0.metadata.name = "a-" },
        Case("name underscore", ["metadata.name: \"a_b\" \(label)"]) { $0.metadata.name = "a_b" },
        Case("name 64 bytes", ["metadata.name: \"\(a64)\" \(label)"]) { $0.metadata.name = a64 },
        Case("name missing", ["metadata.name: is required"]) { $0.metadata.name = "" },
        Case("fqdn missing", ["spec.fqdn: is required"]) { $0.spec.fqdn = "" },
        Case("fqdn wildcard", ["spec.fqdn: \"*.g.example.com\" \(host)"]) { $0.spec.fqdn = "*.g.example.com" },
        Case("fqdn underscore", ["spec.fqdn: \"_x.g.example.com\" \(host)"]) { $0.spec.fqdn = "_x.g.example.com" },
        Case("fqdn hyphen edge", ["spec.fqdn: \"a-.example.com\" \(host)"]) { $0.spec.fqdn = "a-.example.com" },
        Case("fqdn empty label", ["spec.fqdn: \"a..example.com\" is not a domain name (empty or over-long label)"]) { $0.spec.fqdn = "a..example.com" },
        Case("fqdn long label", ["spec.fqdn: \"\(a64).com\" is not a domain name (empty or over-long label)"]) { $0.spec.fqdn = a64 + ".com" },
        Case("fqdn root", ["spec.fqdn: must not be the root"]) { $0.spec.fqdn = "." },
        Case("ttl negative", ["spec.ttl: -1 is outside 0...86400 \(ttlWhy)"]) { $0.spec.ttl = -1 },
        Case("ttl over a day", ["spec.ttl: 86401 is outside 0...86400 \(ttlWhy)"]) { $0.spec.ttl = 86_401 },
        Case("policy unknown", ["spec.policy: unknown policy \"Weighted\"; use RoundRobin, Ratio or Locality"]) {
            $0.spec.policy = PolicyKind(rawValue: "Weighted")
        },
        Case("maxAnswers 0", ["spec.maxAnswers: 0 must be at least 1; omit it for no cap"]) { $0.spec.maxAnswers = 0 },
        Case("allDown unknown", ["spec.allDown: unknown behaviour \"Never\"; use FailOpen, FailClosed or Fallback"]) {
            $0.spec.allDown = AllDownBehavior(rawValue: "Never")
        },
        Case("failover empty region", ["spec.failover[0].from: must name a region"]) { $0.spec.failover[0].from = "" },
        Case("failover names a zone", ["spec.failover[0].to: \"us-east/1a\" is not a region name (no spaces or '/'; a rule names regions, not zones)"]) {
            $0.spec.failover[0].to = "us-east/1a"
        },
        Case("failover to itself", ["spec.failover[1]: from and to are both \"eu\"; a region is always tried before its failover"]) {
            $0.spec.failover.append(FailoverRule(from: "eu", to: "eu"))
        },
        Case("failover repeated", ["spec.failover[2]: repeats spec.failover[0]"]) {
            $0.spec.failover += [FailoverRule(from: "us-west", to: "eu"), FailoverRule(from: "us-west", to: "us-east")]
        },
        Case("port 0", ["spec.healthCheck.port: 0 is not a TCP port (1...65535)"]) { $0.spec.healthCheck?.port = 0 },
        Case("port 65536", ["spec.healthCheck.port: 65536 is not a TCP port (1...65535)"]) { $0.spec.healthCheck?.port = 65_536 },
        Case("interval 0", ["spec.healthCheck.intervalSeconds: 0 must be between 0.5 and 3600"]) { $0.spec.healthCheck?.intervalSeconds = 0 },
        Case("timeout 0", ["spec.healthCheck.timeoutSeconds: 0 must be between 0.05 and 3600"]) { $0.spec.healthCheck?.timeoutSeconds = 0 },
        // Kubernetes and Istio accept a timeout at or above the period; the prober skips a probe
        // time while the previous probe is in flight (issue 14).
        Case("timeout equals the default interval is accepted", []) { $0.spec.healthCheck?.timeoutSeconds = 4 },
        Case("timeout above interval is accepted", []) {
            $0.spec.healthCheck?.timeoutSeconds = 10
            $0.spec.healthCheck?.intervalSeconds = 5
        },
        Case("timeout above an hour", ["spec.healthCheck.timeoutSeconds: 3601 must be between 0.05 and 3600"]) {
            $0.spec.healthCheck?.timeoutSeconds = 3601
        },
        Case("sub-second timing is fine", []) {
            $0.spec.healthCheck?.intervalSeconds = 1
            $0.spec.healthCheck?.timeoutSeconds = 0.5
        },
        Case("interval below the default timeout is accepted", []) { $0.spec.healthCheck?.intervalSeconds = 2 },
        Case("failureThreshold 0", ["spec.healthCheck.failureThreshold: 0 must be at least 1"]) { $0.spec.healthCheck?.failureThreshold = 0 },
        Case("successThreshold 0", ["spec.healthCheck.successThreshold: 0 must be at least 1"]) { $0.spec.healthCheck?.successThreshold = 0 },
        Case("initialDelay negative", ["spec.healthCheck.initialDelaySeconds: -1 must be between 0 and 3600"]) { $0.spec.healthCheck?.initialDelaySeconds = -1 },
        Case("no health check is allowed", []) { $0.spec.healthCheck = nil },
        // Issue 14: addresses no client can connect to are refused; loopback stays allowed.
        Case("unspecified, multicast and broadcast addresses", [
            "spec.targets[0].addresses[0]: \"0.0.0.0\" is the unspecified address: not an address a client can connect to",
            "spec.targets[0].addresses[1]: \"::\" is the unspecified address: not an address a client can connect to",
            "spec.targets[0].addresses[2]: \"224.0.0.1\" is a multicast address (224.0.0.0/4): not an address a client can connect to",
            "spec.targets[0].addresses[3]: \"ff02::1\" is a multicast address (ff00::/8): not an address a client can connect to",
            "spec.targets[0].addresses[4]: \"255.255.255.255\" is the broadcast address: not an address a client can connect to",
        ]) { $0.spec.targets[0].addresses = ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "127.0.0.1", "::1"] },
        // Issue 14: labels as Kubernetes validates them.
        Case("label keys and values as Kubernetes has them", []) {
            $0.metadata.labels = ["team": "payments", "example.com/tier": "canary", "app.kubernetes.io/name": "checkout-v2", "empty": ""]
        },
        Case("label keys with ',' or '=' and values with spaces", [
            "metadata.labels[\"a,b\"]: the key's name \"a,b\" must be 63 characters or fewer, begin and end with a letter or digit, and hold only letters, digits, '-', '_' and '.' (as Kubernetes labels)",
            "metadata.labels[\"a=b\"]: the key's name \"a=b\" must be 63 characters or fewer, begin and end with a letter or digit, and hold only letters, digits, '-', '_' and '.' (as Kubernetes labels)",
            "metadata.labels[\"team\"]: the value \"pay ments\" must be 63 characters or fewer, begin and end with a letter or digit, and hold only letters, digits, '-', '_' and '.' (as Kubernetes labels)",
        ]) { $0.metadata.labels = ["a,b": "x", "a=b": "y", "team": "pay ments"] },
        Case("label key prefixes are DNS subdomains", [
            "metadata.labels[\"Example.com/x\"]: the key's prefix \"Example.com\" must be a DNS subdomain (lower-case letters, digits, '-' and '.', each part alphanumeric at both ends)",
            "metadata.labels[\"a/\"]: the key \"a/\" needs a name after its prefix",
        ]) { $0.metadata.labels = ["Example.com/x": "1", "a/": "2"] },
        Case("no targets", ["spec.targets: at least one target is required"]) { $0.spec.targets = [] },
        Case("target name bad", ["spec.targets[1].name: \"East\" \(label)"]) { $0.spec.targets[1].name = "East" },
        Case("target name missing", ["spec.targets[1].name: is required"]) { $0.spec.targets[1].name = "" },
        Case("target name duplicate", ["spec.targets[2].name: \"west\" duplicates spec.targets[0].name"]) { $0.spec.targets[2].name = "west" },
        Case("target with nothing", ["spec.targets[2]: needs addresses or fqdn: there is nothing to answer with"]) { $0.spec.targets[2].fqdn = nil },
        Case("bad address", ["spec.targets[2].addresses[0]: \"10.0.0.999\" is not an IPv4 or IPv6 address"]) {
            $0.spec.targets[2].addresses = ["10.0.0.999"]
        },
        Case("duplicate address, spelled differently", ["spec.targets[0].addresses[2]: \"2001:DB8:0::7\" repeats spec.targets[0].addresses[1]"]) {
            $0.spec.targets[0].addresses.append("2001:DB8:0::7")
        },
        Case("same address in two targets is allowed", []) { $0.spec.targets[1].addresses = ["10.10.1.7"] },
        Case("target fqdn bad", ["spec.targets[2].fqdn: \"gw_1.example.net\" \(host)"]) { $0.spec.targets[2].fqdn = "gw_1.example.net" },
        Case("locality empty zone", ["spec.targets[0].locality: \"us-west//a\" has an empty zone; a locality is region[/zone[/subzone]] with non-empty segments"]) {
            $0.spec.targets[0].locality = "us-west//a"
        },
        Case("locality trailing slash", ["spec.targets[0].locality: \"us-west/\" has an empty zone; a locality is region[/zone[/subzone]] with non-empty segments"]) {
            $0.spec.targets[0].locality = "us-west/"
        },
        Case("locality four segments", ["spec.targets[0].locality: \"a/b/c/d\" has 4 segments; a locality is region[/zone[/subzone]]"]) {
            $0.spec.targets[0].locality = "a/b/c/d"
        },
        Case("locality space", ["spec.targets[0].locality: \"us west\": the region holds a space or control character"]) {
            $0.spec.targets[0].locality = "us west"
        },
        Case("ratio negative", ["spec.targets[1].ratio: -1 must be 0 or more (0 marks a standby)"]) { $0.spec.targets[1].ratio = -1 },
        Case("ratio huge", ["spec.targets[1].ratio: 1000001 is above 1000000; ratios are relative, scale them down"]) {
            $0.spec.targets[1].ratio = 1_000_001
        },
        Case("Ratio with only standbys", ["spec.targets: the Ratio policy needs at least one target with ratio > 0 (ratio 0 marks a standby)"]) {
            $0.spec.policy = .ratio
            for i in $0.spec.targets.indices { $0.spec.targets[i].ratio = 0 }
        },
        Case("ratio 0 everywhere is fine for RoundRobin", []) {
            for i in $0.spec.targets.indices { $0.spec.targets[i].ratio = 0 }
        },
    ]

    @Test(arguments: cases)
    func rule(_ c: Case) {
        var ns = Self.valid
        c.change(&ns)
        #expect(ns.validate().map(\.description) == c.expected)
        #expect(ns.validate().allSatisfy { $0.reason == .invalidSpec })
    }

    @Test func everyProblemIsReportedAtOnce() {
        var ns = Self.valid
        ns.metadata.name = "Bad Name"
        ns.spec.fqdn = "*.x"
        ns.spec.ttl = 100_000
        ns.spec.maxAnswers = -3
        ns.spec.healthCheck = HealthCheckSpec(port: 0, intervalSeconds: 2, timeoutSeconds: 5000, failureThreshold: 0)
        ns.spec.targets[0].addresses = ["10.0.0.999", "fe80::1", "fe80::1"]
        ns.spec.targets[1].locality = ""
        ns.spec.targets[2] = Target(name: "west")
        #expect(ns.validate().map(\.field) == [
            "metadata.name",
            "spec.fqdn",
            "spec.ttl",
            "spec.maxAnswers",
            "spec.healthCheck.port",
            "spec.healthCheck.timeoutSeconds",
            "spec.healthCheck.failureThreshold",
            "spec.targets[0].addresses[0]",
            "spec.targets[0].addresses[2]",
            "spec.targets[1].locality",
            "spec.targets[2].name",
            "spec.targets[2]",
        ])
    }

    // MARK: placement against served data

    static let zones: [DNSName] = ["g.example.com", "example.org"]
    static let statics: Set<DNSName> = ["g.example.com", "www.g.example.com"]
    static let others: [DNSName: String] = ["taken.g.example.com": "other", "mine.g.example.com": "checkout"]

    @Test(arguments: [
        ("checkout.g.example.com", [String]()),
        ("deep.checkout.example.org", []),
        ("mine.g.example.com", []),  // our own entry in the map is not a clash
        ("checkout.example.net", ["OutsideZones: spec.fqdn: checkout.example.net. is not inside any served zone (served zones: example.org., g.example.com.)"]),
        ("g.example.com", ["ClashesWithStaticName: spec.fqdn: g.example.com. already has static records in a zone file"]),
        ("WWW.G.Example.com.", ["ClashesWithStaticName: spec.fqdn: WWW.G.Example.com. already has static records in a zone file"]),
        ("taken.g.example.com", ["ClashesWithNameService: spec.fqdn: taken.g.example.com. is already served by NameService \"other\""]),
        ("xg.example.com", ["OutsideZones: spec.fqdn: xg.example.com. is not inside any served zone (served zones: example.org., g.example.com.)"]),
        ("a..bad", []),  // does not parse: left to validate()
    ])
    func placement(_ fqdn: String, _ expected: [String]) {
        var ns = Self.valid
        ns.spec.fqdn = fqdn
        let problems = ns.validatePlacement(zones: Self.zones, staticNames: Self.statics, otherNameServices: Self.others)
        #expect(problems.map { "\($0.reason): \($0)" } == expected)
    }

    @Test func placementWithNoZones() {
        let problems = Self.valid.validatePlacement(zones: [], staticNames: [], otherNameServices: [:])
        #expect(problems.map(\.description) == ["spec.fqdn: checkout.g.example.com. is not inside any served zone (no zones are served)"])
        #expect(problems.map(\.reason) == [.outsideZones])
    }
}

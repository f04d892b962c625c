import DNSWire
import Foundation
import DNSServer
import GlobalDNSApp
import GSLB
import HTTPAPI
import Testing

@Suite struct ConfigurationTests {
    @Test func emptyDocumentGivesDefaults() throws {
        let c = try ConfigurationReader.parse("")
        #expect(c == GlobalDNSConfiguration())
        let (dns, responder) = try c.validated()
        #expect(dns.listen.count == 2)
        #expect(responder.maxUDPPayload == 1232)
    }

    @Test func shippedConfigurationIsValid() throws {
        let c = try ConfigurationReader.read(file: repositoryRoot() + "/config/globaldns.yaml")
        #expect(c.dns.listen == ["127.0.0.1:8053", "[::1]:8053"])
        #expect(c.zones.directory == "../zones")
        #expect(c.identity == "globaldns-dev-1")
    }

    /// The container image's configuration: every address on port 53, the API beyond loopback with
    /// its token from the environment, which it cannot start without.
    @Test func containerConfigurationIsValid() throws {
        let file = repositoryRoot() + "/docker/globaldns.yaml"
        let env = ["GLOBALDNS_TOKEN_OPERATORS": "a-long-random-operator-token"]
        let c = try ConfigurationReader.read(file: file, environment: { env[$0] })
        #expect(c.dns.listen == ["0.0.0.0:53", "[::]:53"])
        #expect(c.api.listen == "0.0.0.0:8080" && c.api.tokens == ["operators": "a-long-random-operator-token"])
        #expect(c.state.directory == "/var/lib/globaldns" && c.log.format == .json)
        #expect(c.lifecycle.onComponentFailure == .exit)
        do {
            _ = try ConfigurationReader.read(file: file, environment: { _ in nil })
            Issue.record("started without GLOBALDNS_TOKEN_OPERATORS")
        } catch {
            #expect(error.keyPath == "api.tokens.operators.env")
        }
        // docker/compose.etcd.yaml's: the same, on the compose file's etcd cluster.
        let etcd = try ConfigurationReader.read(file: repositoryRoot() + "/docker/globaldns-etcd.yaml", environment: { env[$0] })
        #expect(etcd.store.type == .etcd && etcd.store.etcd.endpoints.count == 3)
        var sameButStore = etcd
        sameButStore.store = c.store
        #expect(sameButStore == c, "docker/globaldns-etcd.yaml differs from docker/globaldns.yaml beyond the store")
    }

    @Test func fullDocument() throws {
        let c = try ConfigurationReader.parse("""
            identity: ns-a
            dns:
              listen: ["0.0.0.0:53", "[::]:53"]
              udpPayloadSize: 4096
              tcpIdleTimeoutSeconds: 2.5
              tcpMaxConnections: 10
              threads: 3
            zones:
              files: [a.zone, b.zone]
            log: {level: debug, format: json}
            lifecycle: {onComponentFailure: exit}
            """)
        #expect(c.identity == "ns-a")
        #expect(c.dns.udpPayloadSize == 4096)
        #expect(c.dns.tcpIdleTimeoutSeconds == 2.5)
        #expect(c.zones.files == ["a.zone", "b.zone"])
        #expect(c.log.level == .debug)
        #expect(c.log.format == .json)
        #expect(c.lifecycle.onComponentFailure == .exit)
    }

    @Test func metricsAndQueryLogReachTheResponder() throws {
        let defaults = try GlobalDNSConfiguration().validated().responder
        #expect(defaults.countsQueries && defaults.queryLogSampleRate == 0)
        let c = try ConfigurationReader.parse("metrics: {enabled: false}\nqueryLog: {sampleRate: 0.01}\n")
        #expect(!c.metrics.enabled && c.queryLog.sampleRate == 0.01)
        let responder = try c.validated().responder
        #expect(!responder.countsQueries && responder.queryLogSampleRate == 0.01)
    }

    struct Bad: Sendable, CustomStringConvertible {
        let yaml: String
        let keyPath: String
        let line: Int?
        let fragment: String
        var description: String { keyPath }
    }

    static let bad: [Bad] = [
        Bad(yaml: "dns:\n  lisen: [\"127.0.0.1:53\"]\n", keyPath: "dns.lisen", line: 2, fragment: "unknown key"),
        Bad(yaml: "zone: {}\n", keyPath: "zone", line: 1, fragment: "unknown key"),
        Bad(yaml: "queryLog:\n  sampleRate: 1.5\n", keyPath: "queryLog.sampleRate", line: 2, fragment: "between 0 (off) and 1"),
        Bad(yaml: "queryLog:\n  sampleRate: often\n", keyPath: "queryLog.sampleRate", line: 2, fragment: "number"),
        Bad(yaml: "metrics:\n  enabled: yes\n", keyPath: "metrics.enabled", line: 2, fragment: "true or false"),
        Bad(yaml: "metrics:\n  path: /m\n", keyPath: "metrics.path", line: 2, fragment: "unknown key"),
        Bad(yaml: "dns:\n  listen: [\"127.0.0.1\"]\n", keyPath: "dns.listen[0]", line: 2, fragment: "not ADDR:PORT"),
        Bad(yaml: "dns:\n  listen:\n    - 127.0.0.1:53\n    - 127.0.0.1:99999\n", keyPath: "dns.listen[1]", line: 4, fragment: "not a port"),
        Bad(yaml: "dns:\n  listen: [\"300.1.1.1:53\"]\n", keyPath: "dns.listen[0]", line: 2, fragment: "not an IPv4 or IPv6 address"),
        Bad(yaml: "dns:\n  listen: [\"::1:53\"]\n", keyPath: "dns.listen[0]", line: 2, fragment: "[ADDR]:PORT"),
        Bad(yaml: "dns:\n  udpPayloadSize: 100\n", keyPath: "dns.udpPayloadSize", line: 2, fragment: "between 512 and 65535"),
        Bad(yaml: "dns:\n  tcpMaxConnections: many\n", keyPath: "dns.tcpMaxConnections", line: 2, fragment: "integer"),
        Bad(yaml: "dns:\n  tcpMaxConnectionsPerClient: 0\n", keyPath: "dns.tcpMaxConnectionsPerClient", line: 2,
            fragment: "at least 1, not 0"),
        Bad(yaml: "dns:\n  tcpMaxConnectionsPerClient: some\n", keyPath: "dns.tcpMaxConnectionsPerClient", line: 2, fragment: "integer"),
        Bad(yaml: "zones:\n  allowDroppingZones: maybe\n", keyPath: "zones.allowDroppingZones", line: 2, fragment: "true or false"),
        Bad(yaml: "limits:\n  maxTargetsPerNameService: 0\n", keyPath: "limits.maxTargetsPerNameService", line: 2,
            fragment: "between 1 and 10000, not 0"),
        Bad(yaml: "limits:\n  maxAddressesPerNameService: 4096\n", keyPath: "limits.maxAddressesPerNameService", line: 2,
            fragment: "between 1 and 2048, not 4096"),
        Bad(yaml: "limits:\n  maxAddressesPerTarget: 2000\n", keyPath: "limits.maxAddressesPerTarget", line: 2,
            fragment: "must not be above limits.maxAddressesPerNameService (1024), not 2000"),
        Bad(yaml: "limits:\n  maxFailoverRules: -1\n", keyPath: "limits.maxFailoverRules", line: 2, fragment: "between 0 and 10000"),
        Bad(yaml: "limits:\n  maxLabels: lots\n", keyPath: "limits.maxLabels", line: 2, fragment: "integer"),
        Bad(yaml: "limits:\n  maxTargets: 5\n", keyPath: "limits.maxTargets", line: 2, fragment: "unknown key"),
        Bad(yaml: "dns:\n  listen: 127.0.0.1:53\n", keyPath: "dns.listen", line: 2, fragment: "must be a list"),
        Bad(yaml: "log:\n  level: loud\n", keyPath: "log.level", line: 2, fragment: "not one of"),
        Bad(yaml: "log:\n  format: xml\n", keyPath: "log.format", line: 2, fragment: "logfmt, json"),
        Bad(yaml: "lifecycle:\n  onComponentFailure: restart\n", keyPath: "lifecycle.onComponentFailure", line: 2,
            fragment: "keepServing, exit"),
        Bad(yaml: "- a\n- b\n", keyPath: "", line: 1, fragment: "must be a mapping"),
        Bad(yaml: "healthCheck:\n  intervalSecs: 2\n", keyPath: "healthCheck.intervalSecs", line: 2, fragment: "unknown key"),
        Bad(yaml: "healthCheck:\n  timeoutSeconds: 4000\n", keyPath: "healthCheck.timeoutSeconds", line: 2,
            fragment: "between"),
        Bad(yaml: "healthCheck:\n  failureThreshold: 0\n", keyPath: "healthCheck.failureThreshold", line: 2, fragment: "at least 1"),
        Bad(yaml: "healthCheck:\n  intervalSeconds: often\n", keyPath: "healthCheck.intervalSeconds", line: 2, fragment: "must be a number"),
        Bad(yaml: "healthCheck:\n  intervalSeconds: 0.1\n", keyPath: "healthCheck.intervalSeconds", line: 2, fragment: "between 0.5 and 3600, not 0.1"),
        Bad(yaml: "healthCheck:\n  threads: 0\n", keyPath: "healthCheck.threads", line: 2, fragment: "between 1 and 64, not 0"),
        Bad(yaml: "healthCheck:\n  summarySeconds: 0.5\n", keyPath: "healthCheck.summarySeconds", line: 2, fragment: "0 (never) or between 1"),
        Bad(yaml: "api:\n  listen: 0.0.0.0:8080\n", keyPath: "api.listen", line: 2, fragment: "no API token is configured"),
        // issue 12: seconds that converted to integers trapped (1e20, inf); now each names its key
        Bad(yaml: "dns:\n  drainTimeoutSeconds: 1e20\n", keyPath: "dns.drainTimeoutSeconds", line: 2, fragment: "between 0 and 3600"),
        Bad(yaml: "dns:\n  drainTimeoutSeconds: inf\n", keyPath: "dns.drainTimeoutSeconds", line: 2, fragment: "between 0 and 3600"),
        Bad(yaml: "dns:\n  drainTimeoutSeconds: nan\n", keyPath: "dns.drainTimeoutSeconds", line: 2, fragment: "between 0 and 3600"),
        Bad(yaml: "dns:\n  tcpIdleTimeoutSeconds: 1e300\n", keyPath: "dns.tcpIdleTimeoutSeconds", line: 2, fragment: "(0, 3600]"),
        Bad(yaml: "upstream:\n  maxRefreshSeconds: 1e20\n", keyPath: "upstream.maxRefreshSeconds", line: 2, fragment: "at most 86400"),
        Bad(yaml: "upstream:\n  minRefreshSeconds: inf\n", keyPath: "upstream.minRefreshSeconds", line: 2, fragment: "between 1 and 86400"),
        Bad(yaml: "upstream:\n  retryAfterFailureSeconds: 1e20\n", keyPath: "upstream.retryAfterFailureSeconds", line: 2,
            fragment: "between 1 and 86400"),
        Bad(yaml: "api:\n  idleTimeoutSeconds: 1e300\n", keyPath: "api.idleTimeoutSeconds", line: 2, fragment: "(0, 86400]"),
        Bad(yaml: "api:\n  headerTimeoutSeconds: nan\n", keyPath: "api.headerTimeoutSeconds", line: 2, fragment: "(0, 3600]"),
        Bad(yaml: "api:\n  bodyTimeoutSeconds: 0\n", keyPath: "api.bodyTimeoutSeconds", line: 2, fragment: "(0, 3600]"),
        Bad(yaml: "api:\n  threads: 0\n", keyPath: "api.threads", line: 2, fragment: "between 1 and 64"),
        Bad(yaml: "api:\n  niceness: 20\n", keyPath: "api.niceness", line: 2, fragment: "between 0 and 19"),
        Bad(yaml: "api:\n  maxConnections: 0\n", keyPath: "api.maxConnections", line: 2, fragment: "between 1 and 1000000"),
        Bad(yaml: "api:\n  maxHeaderBytes: 100\n", keyPath: "api.maxHeaderBytes", line: 2, fragment: "between 1024 and 1048576"),
        Bad(yaml: "api:\n  maxListLimit: 0\n", keyPath: "api.maxListLimit", line: 2, fragment: "between 1 and 100000"),
        Bad(yaml: "api:\n  writeTimeoutSeconds: 0\n", keyPath: "api.writeTimeoutSeconds", line: 2, fragment: "(0, 3600]"),
        Bad(yaml: "api:\n  rateLimit:\n    requestsPerSecond: -1\n", keyPath: "api.rateLimit.requestsPerSecond", line: 3,
            fragment: "0 (off)"),
        Bad(yaml: "api:\n  rateLimit:\n    burst: 0\n", keyPath: "api.rateLimit.burst", line: 3, fragment: "between 1 and 1000000"),
        Bad(yaml: "api:\n  rateLimit:\n    maxClients: 0\n", keyPath: "api.rateLimit.maxClients", line: 3, fragment: "between 1"),
        Bad(yaml: "api:\n  rateLimit:\n    perMinute: 5\n", keyPath: "api.rateLimit.perMinute", line: 3, fragment: "unknown key"),
        Bad(yaml: "api:\n  watch:\n    maxBufferBytes: 10\n", keyPath: "api.watch.maxBufferBytes", line: 3, fragment: "between 65536"),
        Bad(yaml: "api:\n  tokens: {ci: short}\n", keyPath: "api.tokens.ci", line: 2, fragment: "at least 16 characters"),
        Bad(yaml: "api:\n  listen: nowhere\n", keyPath: "api.listen", line: 2, fragment: "not ADDR:PORT"),
        Bad(yaml: "api:\n  tokens: [a, b]\n", keyPath: "api.tokens", line: 2, fragment: "mapping of name: token"),
        Bad(yaml: "api:\n  tokens:\n    ci: {env: GLOBALDNS_TEST_SURELY_UNSET}\n", keyPath: "api.tokens.ci.env", line: 3,
            fragment: "GLOBALDNS_TEST_SURELY_UNSET is not set"),
        Bad(yaml: "api:\n  tokens:\n    ci: {env: A, file: b}\n", keyPath: "api.tokens.ci", line: 3, fragment: "exactly one"),
        Bad(yaml: "api:\n  tokens:\n    ci: {vault: x}\n", keyPath: "api.tokens.ci.vault", line: 3, fragment: "unknown key"),
        Bad(yaml: "api:\n  tokens:\n    ci: {file: /nonexistent/token}\n", keyPath: "api.tokens.ci.file", line: 3,
            fragment: "cannot read /nonexistent/token"),
        Bad(yaml: "state:\n  dir: /tmp\n", keyPath: "state.dir", line: 2, fragment: "unknown key"),
        Bad(yaml: "localities:\n  - {cidr: 10.0.0.0/8, locality: us-west}\n  - {cidr: 10.0.0.0/33, locality: us-east}\n",
            keyPath: "localities[1].cidr", line: 3, fragment: "prefix length must be 0...32"),
        Bad(yaml: "localities:\n  - {cidr: 10.0.0.0/8, locality: us-west}\n  - {cidr: 10.0.0.0/8, locality: us-east}\n",
            keyPath: "localities[1].cidr", line: 3, fragment: "duplicates localities[0]"),
        Bad(yaml: "localities:\n  - {cidr: 10.0.0.0/8, locality: \"us//x\"}\n", keyPath: "localities[0].locality", line: 2,
            fragment: "empty zone"),
        Bad(yaml: "localities:\n  - {cidr: 10.0.0.0/8}\n", keyPath: "localities[0].locality", line: 2, fragment: "is required"),
        Bad(yaml: "localities:\n  - {cidr: 10.0.0.0/8, locality: a, region: b}\n", keyPath: "localities[0].region", line: 2,
            fragment: "unknown key"),
        Bad(yaml: "localities: {a: b}\n", keyPath: "localities", line: 1, fragment: "list of {cidr, locality} pairs"),
        Bad(yaml: "defaultLocality: \"a/b/c/d\"\n", keyPath: "defaultLocality", line: 1, fragment: "4 segments"),
        Bad(yaml: "explain:\n  allow: [127.0.0.0/8, \"10.0.0.1\"]\n", keyPath: "explain.allow[1]", line: 2, fragment: "not a CIDR"),
        Bad(yaml: "upstream:\n  resolvers: [\"dns.google\"]\n", keyPath: "upstream.resolvers[0]", line: 2, fragment: "is not ADDR"),
        Bad(yaml: "upstream:\n  minRefreshSeconds: 10\n  maxRefreshSeconds: 5\n", keyPath: "upstream.maxRefreshSeconds", line: 3,
            fragment: "at least upstream.minRefreshSeconds"),
    ]

    @Test func gslbKeys() throws {
        let c = try ConfigurationReader.parse("""
            localities:
              - {cidr: 10.10.0.0/16, locality: us-west/us-west-1a}
              - {cidr: "2001:db8::/32", locality: eu-central}
            defaultLocality: us-east
            explain: {allow: [10.0.0.0/8]}
            upstream: {resolvers: ["127.0.0.1:5353", "::1", "192.0.2.53"], timeoutSeconds: 1, minRefreshSeconds: 2}
            """)
        #expect(c.localities == .inline([.init(cidr: "10.10.0.0/16", locality: "us-west/us-west-1a"),
                                         .init(cidr: "2001:db8::/32", locality: "eu-central")]))
        #expect(c.defaultLocality == "us-east")
        #expect(c.explain.allow == ["10.0.0.0/8"])
        #expect(c.upstream.resolvers.count == 3)
        #expect(try parseResolverAddress("::1", keyPath: "x").port == 53)
        #expect(try parseResolverAddress("192.0.2.53", keyPath: "x").port == 53)
        #expect(try parseResolverAddress("[::1]:5353", keyPath: "x").port == 5353)
        let policy = try c.loadClientPolicy(base: ".")
        #expect(policy.mapping.table.count == 2)
        #expect(policy.mapping.defaultLocality?.description == "us-east")
        #expect(policy.explainAllow.contains(.v4(IPv4Address(10, 1, 2, 3))))
        #expect(!policy.explainAllow.contains(.v4(IPv4Address(127, 0, 0, 1))))
        let hc = try ConfigurationReader.parse("healthCheck: {intervalSeconds: 10, timeoutSeconds: 2, failureThreshold: 5, successThreshold: 2, initialDelaySeconds: 3}\n")
        #expect(hc.healthCheck.defaults == HealthCheckDefaults(intervalSeconds: 10, timeoutSeconds: 2, failureThreshold: 5,
                                                       successThreshold: 2, initialDelaySeconds: 3))
        #expect(GlobalDNSConfiguration().healthCheck.defaults == .standard)
        let probing = try ConfigurationReader.parse("healthCheck: {threads: 2, summarySeconds: 10}\n").healthCheck
        #expect(probing.threads == 2 && probing.summarySeconds == 10)
        #expect(GlobalDNSConfiguration().healthCheck == .init())
        // Defaults: no table, loopback may explain.
        let d = try GlobalDNSConfiguration().loadClientPolicy(base: ".")
        #expect(d.mapping.table.count == 0 && d.mapping.defaultLocality == nil)
        #expect(d.explainAllow.contains(.v4(IPv4Address(127, 0, 0, 1))) && d.explainAllow.contains(.v6(IPv6Address(high: 0, low: 1))))
    }

    @Test func localitiesFromAFileWithFileLineErrors() throws {
        let dir = "/tmp/globaldns-config-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let good = "- {cidr: 10.10.0.0/16, locality: us-west/us-west-1a}\n- {cidr: 10.20.1.7/16, locality: us-east}\n"
        FileManager.default.createFile(atPath: dir + "/localities.yaml", contents: Data(good.utf8))
        let c = try ConfigurationReader.parse("localities: localities.yaml\n", file: dir + "/globaldns.yaml")
        #expect(c.localities == .file("localities.yaml"))
        let policy = try c.loadClientPolicy(base: dir, configurationFile: dir + "/globaldns.yaml")
        #expect(policy.mapping.table.count == 2)
        #expect(policy.source == dir + "/localities.yaml")
        #expect(policy.warnings.count == 1 && policy.warnings[0].contains("localities.yaml:2:") && policy.warnings[0].contains("10.20.0.0/16"))

        let bad = "- {cidr: 10.10.0.0/16, locality: us-west}\n- {cidr: 10.10.0.0/16, locality: us-east}\n"
        FileManager.default.createFile(atPath: dir + "/bad.yaml", contents: Data(bad.utf8))
        var b = c
        b.localities = .file("bad.yaml")
        do {
            _ = try b.loadClientPolicy(base: dir)
            Issue.record("a duplicate prefix was accepted")
        } catch {
            #expect(error.file == dir + "/bad.yaml")
            #expect(error.line == 2)
            #expect(error.keyPath == "[1].cidr")
        }
        b.localities = .file("missing.yaml")
        #expect(throws: ConfigurationError.self) { try b.loadClientPolicy(base: dir) }
    }

    @Test func aTokenAllowsANonLoopbackAPI() throws {
        let c = try ConfigurationReader.parse("""
            api:
              listen: 0.0.0.0:8080
              tokens: {controller: "0123456789abcdef0123"}
            state: {directory: /var/lib/globaldns}
            """)
        #expect(c.api.listen == "0.0.0.0:8080")
        #expect(c.api.tokens == ["controller": "0123456789abcdef0123"])
        #expect(c.state.directory == "/var/lib/globaldns")
        // The same address without the token is refused.
        var open = c
        open.api.tokens = [:]
        #expect(throws: ConfigurationError.self) { try open.validated() }
    }

    @Test func tokensFromTheEnvironmentAndFromFiles() throws {
        let dir = "/tmp/globaldns-config-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        // Secrets mounted as files usually end with a newline.
        FileManager.default.createFile(atPath: dir + "/ci.token", contents: Data("from-a-file-0123456789\n".utf8))
        let env = ["GLOBALDNS_TOKEN_CONTROLLER": "from-the-environment-0123"]
        let c = try ConfigurationReader.parse("""
            api:
              listen: 0.0.0.0:8080
              tokens:
                controller: {env: GLOBALDNS_TOKEN_CONTROLLER}
                ci: {file: ci.token}
                inline: "written-in-the-file-0123"
            """, file: dir + "/globaldns.yaml", environment: { env[$0] })
        #expect(c.api.tokens == ["controller": "from-the-environment-0123", "ci": "from-a-file-0123456789",
                                 "inline": "written-in-the-file-0123"])
        // A short secret is refused by name, and the error does not show it.
        do {
            _ = try ConfigurationReader.parse("api:\n  tokens:\n    c: {env: T}\n", environment: { _ in "short-secret" })
            Issue.record("a 12-character token was accepted")
        } catch {
            #expect(error.keyPath == "api.tokens.c")
            #expect(!error.description.contains("short-secret"))
        }
        // An empty variable counts as unset.
        #expect(throws: ConfigurationError.self) {
            try ConfigurationReader.parse("api:\n  tokens:\n    c: {env: T}\n", environment: { _ in "" })
        }
    }

    @Test(arguments: bad)
    func badValuesNameTheKeyPathAndLine(_ b: Bad) {
        do {
            _ = try ConfigurationReader.parse(b.yaml, file: "test.yaml")
            Issue.record("accepted: \(b.yaml)")
        } catch {
            #expect(error.keyPath == b.keyPath)
            #expect(error.line == b.line)
            #expect(error.message.contains(b.fragment), "\(error.message)")
            #expect(error.description.hasPrefix("test.yaml:"))
        }
    }

    /// Issue 12's keys: read, passed down, defaults as documented.
    @Test func limitsAndConnectionCapsAreRead() throws {
        let defaults = try ConfigurationReader.parse("")
        #expect(defaults.limits.specLimits == .standard)
        #expect(defaults.dns.tcpMaxConnectionsPerClient == 16 && !defaults.zones.allowDroppingZones)
        #expect(try defaults.validated().dns.tcpMaxConnectionsPerClient == 16)
        let c = try ConfigurationReader.parse("""
            dns: {tcpMaxConnections: 100, tcpMaxConnectionsPerClient: 4}
            zones: {allowDroppingZones: true}
            limits: {maxTargetsPerNameService: 2000, maxAddressesPerTarget: 8, maxAddressesPerNameService: 2048,
                     maxFailoverRules: 0, maxLabels: 3, maxLabelKeyBytes: 20, maxLabelValueBytes: 10}
            """)
        #expect(try c.validated().dns.tcpMaxConnectionsPerClient == 4)
        // Above the global cap it is the global cap.
        let small = try ConfigurationReader.parse("dns: {tcpMaxConnections: 10}")
        #expect(try small.validated().dns.tcpMaxConnectionsPerClient == 10)
        #expect(c.zones.allowDroppingZones)
        #expect(c.limits.specLimits == SpecLimits(maxTargetsPerNameService: 2000, maxAddressesPerTarget: 8,
                                                  maxAddressesPerNameService: 2048, maxFailoverRules: 0, maxLabels: 3,
                                                  maxLabelKeyBytes: 20, maxLabelValueBytes: 10))
    }

    /// Every `api.*` limit is read, and reaches the API's `APILimits` (issue 12).
    @Test func apiLimitsAreReadAndPassedOn() throws {
        #expect(try ConfigurationReader.parse("api:\n  listen: 127.0.0.1:8080\n").api.limits == APILimits())
        let c = try ConfigurationReader.parse("""
            api:
              threads: 2
              niceness: 5
              maxConnections: 100
              idleTimeoutSeconds: 1.5
              headerTimeoutSeconds: 2
              bodyTimeoutSeconds: 3
              maxHeaderBytes: 8192
              rateLimit: {requestsPerSecond: 0, burst: 7, maxClients: 50}
              watch: {maxBufferBytes: 65536}
            """)
        let l = c.api.limits
        #expect(l.threads == 2 && l.niceness == 5 && l.maxConnections == 100 && l.maxHeaderBytes == 8192)
        #expect(l.idleTimeout == .milliseconds(1500) && l.headerTimeout == .seconds(2) && l.bodyTimeout == .seconds(3))
        #expect(l.rateLimitPerSecond == 0 && l.rateLimitBurst == 7 && l.rateLimitMaxClients == 50)
        #expect(l.watchMaxBufferBytes == 65536)
        let paging = try ConfigurationReader.parse("api:\n  maxListLimit: 2000\n  writeTimeoutSeconds: 2.5\n").api.limits
        #expect(paging.maxListLimit == 2000 && paging.writeTimeout == .milliseconds(2500))
    }

    @Test func listenAddresses() throws {
        #expect(try parseListenAddress("127.0.0.1:8053", keyPath: "x").port == 8053)
        #expect(try parseListenAddress("[::1]:53", keyPath: "x").protocol == .inet6)
        #expect(try parseListenAddress("[2001:db8::1]:5353", keyPath: "x").port == 5353)
        #expect(throws: ConfigurationError.self) { try parseListenAddress("localhost:53", keyPath: "x") }
    }
}

/// The package root, from this file's path (Tests/GlobalDNSAppTests/…).
func repositoryRoot(file: String = #filePath) -> String {
    var parts = file.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}

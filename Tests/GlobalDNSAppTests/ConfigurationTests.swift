import DNSServer
import GlobalDNSApp
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
            """)
        #expect(c.identity == "ns-a")
        #expect(c.dns.udpPayloadSize == 4096)
        #expect(c.dns.tcpIdleTimeoutSeconds == 2.5)
        #expect(c.zones.files == ["a.zone", "b.zone"])
        #expect(c.log.level == .debug)
        #expect(c.log.format == .json)
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
        Bad(yaml: "dns:\n  listen: [\"127.0.0.1\"]\n", keyPath: "dns.listen[0]", line: 2, fragment: "not ADDR:PORT"),
        Bad(yaml: "dns:\n  listen:\n    - 127.0.0.1:53\n    - 127.0.0.1:99999\n", keyPath: "dns.listen[1]", line: 4, fragment: "not a port"),
        Bad(yaml: "dns:\n  listen: [\"300.1.1.1:53\"]\n", keyPath: "dns.listen[0]", line: 2, fragment: "not an IPv4 or IPv6 address"),
        Bad(yaml: "dns:\n  listen: [\"::1:53\"]\n", keyPath: "dns.listen[0]", line: 2, fragment: "[ADDR]:PORT"),
        Bad(yaml: "dns:\n  udpPayloadSize: 100\n", keyPath: "dns.udpPayloadSize", line: 2, fragment: "between 512 and 65535"),
        Bad(yaml: "dns:\n  tcpMaxConnections: many\n", keyPath: "dns.tcpMaxConnections", line: 2, fragment: "integer"),
        Bad(yaml: "dns:\n  listen: 127.0.0.1:53\n", keyPath: "dns.listen", line: 2, fragment: "must be a list"),
        Bad(yaml: "log:\n  level: loud\n", keyPath: "log.level", line: 2, fragment: "not one of"),
        Bad(yaml: "log:\n  format: xml\n", keyPath: "log.format", line: 2, fragment: "logfmt, json"),
        Bad(yaml: "- a\n- b\n", keyPath: "", line: 1, fragment: "must be a mapping"),
        Bad(yaml: "api:\n  listen: 0.0.0.0:8080\n", keyPath: "api.listen", line: 2, fragment: "no API token is configured"),
        Bad(yaml: "api:\n  tokens: {ci: short}\n", keyPath: "api.tokens.ci", line: 2, fragment: "at least 16 characters"),
        Bad(yaml: "api:\n  listen: nowhere\n", keyPath: "api.listen", line: 2, fragment: "not ADDR:PORT"),
        Bad(yaml: "api:\n  tokens: [a, b]\n", keyPath: "api.tokens", line: 2, fragment: "mapping of name: token"),
        Bad(yaml: "state:\n  dir: /tmp\n", keyPath: "state.dir", line: 2, fragment: "unknown key"),
    ]

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

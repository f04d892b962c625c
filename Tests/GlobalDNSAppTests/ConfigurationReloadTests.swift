import GlobalDNSApp
import Logging
import Testing

/// What SIGHUP takes from a re-read configuration file, and what it leaves for a restart.
@Suite struct ConfigurationReloadTests {
    @Test func theStoredPropertiesAreTheYAMLKeys() {
        // The reload compares key by key through the property names; a property named unlike its
        // key (or a key without a property) would be compared wrongly or not at all.
        #expect(Set(GlobalDNSConfiguration().valuesByKeyPath().keys) == ConfigurationReader.keyPaths)
        #expect(GlobalDNSConfiguration.liveKeyPaths.isSubset(of: ConfigurationReader.keyPaths))
    }

    @Test func liveKeysAreAppliedAndTheOthersNamed() throws {
        let running = try ConfigurationReader.parse("""
            identity: ns-a
            dns: {listen: ["127.0.0.1:8053"]}
            api: {tokens: {a: "0123456789abcdef-a", b: "0123456789abcdef-b"}}
            log: {level: info}
            explain: {allow: [127.0.0.0/8]}
            """)
        let file = try ConfigurationReader.parse("""
            identity: ns-a
            dns: {listen: ["127.0.0.1:9053"], tcpMaxConnections: 10}
            state: {directory: /elsewhere}
            api: {tokens: {b: "0123456789abcdef-b", a: "0123456789abcdef-a"}}
            log: {level: debug, format: json}
            explain: {allow: [10.0.0.0/8]}
            zones: {directory: other-zones}
            """)
        let reload = running.reloaded(from: file)
        #expect(reload.changed == ["explain.allow", "log.format", "log.level", "zones.directory"])
        #expect(reload.needsRestart == ["dns.listen", "dns.tcpMaxConnections", "state.directory"])
        #expect(reload.applied.log.level == .debug && reload.applied.log.format == .json)
        #expect(reload.applied.explain.allow == ["10.0.0.0/8"])
        #expect(reload.applied.zones.directory == "other-zones")
        // What needs a restart keeps its running value.
        #expect(reload.applied.dns == running.dns && reload.applied.state == running.state)
        // Unchanged: nothing to do, whatever order the tokens were written in.
        let same = running.reloaded(from: running)
        #expect(same.changed.isEmpty && same.needsRestart.isEmpty && same.applied == running)
    }

    /// Tokens rotate live; the running configuration with the new tokens must still be valid, so
    /// removing every token is refused while the running API listens beyond loopback - even when
    /// the file also moves api.listen to loopback (a key that only a restart applies).
    @Test func tokensRotateLiveButNeverLeaveAPublicAPIOpen() throws {
        let running = try ConfigurationReader.parse("""
            api: {listen: "0.0.0.0:8080", tokens: {ci: "0123456789abcdef-old"}}
            """)
        let rotated = running.reloaded(from: try ConfigurationReader.parse("""
            api: {listen: "0.0.0.0:8080", tokens: {ci: "0123456789abcdef-new", deploy: "0123456789abcdef-dep"}}
            """))
        #expect(rotated.changed == ["api.tokens"] && rotated.needsRestart.isEmpty)
        #expect(rotated.applied.api.tokens == ["ci": "0123456789abcdef-new", "deploy": "0123456789abcdef-dep"])
        _ = try rotated.applied.validated()

        let opened = running.reloaded(from: try ConfigurationReader.parse("""
            api: {listen: "127.0.0.1:8080"}
            """))
        #expect(opened.changed == ["api.tokens"] && opened.needsRestart == ["api.listen"])
        #expect(opened.applied.api.listen == "0.0.0.0:8080")
        #expect(throws: ConfigurationError.self) { try opened.applied.validated() }
    }

    @Test func flagsKeepWinningOverTheFile() throws {
        var flags = ConfigurationOverrides()
        flags.dnsListen = ["127.0.0.1:7053"]
        flags.logLevel = .warning
        flags.environmentToken = "from-GLOBALDNS_API_TOKEN-0123"
        // The environment's token lets the API leave loopback even though the file has none.
        let c = try ConfigurationReader.parse("""
            dns: {listen: ["127.0.0.1:9053"]}
            api: {listen: 0.0.0.0:8080}
            log: {level: debug}
            """, file: "f.yaml", overrides: flags)
        #expect(c.dns.listen == ["127.0.0.1:7053"] && c.log.level == .warning && c.api.tokens["env"] != nil)
        // A bad flag is reported without the file's line.
        flags.dnsListen = ["nowhere"]
        do {
            _ = try ConfigurationReader.parse("dns: {listen: [\"127.0.0.1:9053\"]}\n", file: "f.yaml", overrides: flags)
            Issue.record("a bad --dns-listen was accepted")
        } catch {
            #expect(error.keyPath == "dns.listen[0]" && error.file == nil && error.line == nil, "\(error)")
        }
    }

    @Test func logSettingsChangeHandlersAlreadyMade() {
        let settings = LogSettings(level: .info, format: .logfmt)
        var handler = LineLogHandler(label: "t", settings: settings)
        #expect(handler.logLevel == .info)
        settings.level = .debug
        settings.format = .json
        #expect(handler.logLevel == .debug && settings.format == .json)
        // A handler whose level was set keeps it.
        handler.logLevel = .error
        settings.level = .trace
        #expect(handler.logLevel == .error)
    }
}

import ArgumentParser
import GlobalDNSApp
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `globaldns --config FILE [overrides]`. Exit codes: 0 after a graceful stop, 1 when zones cannot
/// be loaded or a listener cannot be bound, 2 for a configuration or usage error, 3 when a
/// component failed under `lifecycle.onComponentFailure: exit`.
struct GlobalDNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "globaldns",
        abstract: "Authoritative DNS server and global server load balancer.",
        discussion: """
            Without --config, serves every *.zone file in ./zones on 127.0.0.1:8053 and [::1]:8053, the
            NameService API on 127.0.0.1:8080, and keeps NameServices in ./.state.
            API write tokens: api.tokens in the file, or GLOBALDNS_API_TOKEN.
            Relative paths in a configuration file are resolved from the file's directory.
            SIGHUP reloads the zones and the configuration keys that can change live (log level and
            format, zones, localities, defaultLocality, explain.allow); flags keep overriding the file.
            SIGTERM stops accepting, drains TCP connections and exits 0.
            Exit codes: 0 after a graceful stop, 1 when zones, a listener or the store cannot be
            opened, 2 for a configuration or usage error, 3 when a component failed under
            lifecycle.onComponentFailure: exit.

            Store tools: globaldns store copy --from STORE --to STORE moves NameServices between
            stores (sqlite:PATH, etcd:URL[,URL...]); see globaldns store copy --help.
            """)

    @Option(name: .long, help: "Configuration file (YAML); see config/globaldns.yaml.")
    var config: String?

    @Option(name: .customLong("dns-listen"), help: "ADDR:PORT to serve DNS on, UDP and TCP (repeatable; IPv6 as [ADDR]:PORT). Replaces dns.listen.")
    var dnsListen: [String] = []

    @Option(name: .long, help: "Directory whose *.zone files are served. Replaces zones.directory and zones.files.")
    var zones: String?

    @Option(name: .customLong("api-listen"), help: "ADDR:PORT of the NameService HTTP API (default 127.0.0.1:8080). Replaces api.listen.")
    var apiListen: String?

    @Option(name: .long, help: "State directory for the NameService store (default .state). Replaces state.directory.")
    var state: String?

    @Option(name: .long, help: "Server identity for NSID and CH TXT id.server (default: host name).")
    var identity: String?

    @Option(name: .customLong("udp-size"), help: "Advertised EDNS UDP payload size (default 1232).")
    var udpSize: Int?

    @Option(name: .customLong("tcp-idle-timeout"), help: "Seconds a TCP connection may stay without a complete query (default 10).")
    var tcpIdleTimeout: Double?

    @Option(name: .customLong("tcp-max-connections"), help: "Open TCP connections at most (default 1024).")
    var tcpMaxConnections: Int?

    @Option(name: .long, help: "Event loops / UDP sockets (default: one per core).")
    var threads: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Flag(name: .customLong("check"), help: "Load the configuration and zones, report problems, and exit.")
    var check = false

    func run() async throws {
        var cfg = GlobalDNSConfiguration()
        var overrides = ConfigurationOverrides()
        do {
            overrides.dnsListen = dnsListen
            // Paths given as flags are relative to the working directory; a file's to the file.
            overrides.zonesDirectory = zones.map(absolute)
            overrides.stateDirectory = state.map(absolute)
            overrides.identity = identity
            overrides.apiListen = apiListen
            overrides.udpPayloadSize = udpSize
            overrides.tcpIdleTimeoutSeconds = tcpIdleTimeout
            overrides.tcpMaxConnections = tcpMaxConnections
            overrides.threads = threads
            if let logLevel {
                guard let level = Logger.Level(rawValue: logLevel) else {
                    throw ConfigurationError(keyPath: "--log-level", message: "'\(logLevel)' is not a log level")
                }
                overrides.logLevel = level
            }
            // A token from the environment counts when deciding whether the API may leave loopback.
            overrides.environmentToken = ConfigurationReader.processEnvironment("GLOBALDNS_API_TOKEN")
            if let config {
                cfg = try ConfigurationReader.read(file: config, overrides: overrides)
            } else {
                overrides.apply(to: &cfg)
                _ = try cfg.validated()
            }
        } catch let error as ConfigurationError {
            fail("configuration error: \(error)", code: 2)
        }
        let logSettings = LogSettings(level: cfg.log.level, format: cfg.log.format)
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, settings: logSettings) }
        let logger = Logger(label: "globaldns")
        let server: GlobalDNSServer
        do {
            server = try GlobalDNSServer(configuration: cfg, baseDirectory: ConfigurationReader.directory(of: config),
                                         configurationFile: config, overrides: overrides, logSettings: logSettings,
                                         logger: logger)
        } catch let error as ConfigurationError {
            // e.g. an open-file limit too small for limits.fileDescriptorReserve and the minimums
            fail("configuration error: \(error)", code: 2)
        } catch {
            fail("cannot start: \(error)", code: 1)
        }
        if check {
            print("configuration and zones OK")
            return
        }
        server.bootstrapMetricsSystem()
        do {
            try await server.run()
        } catch let error as ComponentFailure {
            fail("stopped: \(error) (lifecycle.onComponentFailure: exit)", code: 3)
        } catch {
            fail("stopped with an error: \(error)", code: 1)
        }
    }

    func fail(_ message: String, code: Int32) -> Never {
        writeToStderr("globaldns: \(message)\n")
        Glibc.exit(code)
    }
}

func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, 4096) != nil else { return path }
    return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
}

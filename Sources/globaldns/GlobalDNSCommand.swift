import ArgumentParser
import GlobalDNSApp
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `globaldns --config FILE [overrides]`. Exit codes: 0 after a graceful stop, 1 when zones cannot
/// be loaded or a listener cannot be bound, 2 for a configuration or usage error.
@main
struct GlobalDNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "globaldns",
        abstract: "Authoritative DNS server and global server load balancer.",
        discussion: """
            Without --config, serves every *.zone file in ./zones on 127.0.0.1:8053 and [::1]:8053, the
            NameService API on 127.0.0.1:8080, and keeps NameServices in ./.state.
            API write tokens: api.tokens in the file, or GLOBALDNS_API_TOKEN.
            Relative paths in a configuration file are resolved from the file's directory.
            SIGHUP reloads zones (a broken zone keeps the old one); SIGTERM drains and stops.
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
        var base = "."
        do {
            if let config {
                cfg = try ConfigurationReader.read(file: config)
                base = ConfigurationReader.directory(of: config)
            }
            if !dnsListen.isEmpty { cfg.dns.listen = dnsListen }
            if let zones {
                cfg.zones.directory = zones
                cfg.zones.files = []
            }
            if let identity { cfg.identity = identity }
            if let apiListen { cfg.api.listen = apiListen }
            if let state { cfg.state.directory = state }
            // A token from the environment counts when deciding whether the API may leave loopback.
            if let env = getenv("GLOBALDNS_API_TOKEN"), !String(cString: env).isEmpty {
                cfg.api.tokens["env"] = String(cString: env)
            }
            if let udpSize { cfg.dns.udpPayloadSize = udpSize }
            if let tcpIdleTimeout { cfg.dns.tcpIdleTimeoutSeconds = tcpIdleTimeout }
            if let tcpMaxConnections { cfg.dns.tcpMaxConnections = tcpMaxConnections }
            if let threads { cfg.dns.threads = threads }
            if let logLevel {
                guard let level = Logger.Level(rawValue: logLevel) else {
                    throw ConfigurationError(keyPath: "--log-level", message: "'\(logLevel)' is not a log level")
                }
                cfg.log.level = level
            }
            _ = try cfg.validated()
        } catch let error as ConfigurationError {
            fail("configuration error: \(error)", code: 2)
        }
        let level = cfg.log.level
        let format = cfg.log.format
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, format: format) }
        let logger = Logger(label: "globaldns")
        // Paths given on the command line are relative to the working directory.
        // Paths given as flags are relative to the working directory; a file's paths to the file.
        if zones != nil, config != nil { cfg.zones.directory = absolute(zones!) }
        if state != nil, config != nil { cfg.state.directory = absolute(state!) }
        let zonesBase = base
        let server: GlobalDNSServer
        do {
            server = try GlobalDNSServer(configuration: cfg, baseDirectory: zonesBase, configurationFile: config, logger: logger)
        } catch {
            fail("cannot start: \(error)", code: 1)
        }
        if check {
            print("configuration and zones OK")
            return
        }
        do {
            try await server.run()
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

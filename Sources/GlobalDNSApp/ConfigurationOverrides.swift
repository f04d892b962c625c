import Logging

/// What the command line (and `GLOBALDNS_API_TOKEN`) changes in the configuration. Kept by the
/// server so a SIGHUP re-read of the file gets the same overrides again: a flag always wins over
/// the file.
public struct ConfigurationOverrides: Sendable, Equatable {
    /// `--dns-listen` (repeatable): replaces `dns.listen`.
    public var dnsListen: [String] = []
    /// `--zones DIR`: replaces `zones.directory` and clears `zones.files`. Absolute, or relative to
    /// the working directory.
    public var zonesDirectory: String?
    public var apiListen: String?
    /// `--state DIR`, like `--zones`.
    public var stateDirectory: String?
    public var identity: String?
    public var udpPayloadSize: Int?
    public var tcpIdleTimeoutSeconds: Double?
    public var tcpMaxConnections: Int?
    public var threads: Int?
    public var logLevel: Logger.Level?
    /// `GLOBALDNS_API_TOKEN`: adds the token named `env`.
    public var environmentToken: String?

    public init() {}

    /// True when `keyPath` (or the list or mapping it is in) is set by a flag.
    public func overrides(keyPath: String) -> Bool {
        var set: [String] = []
        if !dnsListen.isEmpty { set.append("dns.listen") }
        if zonesDirectory != nil { set += ["zones.directory", "zones.files"] }
        if apiListen != nil { set.append("api.listen") }
        if stateDirectory != nil { set.append("state.directory") }
        if identity != nil { set.append("identity") }
        if udpPayloadSize != nil { set.append("dns.udpPayloadSize") }
        if tcpIdleTimeoutSeconds != nil { set.append("dns.tcpIdleTimeoutSeconds") }
        if tcpMaxConnections != nil { set.append("dns.tcpMaxConnections") }
        if threads != nil { set.append("dns.threads") }
        if logLevel != nil { set.append("log.level") }
        return set.contains { keyPath == $0 || keyPath.hasPrefix($0 + "[") || keyPath.hasPrefix($0 + ".") }
    }

    public func apply(to c: inout GlobalDNSConfiguration) {
        if !dnsListen.isEmpty { c.dns.listen = dnsListen }
        if let zonesDirectory {
            c.zones.directory = zonesDirectory
            c.zones.files = []
        }
        if let apiListen { c.api.listen = apiListen }
        if let stateDirectory { c.state.directory = stateDirectory }
        if let identity { c.identity = identity }
        if let udpPayloadSize { c.dns.udpPayloadSize = udpPayloadSize }
        if let tcpIdleTimeoutSeconds { c.dns.tcpIdleTimeoutSeconds = tcpIdleTimeoutSeconds }
        if let tcpMaxConnections { c.dns.tcpMaxConnections = tcpMaxConnections }
        if let threads { c.dns.threads = threads }
        if let logLevel { c.log.level = logLevel }
        if let environmentToken, !environmentToken.isEmpty { c.api.tokens["env"] = environmentToken }
    }
}

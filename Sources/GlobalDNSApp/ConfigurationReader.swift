import GSLB
import Logging
import Yams

/// Reads `globaldns.yaml` strictly: unknown keys, wrong types and bad values are errors that name
/// the key path and the line, before anything listens.
public enum ConfigurationReader {
    /// Every key the reader accepts, by section ("" is the top level). A top-level key that is
    /// not a section here holds a value. `config/globaldns.yaml` documents exactly these (a test
    /// checks it).
    public static let sections: [String: [String]] = [
        "": ["identity", "localities", "defaultLocality", "explain", "upstream", "healthCheck", "limits", "dns", "zones", "api",
             "state", "store", "replica", "log", "lifecycle", "metrics", "queryLog"],
        "explain": ["allow"],
        "upstream": ["resolvers", "timeoutSeconds", "attempts", "minRefreshSeconds", "maxRefreshSeconds",
                     "retryAfterFailureSeconds"],
        "healthCheck": ["intervalSeconds", "timeoutSeconds", "failureThreshold", "successThreshold", "initialDelaySeconds",
                        "threads", "summarySeconds", "maxConcurrentProbes", "maxProbedAddresses"],
        "limits": ["maxTargetsPerNameService", "maxAddressesPerTarget", "maxAddressesPerNameService", "maxFailoverRules",
                   "maxLabels", "maxLabelKeyBytes", "maxLabelValueBytes", "fileDescriptorReserve"],
        "dns": ["listen", "udpPayloadSize", "tcpIdleTimeoutSeconds", "tcpMaxConnections", "tcpMaxConnectionsPerClient", "threads",
                "drainTimeoutSeconds", "maxCNAMEChain"],
        "zones": ["directory", "files", "allowDroppingZones"],
        "api": ["listen", "tokens", "maxBodyBytes", "threads", "niceness", "maxConnections", "idleTimeoutSeconds",
                "headerTimeoutSeconds", "bodyTimeoutSeconds", "maxHeaderBytes", "rateLimit", "watch",
                "maxListLimit", "writeTimeoutSeconds", "maxConnectionsPerClient", "maxRequestsInFlightPerClient",
                "maxListsInFlightPerClient", "overloadWaitSeconds"],
        "api.rateLimit": ["requestsPerSecond", "burst", "maxClients"],
        "api.watch": ["maxBufferBytes", "maxPerClient"],
        "state": ["directory"],
        "store": ["type", "sqlite", "etcd", "history", "writeTimeoutSeconds"],
        "store.history": ["maxEvents", "maxBytes", "maxAgeSeconds"],
        "store.sqlite": ["path", "maxBatch"],
        "store.etcd": ["endpoints", "prefix", "dialTimeoutSeconds", "requestTimeoutSeconds", "keepaliveSeconds", "username",
                       "tls", "watchMaxBufferBytes"],
        "store.etcd.tls": ["caFile", "certFile", "keyFile", "serverName"],
        "replica": ["name"],
        "log": ["level", "format"],
        "lifecycle": ["onComponentFailure"],
        "metrics": ["enabled"],
        "queryLog": ["sampleRate"],
    ]

    /// Every accepted key path: `identity`, `dns.listen`, `store.etcd.tls.caFile`, … (sections
    /// themselves are not listed).
    public static var keyPaths: Set<String> {
        func expand(_ section: String) -> [String] {
            sections[section]!.flatMap { key -> [String] in
                let path = section.isEmpty ? key : section + "." + key
                return sections[path] != nil ? expand(path) : [path]
            }
        }
        return Set(expand(""))
    }

    static func keys(_ section: String) -> Set<String> { Set(sections[section]!) }

    /// Looks up an environment variable (the process environment unless a test injects one).
    public typealias Environment = (String) -> String?

    /// The process environment.
    public static func processEnvironment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The directory relative paths in `file` are resolved from ("." without a file).
    public static func directory(of file: String?) -> String {
        guard let file, let slash = file.lastIndex(of: "/") else { return "." }
        let dir = String(file[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// Reads `file`; `overrides` (the command line) are applied before the values are checked, so
    /// a flag can fix what the file alone would not allow (GLOBALDNS_API_TOKEN for an API beyond
    /// loopback).
    public static func read(file: String, environment: Environment = processEnvironment,
                            overrides: ConfigurationOverrides = .init()) throws(ConfigurationError) -> GlobalDNSConfiguration {
        let text: String
        do {
            text = try readTextFile(file)
        } catch {
            throw ConfigurationError(file: file, keyPath: "", message: "cannot read: \(error)")
        }
        return try parse(text, file: file, environment: environment, overrides: overrides)
    }

    /// `environment` supplies the secrets named by `{env: VARIABLE}`.
    public static func parse(_ text: String, file: String? = nil, environment: Environment = processEnvironment,
                             overrides: ConfigurationOverrides = .init()) throws(ConfigurationError) -> GlobalDNSConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: file, keyPath: "", message: "not valid YAML: \(error)")
        }
        var config = GlobalDNSConfiguration()
        guard let root else {
            overrides.apply(to: &config)
            _ = try config.validated()
            return config
        }
        let r = NodeReader(file: file)
        let top = try r.mapping(root, path: "", keys: keys(""))
        if let v = top["identity"] { config.identity = try r.string(v, path: "identity") }
        try r.readStore(top, into: &config)
        if let v = top["localities"] {
            if case .scalar(let path) = v {
                config.localities = .file(path.string)
            } else {
                let entries = try r.localityEntries(v, path: "localities")
                do { _ = try LocalityTable(entries: entries, field: "localities") } catch {
                    let p = error.problems[0]
                    throw r.error(r.node(atPath: p.field, in: root) ?? v, p.field, p.message)
                }
                config.localities = .inline(entries)
            }
        }
        if let v = top["defaultLocality"] { config.defaultLocality = try r.string(v, path: "defaultLocality") }
        if let explain = top["explain"] {
            let m = try r.mapping(explain, path: "explain", keys: keys("explain"))
            if let v = m["allow"] { config.explain.allow = try r.strings(v, path: "explain.allow") }
        }
        if let upstream = top["upstream"] {
            let m = try r.mapping(upstream, path: "upstream", keys: keys("upstream"))
            if let v = m["resolvers"] { config.upstream.resolvers = try r.strings(v, path: "upstream.resolvers") }
            if let v = m["timeoutSeconds"] { config.upstream.timeoutSeconds = try r.double(v, path: "upstream.timeoutSeconds") }
            if let v = m["attempts"] { config.upstream.attempts = try r.int(v, path: "upstream.attempts") }
            if let v = m["minRefreshSeconds"] { config.upstream.minRefreshSeconds = try r.double(v, path: "upstream.minRefreshSeconds") }
            if let v = m["maxRefreshSeconds"] { config.upstream.maxRefreshSeconds = try r.double(v, path: "upstream.maxRefreshSeconds") }
            if let v = m["retryAfterFailureSeconds"] {
                config.upstream.retryAfterFailureSeconds = try r.double(v, path: "upstream.retryAfterFailureSeconds")
            }
        }
        if let hc = top["healthCheck"] {
            let m = try r.mapping(hc, path: "healthCheck", keys: keys("healthCheck"))
            if let v = m["intervalSeconds"] { config.healthCheck.intervalSeconds = try r.double(v, path: "healthCheck.intervalSeconds") }
            if let v = m["timeoutSeconds"] { config.healthCheck.timeoutSeconds = try r.double(v, path: "healthCheck.timeoutSeconds") }
            if let v = m["failureThreshold"] { config.healthCheck.failureThreshold = try r.int(v, path: "healthCheck.failureThreshold") }
            if let v = m["successThreshold"] { config.healthCheck.successThreshold = try r.int(v, path: "healthCheck.successThreshold") }
            if let v = m["initialDelaySeconds"] {
                config.healthCheck.initialDelaySeconds = try r.double(v, path: "healthCheck.initialDelaySeconds")
            }
            if let v = m["threads"] { config.healthCheck.threads = try r.int(v, path: "healthCheck.threads") }
            if let v = m["summarySeconds"] { config.healthCheck.summarySeconds = try r.double(v, path: "healthCheck.summarySeconds") }
            if let v = m["maxConcurrentProbes"] {
                config.healthCheck.maxConcurrentProbes = try r.int(v, path: "healthCheck.maxConcurrentProbes")
            }
            if let v = m["maxProbedAddresses"] {
                config.healthCheck.maxProbedAddresses = try r.int(v, path: "healthCheck.maxProbedAddresses")
            }
        }
        if let limits = top["limits"] {
            let m = try r.mapping(limits, path: "limits", keys: keys("limits"))
            func read(_ key: String, _ value: inout Int) throws(ConfigurationError) {
                if let v = m[key] { value = try r.int(v, path: "limits.\(key)") }
            }
            try read("maxTargetsPerNameService", &config.limits.maxTargetsPerNameService)
            try read("maxAddressesPerTarget", &config.limits.maxAddressesPerTarget)
            try read("maxAddressesPerNameService", &config.limits.maxAddressesPerNameService)
            try read("maxFailoverRules", &config.limits.maxFailoverRules)
            try read("maxLabels", &config.limits.maxLabels)
            try read("maxLabelKeyBytes", &config.limits.maxLabelKeyBytes)
            try read("maxLabelValueBytes", &config.limits.maxLabelValueBytes)
            try read("fileDescriptorReserve", &config.limits.fileDescriptorReserve)
        }
        if let dns = top["dns"] {
            let m = try r.mapping(dns, path: "dns", keys: keys("dns"))
            if let v = m["listen"] { config.dns.listen = try r.strings(v, path: "dns.listen") }
            if let v = m["udpPayloadSize"] { config.dns.udpPayloadSize = try r.int(v, path: "dns.udpPayloadSize") }
            if let v = m["tcpIdleTimeoutSeconds"] { config.dns.tcpIdleTimeoutSeconds = try r.double(v, path: "dns.tcpIdleTimeoutSeconds") }
            if let v = m["tcpMaxConnections"] { config.dns.tcpMaxConnections = try r.int(v, path: "dns.tcpMaxConnections") }
            if let v = m["tcpMaxConnectionsPerClient"] {
                config.dns.tcpMaxConnectionsPerClient = try r.int(v, path: "dns.tcpMaxConnectionsPerClient")
            }
            if let v = m["threads"] { config.dns.threads = try r.int(v, path: "dns.threads") }
            if let v = m["drainTimeoutSeconds"] { config.dns.drainTimeoutSeconds = try r.double(v, path: "dns.drainTimeoutSeconds") }
            if let v = m["maxCNAMEChain"] { config.dns.maxCNAMEChain = try r.int(v, path: "dns.maxCNAMEChain") }
        }
        if let zones = top["zones"] {
            let m = try r.mapping(zones, path: "zones", keys: keys("zones"))
            if let v = m["directory"] { config.zones.directory = try r.string(v, path: "zones.directory") }
            if let v = m["files"] { config.zones.files = try r.strings(v, path: "zones.files") }
            if let v = m["allowDroppingZones"] { config.zones.allowDroppingZones = try r.bool(v, path: "zones.allowDroppingZones") }
        }
        if let api = top["api"] {
            let m = try r.mapping(api, path: "api", keys: keys("api"))
            if let v = m["listen"] { config.api.listen = try r.string(v, path: "api.listen") }
            if let v = m["maxBodyBytes"] { config.api.maxBodyBytes = try r.int(v, path: "api.maxBodyBytes") }
            if let v = m["threads"] { config.api.threads = try r.int(v, path: "api.threads") }
            if let v = m["niceness"] { config.api.niceness = try r.int(v, path: "api.niceness") }
            if let v = m["maxConnections"] { config.api.maxConnections = try r.int(v, path: "api.maxConnections") }
            if let v = m["idleTimeoutSeconds"] { config.api.idleTimeoutSeconds = try r.double(v, path: "api.idleTimeoutSeconds") }
            if let v = m["headerTimeoutSeconds"] { config.api.headerTimeoutSeconds = try r.double(v, path: "api.headerTimeoutSeconds") }
            if let v = m["bodyTimeoutSeconds"] { config.api.bodyTimeoutSeconds = try r.double(v, path: "api.bodyTimeoutSeconds") }
            if let v = m["maxHeaderBytes"] { config.api.maxHeaderBytes = try r.int(v, path: "api.maxHeaderBytes") }
            if let v = m["maxConnectionsPerClient"] {
                config.api.maxConnectionsPerClient = try r.int(v, path: "api.maxConnectionsPerClient")
            }
            if let v = m["maxRequestsInFlightPerClient"] {
                config.api.maxRequestsInFlightPerClient = try r.int(v, path: "api.maxRequestsInFlightPerClient")
            }
            if let v = m["overloadWaitSeconds"] { config.api.overloadWaitSeconds = try r.double(v, path: "api.overloadWaitSeconds") }
            if let v = m["maxListsInFlightPerClient"] {
                config.api.maxListsInFlightPerClient = try r.int(v, path: "api.maxListsInFlightPerClient")
            }
            if let v = m["maxListLimit"] { config.api.maxListLimit = try r.int(v, path: "api.maxListLimit") }
            if let v = m["writeTimeoutSeconds"] { config.api.writeTimeoutSeconds = try r.double(v, path: "api.writeTimeoutSeconds") }
            if let v = m["rateLimit"] {
                let rl = try r.mapping(v, path: "api.rateLimit", keys: keys("api.rateLimit"))
                if let v = rl["requestsPerSecond"] {
                    config.api.rateLimit.requestsPerSecond = try r.double(v, path: "api.rateLimit.requestsPerSecond")
                }
                if let v = rl["burst"] { config.api.rateLimit.burst = try r.int(v, path: "api.rateLimit.burst") }
                if let v = rl["maxClients"] { config.api.rateLimit.maxClients = try r.int(v, path: "api.rateLimit.maxClients") }
            }
            if let v = m["watch"] {
                let w = try r.mapping(v, path: "api.watch", keys: keys("api.watch"))
                if let v = w["maxBufferBytes"] { config.api.watch.maxBufferBytes = try r.int(v, path: "api.watch.maxBufferBytes") }
                if let v = w["maxPerClient"] { config.api.watch.maxPerClient = try r.int(v, path: "api.watch.maxPerClient") }
            }
            if let v = m["tokens"] {
                guard case .mapping(let tokens) = v else {
                    throw r.error(v, "api.tokens", "must be a mapping of name: token, {env: VARIABLE} or {file: PATH}")
                }
                for (k, t) in tokens {
                    guard case .scalar(let key) = k else { throw r.error(k, "api.tokens", "names must be strings") }
                    config.api.tokens[key.string] = try r.secret(t, path: "api.tokens.\(key.string)",
                                                                 base: directory(of: file), environment: environment)
                }
            }
        }
        if let state = top["state"] {
            let m = try r.mapping(state, path: "state", keys: keys("state"))
            if let v = m["directory"] { config.state.directory = try r.string(v, path: "state.directory") }
        }
        if let log = top["log"] {
            let m = try r.mapping(log, path: "log", keys: keys("log"))
            if let v = m["level"] {
                let s = try r.string(v, path: "log.level")
                guard let level = Logger.Level(rawValue: s) else {
                    throw r.error(v, "log.level", "'\(s)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                config.log.level = level
            }
            if let v = m["format"] {
                let s = try r.string(v, path: "log.format")
                guard let format = LogFormat(rawValue: s) else {
                    throw r.error(v, "log.format", "'\(s)' is not one of logfmt, json")
                }
                config.log.format = format
            }
        }
        if let metrics = top["metrics"] {
            let m = try r.mapping(metrics, path: "metrics", keys: keys("metrics"))
            if let v = m["enabled"] { config.metrics.enabled = try r.bool(v, path: "metrics.enabled") }
        }
        if let queryLog = top["queryLog"] {
            let m = try r.mapping(queryLog, path: "queryLog", keys: keys("queryLog"))
            if let v = m["sampleRate"] { config.queryLog.sampleRate = try r.double(v, path: "queryLog.sampleRate") }
        }
        if let lifecycle = top["lifecycle"] {
            let m = try r.mapping(lifecycle, path: "lifecycle", keys: keys("lifecycle"))
            if let v = m["onComponentFailure"] {
                let s = try r.string(v, path: "lifecycle.onComponentFailure")
                guard let policy = ComponentFailurePolicy(rawValue: s) else {
                    throw r.error(v, "lifecycle.onComponentFailure", "'\(s)' is not one of keepServing, exit")
                }
                config.lifecycle.onComponentFailure = policy
            }
        }
        overrides.apply(to: &config)
        // Values are checked here too, so a bad file fails with its line (a bad flag without one).
        do {
            _ = try config.validated()
        } catch {
            if overrides.overrides(keyPath: error.keyPath) { throw error }
            let line = r.line(ofPath: error.keyPath, in: root)
            throw ConfigurationError(file: file, line: line, keyPath: error.keyPath, message: error.message)
        }
        return config
    }
}

/// Typed access to YAML nodes with errors that carry the key path and line.
struct NodeReader {
    let file: String?

    func error(_ node: Node, _ path: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, line: node.mark.map { $0.line }, keyPath: path, message: message)
    }

    func mapping(_ node: Node, path: String, keys: Set<String>) throws(ConfigurationError) -> [String: Node] {
        guard case .mapping(let m) = node else { throw error(node, path, "must be a mapping") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard case .scalar(let key) = k else { throw error(k, path, "keys must be strings") }
            let full = path.isEmpty ? key.string : path + "." + key.string
            guard keys.contains(key.string) else {
                throw error(k, full, "unknown key (known here: \(keys.sorted().joined(separator: ", ")))")
            }
            guard out[key.string] == nil else { throw error(k, full, "duplicate key") }
            out[key.string] = v
        }
        return out
    }

    func string(_ node: Node, path: String) throws(ConfigurationError) -> String {
        guard case .scalar(let s) = node else { throw error(node, path, "must be a string") }
        return s.string
    }

    func int(_ node: Node, path: String) throws(ConfigurationError) -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string) else { throw error(node, path, "must be an integer") }
        return v
    }

    func double(_ node: Node, path: String) throws(ConfigurationError) -> Double {
        guard case .scalar(let s) = node, let v = Double(s.string) else { throw error(node, path, "must be a number") }
        return v
    }

    func bool(_ node: Node, path: String) throws(ConfigurationError) -> Bool {
        guard case .scalar(let s) = node, s.string == "true" || s.string == "false" else {
            throw error(node, path, "must be true or false")
        }
        return s.string == "true"
    }

    func strings(_ node: Node, path: String) throws(ConfigurationError) -> [String] {
        guard case .sequence(let seq) = node else { throw error(node, path, "must be a list") }
        var out: [String] = []
        for (i, item) in seq.enumerated() { out.append(try string(item, path: "\(path)[\(i)]")) }
        return out
    }

    /// A secret such as an API token: written inline, `{env: VARIABLE}` (from the environment) or
    /// `{file: PATH}` (the file's contents less trailing white space, as Docker and Kubernetes
    /// mount secrets; relative to `base`). A missing or empty source is an error naming the key
    /// path; the value itself never appears in an error.
    func secret(_ node: Node, path: String, base: String,
                environment: ConfigurationReader.Environment) throws(ConfigurationError) -> String {
        if case .scalar(let s) = node { return s.string }
        let m = try mapping(node, path: path, keys: ["env", "file"])
        guard m.count == 1 else { throw error(node, path, "give exactly one of env: VARIABLE or file: PATH") }
        if let v = m["env"] {
            let name = try string(v, path: path + ".env")
            guard let value = environment(name), !value.isEmpty else {
                throw error(v, path + ".env", "the environment variable \(name) is not set or empty")
            }
            return value
        }
        let v = m["file"]!
        let name = try string(v, path: path + ".file")
        let full = GlobalDNSServer.resolve(name, base: base)
        let text: String
        do { text = try readTextFile(full) } catch {
            throw self.error(v, path + ".file", "cannot read \(full): \(error)")
        }
        let value = String(text.reversed().drop(while: { $0.isWhitespace }).reversed())
        guard !value.isEmpty else { throw error(v, path + ".file", "\(full) is empty") }
        return value
    }

    /// A list of `{cidr: ..., locality: ...}` mappings.
    func localityEntries(_ node: Node, path: String) throws(ConfigurationError) -> [LocalityTable.Entry] {
        guard case .sequence(let seq) = node else {
            throw error(node, path, "must be a list of {cidr, locality} pairs, or the path of a file holding one")
        }
        var out: [LocalityTable.Entry] = []
        for (i, item) in seq.enumerated() {
            let m = try mapping(item, path: "\(path)[\(i)]", keys: ["cidr", "locality"])
            guard let cidr = m["cidr"] else { throw error(item, "\(path)[\(i)].cidr", "is required") }
            guard let locality = m["locality"] else { throw error(item, "\(path)[\(i)].locality", "is required") }
            out.append(LocalityTable.Entry(cidr: try string(cidr, path: "\(path)[\(i)].cidr"),
                                           locality: try string(locality, path: "\(path)[\(i)].locality")))
        }
        return out
    }

    /// The node at `a.b[2].c`, if the document has it.
    func node(atPath path: String, in root: Node) -> Node? {
        let walk = walk(path, in: root)
        return walk.complete ? walk.node : nil
    }

    /// The line of `a.b[2]` in the document, for errors found after reading: the deepest node of
    /// the path the document has.
    func line(ofPath path: String, in root: Node) -> Int? {
        walk(path, in: root).node.mark?.line
    }

    /// Follows `a.b[2].c` from `root` as far as the document goes.
    private func walk(_ path: String, in root: Node) -> (node: Node, complete: Bool) {
        var node = root
        for part in path.split(separator: ".") {
            var key = Substring(part)
            var index: Int?
            if let open = part.firstIndex(of: "["), let close = part.firstIndex(of: "]") {
                key = part[..<open]
                index = Int(part[part.index(after: open)..<close])
            }
            if !key.isEmpty {
                guard case .mapping(let m) = node, let next = m[Node(String(key))] else { return (node, false) }
                node = next
            }
            if let index {
                guard case .sequence(let seq) = node, seq.indices.contains(index) else { return (node, false) }
                node = seq[index]
            }
        }
        return (node, true)
    }
}

/// Reads a whole file as UTF-8 without Foundation.
func readTextFile(_ path: String) throws(FileReadError) -> String {
    guard let f = fopen(path, "rb") else { throw FileReadError(path: path, errno: errno) }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, f) }
        if n > 0 { bytes += chunk[0..<n] }
        if n < 65536 { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}

struct FileReadError: Error, CustomStringConvertible {
    let path: String
    let errno: Int32
    var description: String { String(cString: strerror(errno)) }
}

#if canImport(Glibc)
import Glibc
#endif

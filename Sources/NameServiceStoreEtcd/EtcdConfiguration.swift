/// How to reach etcd: the cluster's client endpoints, the key prefix, timeouts, and the
/// authentication and TLS options etcd offers.
public struct EtcdConfiguration: Sendable, Equatable {
    public struct TLS: Sendable, Equatable {
        /// PEM bundle of the CAs that sign the etcd members' certificates (default: the system's).
        public var caFile: String?
        /// Client certificate and key (PEM) when etcd requires client certificates.
        public var certFile: String?
        public var keyFile: String?
        /// The DNS name the members' certificates are checked against (and sent as SNI); default: the
        /// endpoint's host when it is a name. An IP endpoint without it is checked against the
        /// certificate's IP addresses. (swift-nio-ssl also accepts a certificate that names the IP
        /// address connected to, whatever the name.) An IP address here is refused: SNI carries names.
        public var serverName: String?

        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.serverName = serverName
        }
    }

    /// Client URLs of the members: `http://127.0.0.1:2379`, `https://etcd-1:2379`, or `HOST:PORT`
    /// (https when `tls` is set; an https endpoint without `tls` trusts the system's roots). Requests go to one and fail over to the next on connection errors.
    public var endpoints: [String]
    /// Every key of this store starts with it; several deployments can share one etcd.
    public var prefix: String
    /// Bounds a TCP (and TLS) connect to one member.
    public var dialTimeoutSeconds: Double
    /// Bounds one request to one member after connecting.
    public var requestTimeoutSeconds: Double
    /// How often an open watch checks that its member still answers with a quorum (a dead
    /// connection or a partitioned member is then left for another one).
    public var keepaliveSeconds: Double
    /// etcd user (authentication enabled); the password comes from the caller (an environment
    /// variable, never the configuration file).
    public var username: String?
    public var password: String?
    public var tls: TLS?
    /// A watch stream whose consumer has not taken this many bytes of events (their documents)
    /// ends with `.compacted` (HTTP 410 Expired: relist) instead of buffering more. The default
    /// (64 MiB, the SQLite history's default) leaves room for the reconciler's own watch, which
    /// reads nothing while a flush writes every changed status (issue 13 makes those bursts small).
    public var watchMaxBufferBytes: Int = EtcdConfiguration.defaultWatchMaxBufferBytes

    public static let defaultPrefix = "/globaldns/"
    public static let defaultWatchMaxBufferBytes = 64 << 20

    public init(endpoints: [String], prefix: String = EtcdConfiguration.defaultPrefix, dialTimeoutSeconds: Double = 2,
                requestTimeoutSeconds: Double = 5, keepaliveSeconds: Double = 5, username: String? = nil,
                password: String? = nil, tls: TLS? = nil) {
        self.endpoints = endpoints
        self.prefix = prefix
        self.dialTimeoutSeconds = dialTimeoutSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.keepaliveSeconds = keepaliveSeconds
        self.username = username
        self.password = password
        self.tls = tls
    }
}

/// One member's client URL, parsed.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool

    /// `http://HOST:PORT`, `https://HOST:PORT`, `HOST:PORT`, `[V6]:PORT`; nil when unreadable.
    public init?(parsing text: String, tlsByDefault: Bool) {
        var rest = Substring(text)
        var tls = tlsByDefault
        if rest.hasPrefix("https://") {
            tls = true
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("http://") {
            tls = false
            rest = rest.dropFirst(7)
        }
        while rest.last == "/" { rest = rest.dropLast() }
        let host: Substring
        let port: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            port = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":"), !rest[..<colon].contains(":") else { return nil }
            host = rest[..<colon]
            port = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains("/"), let p = Int(port), (1...65535).contains(p) else { return nil }
        self.host = String(host)
        self.port = p
        self.tls = tls
    }

    /// Whether `host` is an IPv4 or IPv6 address (not a name).
    public static func isIPAddress(_ host: String) -> Bool { NameServiceStoreEtcd.isIPAddress(host) }

    public var description: String {
        "\(tls ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}

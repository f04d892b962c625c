import NameServiceStore
import NameServiceStoreEtcd
import Yams

#if canImport(Glibc)
import Glibc
#endif

extension GlobalDNSConfiguration {
    /// Where NameServices live: the embedded SQLite file (one node) or an etcd cluster (many
    /// replicas serving the same NameServices).
    public struct Store: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            case sqlite
            case etcd
        }

        public struct SQLite: Sendable, Equatable {
            /// The database file; empty: `<state.directory>/nameservices.db`.
            public var path: String = ""
            /// Writes committed in one transaction (one fsync) at most: concurrent writes share
            /// a commit (group commit).
            public var maxBatch: Int = SQLiteNameServiceStore.defaultMaxBatch
        }

        public struct Etcd: Sendable, Equatable {
            public struct TLS: Sendable, Equatable {
                public var caFile: String?
                public var certFile: String?
                public var keyFile: String?
                public var serverName: String?
            }

            /// Client URLs of the members (`http://10.0.0.1:2379`, `https://etcd-1:2379`, `HOST:PORT`).
            public var endpoints: [String] = []
            public var prefix: String = EtcdConfiguration.defaultPrefix
            public var dialTimeoutSeconds: Double = 2
            public var requestTimeoutSeconds: Double = 5
            public var keepaliveSeconds: Double = 5
            /// etcd user; its password comes from `GLOBALDNS_ETCD_PASSWORD`, never from the file.
            public var username: String?
            public var tls: TLS?
            /// Unread bytes of events a watch stream may hold before it ends with 410 (relist).
            public var watchMaxBufferBytes: Int = EtcdConfiguration.defaultWatchMaxBufferBytes
        }

        /// The SQLite store's watch history (etcd keeps and compacts its own).
        public struct History: Sendable, Equatable {
            /// At most this many events.
            public var maxEvents: Int = EventHistoryLimits.defaultMaxEvents
            /// At most this many bytes of event documents (64 MiB).
            public var maxBytes: Int = EventHistoryLimits.defaultMaxBytes
            /// Events older than this are compacted.
            public var maxAgeSeconds: Double = 600
        }

        public var type: Kind = .sqlite
        public var sqlite = SQLite()
        public var etcd = Etcd()
        public var history = History()
        /// How long a SQLite write waits for the disk before it fails with 503 (outcome unknown);
        /// a store whose oldest pending write is older than this is not ready.
        public var writeTimeoutSeconds: Double = 5

        /// `history` as the store takes it (valid once `validateStore` passed).
        public var historyLimits: EventHistoryLimits {
            EventHistoryLimits(maxEvents: history.maxEvents, maxBytes: history.maxBytes, maxAge: .seconds(history.maxAgeSeconds))
        }
    }

    /// This process among the replicas sharing an etcd store.
    public struct Replica: Sendable, Equatable {
        /// Its name in `status.replicas`; empty: the server identity (default the host name).
        public var name: String = ""
    }

    /// The environment variable holding the etcd user's password.
    public static let etcdPasswordVariable = "GLOBALDNS_ETCD_PASSWORD"

    /// The etcd store's configuration (`store.etcd`, the password from the environment).
    public func etcdConfiguration() -> EtcdConfiguration {
        let e = store.etcd
        var password: String?
        if let p = getenv(Self.etcdPasswordVariable) { password = String(cString: p) }
        var configuration = EtcdConfiguration(
            endpoints: e.endpoints, prefix: e.prefix, dialTimeoutSeconds: e.dialTimeoutSeconds,
            requestTimeoutSeconds: e.requestTimeoutSeconds, keepaliveSeconds: e.keepaliveSeconds,
            username: e.username, password: password,
            tls: e.tls.map { EtcdConfiguration.TLS(caFile: $0.caFile, certFile: $0.certFile, keyFile: $0.keyFile,
                                                   serverName: $0.serverName) })
        configuration.watchMaxBufferBytes = e.watchMaxBufferBytes
        return configuration
    }

    /// Checks `store.*` and `replica.*`; errors name the key path.
    func validateStore() throws(ConfigurationError) {
        let h = store.history
        guard (1...100_000_000).contains(h.maxEvents) else {
            throw ConfigurationError(keyPath: "store.history.maxEvents", message: "must be in [1, 100000000], not \(h.maxEvents)")
        }
        guard (1024...(1 << 40)).contains(h.maxBytes) else {
            throw ConfigurationError(keyPath: "store.history.maxBytes", message: "must be in [1024, 1099511627776], not \(h.maxBytes)")
        }
        guard h.maxAgeSeconds > 0, h.maxAgeSeconds <= 604_800 else {
            throw ConfigurationError(keyPath: "store.history.maxAgeSeconds", message: "must be in (0, 604800], not \(h.maxAgeSeconds)")
        }
        guard (1...100_000).contains(store.sqlite.maxBatch) else {
            throw ConfigurationError(keyPath: "store.sqlite.maxBatch", message: "must be in [1, 100000], not \(store.sqlite.maxBatch)")
        }
        guard store.writeTimeoutSeconds > 0, store.writeTimeoutSeconds <= 3600 else {
            throw ConfigurationError(keyPath: "store.writeTimeoutSeconds", message: "must be in (0, 3600], not \(store.writeTimeoutSeconds)")
        }
        guard (1024...(1 << 40)).contains(store.etcd.watchMaxBufferBytes) else {
            throw ConfigurationError(keyPath: "store.etcd.watchMaxBufferBytes",
                                     message: "must be in [1024, 1099511627776], not \(store.etcd.watchMaxBufferBytes)")
        }
        guard store.type == .etcd else { return }
        let e = store.etcd
        guard !e.endpoints.isEmpty else {
            throw ConfigurationError(keyPath: "store.etcd.endpoints", message: "at least one endpoint is required with store.type etcd")
        }
        for (i, text) in e.endpoints.enumerated() where EtcdEndpoint(parsing: text, tlsByDefault: e.tls != nil) == nil {
            throw ConfigurationError(keyPath: "store.etcd.endpoints[\(i)]", message: "'\(text)' is not http(s)://HOST:PORT or HOST:PORT")
        }
        guard e.prefix.hasPrefix("/"), e.prefix.count > 1 else {
            throw ConfigurationError(keyPath: "store.etcd.prefix", message: "must start with / and name something, not '\(e.prefix)'")
        }
        for (key, value) in [("dialTimeoutSeconds", e.dialTimeoutSeconds), ("requestTimeoutSeconds", e.requestTimeoutSeconds),
                             ("keepaliveSeconds", e.keepaliveSeconds)] where !(value > 0 && value <= 300) {
            throw ConfigurationError(keyPath: "store.etcd.\(key)", message: "must be in (0, 300], not \(value)")
        }
        if let tls = e.tls, (tls.certFile == nil) != (tls.keyFile == nil) {
            throw ConfigurationError(keyPath: "store.etcd.tls", message: "certFile and keyFile go together")
        }
        if let name = e.tls?.serverName, EtcdEndpoint.isIPAddress(name) || !Self.isHostName(name) {
            throw ConfigurationError(keyPath: "store.etcd.tls.serverName",
                                     message: "'\(name)' is not a DNS name (an IP endpoint is checked against the certificate's IP addresses without it)")
        }
        if e.username != nil, getenv(Self.etcdPasswordVariable) == nil {
            throw ConfigurationError(keyPath: "store.etcd.username",
                                     message: "a user needs its password in the environment variable \(Self.etcdPasswordVariable)")
        }
    }
}

extension NodeReader {
    /// `store:` and `replica:`.
    func readStore(_ top: [String: Node], into config: inout GlobalDNSConfiguration) throws(ConfigurationError) {
        if let replica = top["replica"] {
            let m = try mapping(replica, path: "replica", keys: ConfigurationReader.keys("replica"))
            if let v = m["name"] { config.replica.name = try string(v, path: "replica.name") }
        }
        guard let node = top["store"] else { return }
        let m = try mapping(node, path: "store", keys: ConfigurationReader.keys("store"))
        if let v = m["type"] {
            let s = try string(v, path: "store.type")
            guard let kind = GlobalDNSConfiguration.Store.Kind(rawValue: s) else {
                throw error(v, "store.type", "'\(s)' is not one of sqlite, etcd")
            }
            config.store.type = kind
        }
        if let v = m["writeTimeoutSeconds"] { config.store.writeTimeoutSeconds = try double(v, path: "store.writeTimeoutSeconds") }
        if let history = m["history"] {
            let h = try mapping(history, path: "store.history", keys: ConfigurationReader.keys("store.history"))
            if let v = h["maxEvents"] { config.store.history.maxEvents = try int(v, path: "store.history.maxEvents") }
            if let v = h["maxBytes"] { config.store.history.maxBytes = try int(v, path: "store.history.maxBytes") }
            if let v = h["maxAgeSeconds"] { config.store.history.maxAgeSeconds = try double(v, path: "store.history.maxAgeSeconds") }
        }
        if let sqlite = m["sqlite"] {
            let s = try mapping(sqlite, path: "store.sqlite", keys: ConfigurationReader.keys("store.sqlite"))
            if let v = s["path"] { config.store.sqlite.path = try string(v, path: "store.sqlite.path") }
            if let v = s["maxBatch"] { config.store.sqlite.maxBatch = try int(v, path: "store.sqlite.maxBatch") }
        }
        if let etcd = m["etcd"] {
            let e = try mapping(etcd, path: "store.etcd", keys: ConfigurationReader.keys("store.etcd"))
            if let v = e["endpoints"] { config.store.etcd.endpoints = try strings(v, path: "store.etcd.endpoints") }
            if let v = e["prefix"] { config.store.etcd.prefix = try string(v, path: "store.etcd.prefix") }
            if let v = e["dialTimeoutSeconds"] { config.store.etcd.dialTimeoutSeconds = try double(v, path: "store.etcd.dialTimeoutSeconds") }
            if let v = e["requestTimeoutSeconds"] {
                config.store.etcd.requestTimeoutSeconds = try double(v, path: "store.etcd.requestTimeoutSeconds")
            }
            if let v = e["keepaliveSeconds"] { config.store.etcd.keepaliveSeconds = try double(v, path: "store.etcd.keepaliveSeconds") }
            if let v = e["username"] { config.store.etcd.username = try string(v, path: "store.etcd.username") }
            if let v = e["watchMaxBufferBytes"] {
                config.store.etcd.watchMaxBufferBytes = try int(v, path: "store.etcd.watchMaxBufferBytes")
            }
            if let tls = e["tls"] {
                let t = try mapping(tls, path: "store.etcd.tls", keys: ConfigurationReader.keys("store.etcd.tls"))
                var out = GlobalDNSConfiguration.Store.Etcd.TLS()
                if let v = t["caFile"] { out.caFile = try string(v, path: "store.etcd.tls.caFile") }
                if let v = t["certFile"] { out.certFile = try string(v, path: "store.etcd.tls.certFile") }
                if let v = t["keyFile"] { out.keyFile = try string(v, path: "store.etcd.tls.keyFile") }
                if let v = t["serverName"] { out.serverName = try string(v, path: "store.etcd.tls.serverName") }
                config.store.etcd.tls = out
            }
        }
    }
}

extension GlobalDNSConfiguration {
    /// A host name to verify a certificate against (and send as SNI): dot-separated labels of
    /// letters, digits and hyphens (1-63 characters, no hyphen at either end), at most 253 in all,
    /// one trailing dot allowed. No wildcard: the name is the one the certificate must match.
    static func isHostName(_ text: String) -> Bool {
        var name = Substring(text)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-",
                  label.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) })
            else { return false }
        }
        return true
    }
}

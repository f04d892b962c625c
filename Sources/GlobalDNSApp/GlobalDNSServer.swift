import DNSServer
import DNSWire
import NIOConcurrencyHelpers
import DNSZone
import GSLB
import HealthCheck
import HTTPAPI
import Logging
import NameServiceStore
import NameServiceStoreEtcd
import Reconciler
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import TargetResolution
import UnixSignals
import ZoneFile

#if canImport(Glibc)
import Glibc
#endif

/// Wires the server: loads zones, builds the first serving snapshot, and runs the DNS listeners and
/// the SIGHUP reloader in one `ServiceGroup` (SIGTERM/SIGINT: graceful shutdown).
public final class GlobalDNSServer: Sendable {
    /// The configuration the server started with.
    public let configuration: GlobalDNSConfiguration
    /// Where relative paths in the configuration are resolved (the config file's directory, or the
    /// working directory without a file).
    public let baseDirectory: String
    /// The configuration file, re-read on SIGHUP for the keys that can change live.
    public let configurationFile: String?
    /// The command line's overrides, applied again to every re-read of the file.
    public let overrides: ConfigurationOverrides
    public let holder: ServingStateHolder
    /// The client policy being served at start (SIGHUP replaces the served one).
    public let clientPolicy: ClientPolicy
    public let logger: Logger
    /// The log level and format SIGHUP changes (nil: logging is not the server's).
    let logSettings: LogSettings?
    let dnsConfiguration: DNSServerConfiguration
    let responderConfiguration: ResponderConfiguration
    /// The open-file limit (raised at start) shared among API connections, DNS TCP connections and
    /// probe sockets. `api.granted` is the API's connection cap (`api.maxConnections`, clamped).
    public let fileDescriptorBudget: FileDescriptorBudget
    /// Behind `/metrics` (see GlobalDNSServer+Metrics.swift).
    let metricsRegistry = PrometheusCollectorRegistry()
    private let running: NIOLockedValueBox<GlobalDNSConfiguration>
    /// Components that failed while running (`lifecycle.onComponentFailure: keepServing`).
    public let componentFailures = ComponentFailures()
    /// The API's write tokens; SIGHUP replaces them (`api.tokens` is a live key).
    let apiTokens: APITokens

    /// Loads everything; throws on a bad configuration or a broken zone, before anything listens.
    public init(configuration: GlobalDNSConfiguration, baseDirectory: String, configurationFile: String? = nil,
                overrides: ConfigurationOverrides = .init(), logSettings: LogSettings? = nil, logger: Logger) throws {
        var configuration = configuration
        if configuration.identity.isEmpty { configuration.identity = hostName() }
        let (dns, responder) = try configuration.validated()
        self.configuration = configuration
        running = NIOLockedValueBox(configuration)
        apiTokens = APITokens(configuration.api.tokens)
        self.baseDirectory = baseDirectory
        self.configurationFile = configurationFile
        self.overrides = overrides
        self.logSettings = logSettings
        self.logger = logger
        // Before anything opens a socket: the soft open-file limit up to the hard one, then its
        // share-out (a limit too small for even the minimums is a configuration error: exit 2).
        let openFiles = raiseOpenFileLimit()
        let budget = try FileDescriptorBudget.compute(
            limit: openFiles.soft, reserve: configuration.limits.fileDescriptorReserve, apiMaxConnections: configuration.api.maxConnections,
            dnsTCPMaxConnections: configuration.dns.tcpMaxConnections,
            maxConcurrentProbes: configuration.healthCheck.maxConcurrentProbes)
        Self.logOpenFiles(openFiles, budget, logger: logger)
        fileDescriptorBudget = budget
        var dnsClamped = dns
        dnsClamped.tcpMaxConnections = budget.dnsTCP.granted
        self.dnsConfiguration = dnsClamped
        self.responderConfiguration = responder
        let zones = try Self.loadZones(configuration.zones, base: baseDirectory)
        clientPolicy = try configuration.loadClientPolicy(base: baseDirectory, configurationFile: configurationFile)
        holder = ServingStateHolder(ServingState(zones: zones, clients: clientPolicy.mapping,
                                                 explainAllow: clientPolicy.explainAllow, generation: 1))
        Self.logClientPolicy(clientPolicy, logger: logger, reloaded: false)
        for zone in zones.zones {
            logger.info("zone loaded", metadata: ["zone": "\(zone.origin)", "serial": "\(zone.serial)",
                                                   "records": "\(zone.records.count)"])
        }
    }

    static func resolve(_ path: String, base: String) -> String {
        path.hasPrefix("/") ? path : (base == "." ? path : base + "/" + path)
    }

    /// Every configured zone, or the first error (file:line).
    static func loadZones(_ zones: GlobalDNSConfiguration.Zones, base: String) throws(ZoneFileError) -> ZoneSet {
        var loaded: [Zone] = []
        if zones.files.isEmpty {
            loaded = try ZoneLoader.loadDirectory(resolve(zones.directory, base: base))
        } else {
            for f in zones.files {
                let path = resolve(f, base: base)
                let zone = try ZoneLoader.load(file: path)
                if loaded.contains(where: { $0.origin == zone.origin }) {
                    throw ZoneFileError(.duplicateOrigin, file: path, line: 0, message: "zone \(zone.origin) is already loaded from another file")
                }
                loaded.append(zone)
            }
        }
        return ZoneSet(zones: loaded)
    }

    /// The configuration being served: the start configuration with what SIGHUP applied since.
    public var currentConfiguration: GlobalDNSConfiguration { running.withLockedValue { $0 } }

    /// SIGHUP: re-reads the configuration file (when there is one) and applies the keys that can
    /// change live (`GlobalDNSConfiguration.liveKeyPaths`): the log level and format, the zones
    /// (always re-read), the localities table, the default locality, the explain allow-list and
    /// the API tokens.
    /// A key that only a restart applies is logged as an error and keeps its running value; a
    /// broken file, zone or table keeps what is served. Nothing here stops the server.
    public func reload(reconciler: Reconciler) async {
        var config = currentConfiguration
        if let file = configurationFile {
            do {
                var fresh = try ConfigurationReader.read(file: file, overrides: overrides)
                if fresh.identity.isEmpty { fresh.identity = hostName() }
                let reload = config.reloaded(from: fresh)
                // The live keys must also hold with the running values of the others: no tokens
                // is refused while the running API listens beyond loopback, even if the file
                // moved api.listen (which only a restart applies).
                _ = try reload.applied.validated()
                // The new level and format first, so this reload's own lines already follow them.
                logSettings?.level = reload.applied.log.level
                logSettings?.format = reload.applied.log.format
                for key in reload.needsRestart {
                    logger.error("configuration reload: this key only changes with a restart; the running value stays",
                                 metadata: ["key": "\(key)", "file": "\(file)"])
                }
                logger.info("configuration reloaded", metadata: [
                    "file": "\(file)", "changed": "\(reload.changed.isEmpty ? "none" : reload.changed.joined(separator: ","))"])
                config = reload.applied
                if reload.changed.contains("api.tokens") {
                    apiTokens.replace(with: config.api.tokens)
                    logger.notice("api tokens replaced", metadata: [
                        "tokens": "\(config.api.tokens.isEmpty ? "none (writes unauthenticated, loopback only)" : config.api.tokens.keys.sorted().joined(separator: ","))"])
                }
            } catch {
                logger.error("configuration reload failed; keeping the running configuration",
                             metadata: ["error": "\(error)"])
            }
        }
        let served = currentConfiguration
        if await reloadZones(config.zones, reconciler: reconciler) != nil { config.zones = served.zones }
        if await reloadClientPolicy(config, reconciler: reconciler) != nil {
            config.localities = served.localities
            config.defaultLocality = served.defaultLocality
            config.explain = served.explain
        }
        running.withLockedValue { $0 = config }
    }

    /// Re-reads every zone of `zones`. On any error the serving zones stay as they are and the
    /// error is returned (and logged); on success the reconciler re-places every NameService
    /// against the new zones and publishes one snapshot (it is the only publisher).
    ///
    /// A reload that would stop serving zones is refused the same way (`ZoneReloadRefusal`): one
    /// that finds no zone at all (a zones directory emptied mid-deploy would otherwise make every
    /// query REFUSED) always, and one that drops any zone being served unless
    /// `zones.allowDroppingZones` is true.
    @discardableResult
    public func reloadZones(_ zones: GlobalDNSConfiguration.Zones, reconciler: Reconciler) async -> (any Error)? {
        do {
            let loaded = try Self.loadZones(zones, base: baseDirectory)
            let old = holder.load()
            if let refusal = ZoneReloadRefusal(served: old.zones, loaded: loaded, allowDroppingZones: zones.allowDroppingZones) {
                logger.error("zone reload refused; keeping the zones being served", metadata: [
                    "reason": "\(refusal)", "dropped": "\(refusal.dropped.map(\.description).joined(separator: ","))"])
                return refusal
            }
            await reconciler.setZones(loaded)
            for zone in loaded.zones {
                let before = old.zones.zone(named: zone.origin)?.serial
                logger.info("zone reloaded", metadata: ["zone": "\(zone.origin)", "serial": "\(zone.serial)",
                                                         "previous_serial": "\(before.map(String.init) ?? "none")"])
            }
            for origin in old.zones.zones.map(\.origin) where loaded.zone(named: origin) == nil {
                logger.warning("zone dropped by reload (zones.allowDroppingZones)", metadata: ["zone": "\(origin)"])
            }
            return nil
        } catch {
            logger.error("zone reload failed; keeping the zones being served",
                         metadata: ["error": "\(error)", "file": "\(error.file)", "line": "\(error.line)"])
            return error
        }
    }

    static func logClientPolicy(_ p: ClientPolicy, logger: Logger, reloaded: Bool) {
        for w in p.warnings { logger.warning("localities: \(w)") }
        logger.info(reloaded ? "localities reloaded" : "localities loaded",
                    metadata: ["entries": "\(p.mapping.table.count)", "source": "\(p.source)",
                               "default_locality": "\(p.mapping.defaultLocality?.description ?? "none")",
                               "explain_allow": "\(p.explainAllow)"])
    }

    /// Builds the localities table, default locality and explain allow-list of `config` (a
    /// localities file is read again) and serves them. On any error the served ones stay and the
    /// error is returned.
    @discardableResult
    public func reloadClientPolicy(_ config: GlobalDNSConfiguration, reconciler: Reconciler) async -> ConfigurationError? {
        do {
            let policy = try config.loadClientPolicy(base: baseDirectory, configurationFile: configurationFile)
            await reconciler.setClientPolicy(policy.mapping, explainAllow: policy.explainAllow)
            Self.logClientPolicy(policy, logger: logger, reloaded: true)
            return nil
        } catch {
            logger.error("localities reload failed; keeping the table being served", metadata: ["error": "\(error)"])
            return error
        }
    }

    /// What `/readyz` says: not ready while a component has failed (keepServing), while the store
    /// is unreachable or failing, or before the first plan from the store is served.
    /// Stored objects that cannot be read (`damaged`) do not make the server unready: every other
    /// name is served, and another replica or a restart would read the same file; the reason names
    /// them in a reason starting `warning: `, which `/readyz` shows in its 200 body (the log has each
    /// problem, and writing a name again replaces its damaged row).
    static func readiness(failed: [String], storeProblem: String?, planServed: Bool,
                          damaged: [String] = []) -> (ready: Bool, reason: String) {
        if !failed.isEmpty {
            return (false, "component failed (DNS answers from the last plan): \(failed.joined(separator: "; "))")
        }
        if let storeProblem { return (false, "\(storeProblem) (DNS answers from the last plan)") }
        guard planServed else { return (false, "waiting for the first plan from the store") }
        guard !damaged.isEmpty else { return (true, "zones loaded, store loaded, plan served") }
        let shown = damaged.prefix(10).joined(separator: ", ") + (damaged.count > 10 ? ", …" : "")
        return (true, "warning: zones loaded, plan served; \(damaged.count) stored NameService\(damaged.count == 1 ? "" : "s") cannot be read "
            + "and \(damaged.count == 1 ? "is" : "are") not served (damagedObjects: \(shown); see the log, writing one again replaces it)")
    }


    /// Opens the configured NameService store: the SQLite file (its directory created if
    /// missing) or the etcd cluster (nothing is contacted yet: the reconciler and the API retry
    /// until etcd answers).
    public func openStore() throws -> OpenedStore {
        switch configuration.store.type {
        case .sqlite:
            var path = configuration.store.sqlite.path
            if path.isEmpty {
                let dir = Self.resolve(configuration.state.directory, base: baseDirectory)
                if mkdir(dir, 0o700) != 0 && errno != EEXIST {
                    throw StoreError(.unavailable, "cannot create state directory \(dir): \(String(cString: strerror(errno)))")
                }
                path = dir + "/" + SQLiteNameServiceStore.fileName
            } else {
                path = Self.resolve(path, base: baseDirectory)
            }
            let logger = self.logger
            let registry = configuration.metrics.enabled ? metricsRegistry : nil
            let sqlite = try SQLiteNameServiceStore(
                path: path, history: configuration.store.historyLimits,
                writeTimeout: .seconds(configuration.store.writeTimeoutSeconds),
                maxBatch: configuration.store.sqlite.maxBatch,
                onDamage: { name, problem in
                    logger.error("a stored NameService cannot be read; it is not served until it is written again",
                                 metadata: ["nameservice": "\(name)", "problem": "\(problem)"])
                    registry?.makeCounter(descriptor: TimedNameServiceStore.damagedObjects).increment()
                })
            return OpenedStore(store: sqlite, description: "sqlite \(path)", reachability: nil,
                               health: { (sqlite.problem, sqlite.damagedObjects.map(\.name)) })
        case .etcd:
            var etcd = configuration.etcdConfiguration()
            if var tls = etcd.tls {
                tls.caFile = tls.caFile.map { Self.resolve($0, base: baseDirectory) }
                tls.certFile = tls.certFile.map { Self.resolve($0, base: baseDirectory) }
                tls.keyFile = tls.keyFile.map { Self.resolve($0, base: baseDirectory) }
                etcd.tls = tls
            }
            let replica = configuration.replica.name.isEmpty ? configuration.identity : configuration.replica.name
            let store = try EtcdNameServiceStore(configuration: etcd, replica: replica)
            return OpenedStore(store: store, description: "etcd \(store.endpointList) prefix \(etcd.prefix) as replica \(replica)",
                               reachability: { store.reachability })
        }
    }

    /// Runs until SIGTERM/SIGINT. `onListening` gets the bound DNS addresses once the sockets are up.
    public func run(onListening: (@Sendable ([SocketAddress]) -> Void)? = nil) async throws {
        let opened = try openStore()
        let store = instrumented(opened.store)
        logger.info("nameservice store", metadata: ["store": "\(opened.description)"])
        let threads = configuration.dns.threads == 0 ? usableCPUCount() : configuration.dns.threads
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var tracker: ResolutionTracker?
        if let upstream = try configuration.upstream.resolverConfiguration() {
            let resolver = UpstreamResolver(configuration: upstream, group: group)
            tracker = ResolutionTracker(resolver: resolver, configuration: upstream, logger: logger)
            logger.info("upstream resolvers for target FQDNs", metadata: [
                "resolvers": "\(configuration.upstream.resolvers.joined(separator: ","))"])
        }
        let probing = configuration.healthCheck
        let checker = HealthChecker(logger: logger, configuration: HealthCheckerConfiguration(
            threads: probing.threads, summaryInterval: probing.summarySeconds > 0 ? .seconds(probing.summarySeconds) : nil,
            maxConcurrentProbes: fileDescriptorBudget.probes.granted))
        let probes = ProbeRegistry(checker: checker, defaults: configuration.healthCheck.defaults)
        let policy = configuration.lifecycle.onComponentFailure
        var reconcilerConfiguration = Reconciler.Configuration()
        reconcilerConfiguration.healthCheckDefaults = configuration.healthCheck.defaults
        reconcilerConfiguration.specLimits = configuration.limits.specLimits
        reconcilerConfiguration.maxProbedAddresses = configuration.healthCheck.maxProbedAddresses
        if configuration.store.type == .etcd {
            // Its own view under status.replicas is what it compares new statuses with.
            reconcilerConfiguration.replica = configuration.replica.name.isEmpty ? configuration.identity : configuration.replica.name
        }
        let reconciler = Reconciler(store: store, holder: holder, zones: holder.load().zones, logger: logger,
                                    configuration: reconcilerConfiguration,
                                    clients: clientPolicy.mapping, explainAllow: clientPolicy.explainAllow,
                                    externalResolver: tracker.map { TrackedNames(tracker: $0) }, prober: probes)
        let dns = DNSServerService(configuration: dnsConfiguration, responder: responderConfiguration,
                                   holder: holder, group: group, logger: logger)
        try await dns.start()
        onListening?(dns.boundAddresses)
        let metrics = await makeMetricsEndpoint(dns: dns, checker: checker, reconciler: reconciler)

        // The command line folds GLOBALDNS_API_TOKEN in as the token named "env".
        let tokens = configuration.api.tokens
        let failures = componentFailures
        // The API's connection cap is its share of the file-descriptor budget (api.maxConnections,
        // clamped when the open-file limit cannot hold every cap).
        var apiLimits = configuration.api.limits
        apiLimits.maxConnections = fileDescriptorBudget.api.granted
        let api = NameServiceAPI(
            store: store,
            configuration: APIConfiguration(tokenSet: apiTokens, maxBodyBytes: configuration.api.maxBodyBytes, readiness: {
                var storeProblem: String?
                if let (reachable, reason) = opened.reachability?(), !reachable {
                    storeProblem = "the NameService store is unreachable: \(reason)"
                } else if let problem = opened.health?().problem {
                    storeProblem = problem
                } else if reconciler.isStoreFailing {
                    storeProblem = "the NameService store is failing, retrying"
                }
                return Self.readiness(failed: failures.all, storeProblem: storeProblem, planServed: reconciler.isReadyNow,
                                      damaged: opened.health?().damaged ?? [])
            }, liveStatus: { await probes.withLiveProbes($0) }, healthCheckDefaults: configuration.healthCheck.defaults,
            specLimits: configuration.limits.specLimits,
            metrics: metrics, limits: apiLimits),
            logger: logger)
        let apiAddress = try parseListenAddress(configuration.api.listen, keyPath: "api.listen")
        if tokens.isEmpty {
            logger.warning("no API token configured: writes are not authenticated, so the API listens on loopback only",
                           metadata: ["api": "\(configuration.api.listen)"])
        }
        let logger = self.logger
        let app = APIServer(api: api, address: .hostname(apiAddress.ipAddress ?? "127.0.0.1", port: apiAddress.port ?? 8080),
                            listen: configuration.api.listen,
                            onServerRunning: { channel in
            logger.info("api listening", metadata: ["address": "\(channel.localAddress.map(describe) ?? "?")",
                                                    "auth": "\(tokens.isEmpty ? "none (loopback only)" : "bearer tokens: \(tokens.keys.sorted().joined(separator: ","))")"])
        })
        // The order is the dependency graph; graceful shutdown runs it in reverse, so the reloader
        // and the API stop first and the DNS listeners drain before the reconciler stops.
        func supervised(_ component: String, _ service: any Service) -> ServiceGroupConfiguration.ServiceConfiguration {
            Supervised(component: component, service: service, policy: policy, failures: failures, logger: logger).configuration
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let tracker { services.append(supervised("upstream", UpstreamService(tracker: tracker, reconciler: reconciler))) }
        services.append(supervised("health-checker", HealthService(checker: checker, registry: probes, reconciler: reconciler)))
        services.append(supervised("store-watch", ReconcilerService(reconciler: reconciler)))
        services.append(.init(service: dns, failureTerminationBehavior: .gracefullyShutdownGroup))
        services.append(supervised("api", app))
        services.append(supervised("reloader", ReloadService(server: self, reconciler: reconciler)))
        let serviceGroup = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
        logger.info("stopped")
    }
}

/// Why a zone reload was refused: it would serve no zone at all, or drop served zones while
/// `zones.allowDroppingZones` is false. The served zones stay.
public struct ZoneReloadRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Served zones the reload does not have.
    public let dropped: [DNSName]
    /// True when the reload found no zone at all (refused whatever `allowDroppingZones` says).
    public let noZones: Bool

    /// Nil when `loaded` may replace `served`.
    init?(served: ZoneSet, loaded: ZoneSet, allowDroppingZones: Bool) {
        let dropped = served.zones.map(\.origin).filter { loaded.zone(named: $0) == nil }
        guard !dropped.isEmpty else { return nil }
        if !loaded.zones.isEmpty && allowDroppingZones { return nil }
        self.dropped = dropped
        self.noZones = loaded.zones.isEmpty
    }

    public var description: String {
        let names = dropped.map(\.description).joined(separator: ", ")
        return noZones
            ? "no zone file found: the reload would drop every served zone (\(names)) and answer REFUSED to everything"
            : "the reload would drop served zone(s) \(names); set zones.allowDroppingZones: true to allow that"
    }
}

/// The NameService store the server runs on, and how to tell whether it is reachable (etcd).
public struct OpenedStore: Sendable {
    public var store: any NameServiceStore
    public var description: String
    public var reachability: (@Sendable () -> (reachable: Bool, reason: String))?
    /// The SQLite store's health: a stalled write (not ready) and the names it cannot read.
    public var health: (@Sendable () -> (problem: String?, damaged: [String]))? = nil
}

/// SIGHUP → `GlobalDNSServer.reload`: the live configuration keys, the zones and the localities
/// (anything broken keeps what is served and logs why).
struct ReloadService: Service {
    let server: GlobalDNSServer
    let reconciler: Reconciler

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            server.logger.info("SIGHUP: reloading the configuration, zones and localities")
            await server.reload(reconciler: reconciler)
        }
    }
}

/// The reconciler's watch loop as a `Service`: it stops with graceful shutdown.
struct ReconcilerService: Service {
    let reconciler: Reconciler

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await reconciler.run()
        }
    }
}

/// `127.0.0.1:53`, `[::1]:53`.
func describe(_ address: SocketAddress) -> String {
    let ip = address.ipAddress ?? "?"
    let port = address.port.map(String.init) ?? "?"
    return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
}

func hostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, 255) == 0 else { return "globaldns" }
    return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// CPUs this process may run on: the smaller of NIO's count (which honours cgroup quotas) and the
/// scheduler affinity mask (which `taskset`/`cpuset` set, and NIO does not read). Two event loops
/// pinned to one CPU only take turns.
func usableCPUCount() -> Int {
    // cpu_set_t is 1024 bits; Glibc's Swift module hides sched_getaffinity (it needs _GNU_SOURCE).
    var mask = [UInt8](repeating: 0, count: 128)
    let rc = mask.withUnsafeMutableBytes { sys_sched_getaffinity(0, 128, $0.baseAddress!) }
    guard rc == 0 else { return System.coreCount }
    let allowed = mask.reduce(0) { $0 + $1.nonzeroBitCount }
    return max(1, min(allowed, System.coreCount))
}

@_silgen_name("sched_getaffinity")
private func sys_sched_getaffinity(_ pid: pid_t, _ size: Int, _ mask: UnsafeMutableRawPointer) -> Int32

extension GlobalDNSServer {
    /// One info line with the limits and the budget; one warning per clamped cap.
    static func logOpenFiles(_ limit: OpenFileLimit, _ budget: FileDescriptorBudget, logger: Logger) {
        var metadata: Logger.Metadata = [
            "nofile_soft_before": "\(limit.softBefore)", "nofile_soft": "\(limit.soft)", "nofile_hard": "\(limit.hard)",
            "reserve": "\(budget.reserve)", "api_connections": "\(budget.api.granted)",
            "dns_tcp_connections": "\(budget.dnsTCP.granted)", "probe_sockets": "\(budget.probes.granted)",
        ]
        if let error = limit.error { metadata["raise_error"] = "\(error)" }
        logger.info("open-file limit", metadata: metadata)
        for warning in budget.warnings { logger.warning("\(warning)") }
    }
}

// swift-tools-version:6.0
import PackageDescription

// Module boundaries follow ARCHITECTURE.md: the query path (DNSWire, DNSZone, DNSServer) never
// imports ldns, Foundation, an HTTP stack or a database.
let package = Package(
    name: "GlobalDNS",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "globaldns", targets: ["globaldns"]),
        .executable(name: "globaldnsctl", targets: ["globaldnsctl"]),
        .library(name: "DNSServer", targets: ["DNSServer"]),
        .library(name: "GSLB", targets: ["GSLB"]),
        // For the API fuzzer (Fuzz/APIFuzz): the router over an in-memory store.
        .library(name: "HTTPAPI", targets: ["HTTPAPI"]),
        .library(name: "NameServiceStoreTesting", targets: ["NameServiceStoreTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLDNS",
            pkgConfig: "ldns",
            providers: [.apt(["libldns-dev"])]
        ),
        // Names, types, header, RDATA codec, EDNS options. Pure Swift, no dependencies.
        .target(name: "DNSWire", exclude: ["README.md"]),
        // Immutable, pre-rendered zone tree and the zone set; the lookup algorithm.
        .target(name: "DNSZone", dependencies: ["DNSWire"], exclude: ["README.md"]),
        .target(name: "GSLB", dependencies: ["DNSWire"], exclude: ["README.md"]),
        // The only module that touches ldns: zone file -> records.
        .target(name: "ZoneFile", dependencies: ["CLDNS", "DNSWire", "DNSZone"], exclude: ["README.md"]),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The NameService store protocol and its SQLite implementation (WAL, synchronous=FULL).
        .target(name: "NameServiceStore", dependencies: ["GSLB", "CSQLite"], exclude: ["README.md"]),
        // The NameService store on etcd v3 (its JSON gateway over NIOHTTP1, TLS through NIOSSL), for many replicas.
        .target(
            name: "NameServiceStoreEtcd",
            dependencies: [
                "NameServiceStore", "GSLB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            exclude: ["README.md"]
        ),
        // An in-memory NameServiceStore with the same semantics, for unit tests only.
        .target(name: "NameServiceStoreTesting", dependencies: ["NameServiceStore", "GSLB"], exclude: ["README.md"]),
        // NameService target FQDNs through upstream resolvers: resolve, re-resolve at the TTL, report changes.
        .target(
            name: "TargetResolution",
            dependencies: [
                "DNSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // epoll, eventfd and thread names, which Swift's Glibc module leaves out, for HealthCheck's prober threads.
        .target(name: "CHealthCheck", exclude: ["README.md"]),
        // TCP connect probes of target addresses with hysteresis (drains are the reconciler's), on
        // prober threads of their own (raw non-blocking sockets, epoll), apart from the DNS event loops.
        .target(
            name: "HealthCheck",
            dependencies: [
                "CHealthCheck", "DNSWire", "GSLB",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // What the query path reads and the control plane builds: the serving snapshot, its
        // sharded global names and their plans, and the holder the event loops load it from.
        .target(
            name: "Plan",
            dependencies: [
                "DNSWire", "DNSZone", "GSLB",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            exclude: ["README.md"]
        ),
        // The plan compiler (a pure value: specs, zones, verdicts in; shards, decisions and
        // conditions out) and the reconciler's loop around it (watch, publish, status writes).
        .target(
            name: "Reconciler",
            dependencies: [
                "GSLB", "NameServiceStore", "DNSZone", "Plan", "DNSWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            exclude: ["README.md"]
        ),
        // QueryResponder (NIO-free, callable from tests and the fuzzer) and the UDP/TCP listeners.
        .target(
            name: "DNSServer",
            dependencies: [
                "DNSWire", "DNSZone", "GSLB", "Plan",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        // Configuration, zone loading and wiring of the server; testable apart from main. The only
        // module (with HTTPAPI) that may import Metrics/Prometheus: the query path keeps plain
        // counters, read into the registry at scrape time.
        .target(
            name: "GlobalDNSApp",
            dependencies: [
                "DNSWire", "DNSZone", "GSLB", "TargetResolution", "HealthCheck", "ZoneFile", "DNSServer", "HTTPAPI", "NameServiceStore",
                "NameServiceStoreEtcd", "Reconciler",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            exclude: ["README.md"]
        ),
        .executableTarget(
            name: "globaldns",
            dependencies: [
                "GlobalDNSApp", "NameServiceStore", "NameServiceStoreEtcd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"]
        ),
        // globaldnsctl's API client, manifest loading and rendering; a library so it is testable.
        .target(
            name: "GlobalDNSClient",
            dependencies: [
                "GSLB",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["README.md"]
        ),
        .executableTarget(
            name: "globaldnsctl",
            dependencies: [
                "GlobalDNSClient", "GSLB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"]
        ),
        .testTarget(
            name: "GlobalDNSClientTests",
            dependencies: [
                "GlobalDNSClient", "GSLB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // globaldnsctl's paging and concurrent apply against the real API (issue 13)
                "HTTPAPI", "NameServiceStore", "NameServiceStoreTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The NameService HTTP API (Hummingbird): CRUD, list, watch, status, health, bearer-token auth.
        .target(
            name: "HTTPAPI",
            dependencies: [
                "GSLB", "NameServiceStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        .testTarget(
            name: "HTTPAPITests",
            dependencies: [
                "HTTPAPI", "NameServiceStore", "NameServiceStoreTesting", "GSLB",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Store-level scale measurements (issue 13): `swift build -c release --product store-scale`.
        .executableTarget(name: "store-scale", dependencies: ["NameServiceStore", "GSLB"], path: "Benchmarks/StoreScale"),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire"]),
        .testTarget(name: "GSLBTests", dependencies: ["GSLB", "DNSWire"]),
        // Starts real etcd clusters (Debian etcd-server) on loopback for the etcd store's tests.
        .target(name: "EtcdTestSupport", dependencies: ["NameServiceStore", "NameServiceStoreEtcd"],
                path: "Tests/EtcdTestSupport"),
        .testTarget(
            name: "NameServiceStoreTests",
            dependencies: ["NameServiceStore", "NameServiceStoreTesting", "NameServiceStoreEtcd", "EtcdTestSupport",
                           "GSLB", "CSQLite"]
        ),
        .testTarget(name: "DNSZoneTests", dependencies: ["DNSWire", "DNSZone", "DNSServer", "GSLB"]),
        .testTarget(name: "ZoneFileTests", dependencies: ["ZoneFile", "DNSZone", "DNSWire"]),
        .testTarget(
            name: "DNSServerTests",
            dependencies: [
                "DNSServer", "DNSZone", "DNSWire", "GSLB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ReconcilerTests",
            dependencies: ["Reconciler", "CMallocCounter", "NameServiceStore", "NameServiceStoreTesting", "GSLB", "DNSServer", "DNSZone", "DNSWire",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "TargetResolutionTests",
            dependencies: [
                "TargetResolution", "DNSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "HealthCheckTests",
            dependencies: [
                "HealthCheck", "DNSWire", "GSLB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Counts heap allocations per thread (interposes malloc in the test executable).
        .target(name: "CMallocCounter", path: "Tests/CMallocCounter"),
        // The query path allocates nothing beyond the reply: every answer shape, counted.
        .testTarget(
            name: "QueryPathAllocationTests",
            dependencies: ["CMallocCounter", "DNSServer", "DNSZone", "DNSWire", "GSLB"]
        ),
        .testTarget(
            name: "GlobalDNSAppTests",
            dependencies: ["GlobalDNSApp", "DNSServer", "DNSWire", "GSLB", "HealthCheck", "NameServiceStore", "NameServiceStoreTesting", "HTTPAPI",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        .testTarget(name: "IntegrationTests", dependencies: ["DNSWire", "EtcdTestSupport", "globaldns", "globaldnsctl"]),
    ]
)

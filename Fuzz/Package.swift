// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses: DNSFuzz for the whole query path (QueryResponder over UDP and TCP) and the
// message codec; APIFuzz for the NameService HTTP API's request decoding (the real router over an
// in-memory store). Kept out of the main package so that `--sanitize fuzzer` never touches the
// server build. `make fuzz` and `make fuzz-api` build and run them (README.md here).
let package = Package(
    name: "DNSFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "GlobalDNS", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "DNSFuzz",
            dependencies: [
                .product(name: "DNSServer", package: "GlobalDNS"),
                .product(name: "GSLB", package: "GlobalDNS"),
            ],
            // libFuzzer supplies `main`; the harness only exports LLVMFuzzerTestOneInput.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "APIFuzz",
            dependencies: [
                .product(name: "HTTPAPI", package: "GlobalDNS"),
                .product(name: "NameServiceStoreTesting", package: "GlobalDNS"),
                .product(name: "GSLB", package: "GlobalDNS"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)

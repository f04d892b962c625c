// swift-tools-version:6.0
import PackageDescription

// libFuzzer harness for the whole query path (QueryResponder over UDP and TCP) and the message
// codec. Kept out of the main package so that `--sanitize fuzzer` never touches the server build.
//
//     cd Fuzz && swift build -c release --sanitize fuzzer
//     mkdir -p corpus-work && SWIFT_BACKTRACE=enable=no .build/release/DNSFuzz -jobs=1 -workers=1 \
//         -max_total_time=600 corpus-work ../Tests/Fixtures/fuzz-seeds
let package = Package(
    name: "DNSFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "GlobalDNS", path: ".."),
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
    ]
)

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where things are: the built `globaldns`, the fixture zone, scratch directories, free ports.
enum TestEnvironment {
    /// The `globaldns` executable built next to the test bundle (`.build/debug/globaldns`), or
    /// `$GLOBALDNS_BIN` when set.
    /// An executable product built next to the test bundle (`globaldnsctl`).
    static func executableNextToTests(_ name: String) throws -> String {
        var starts = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()]
        starts += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }
        for start in starts {
            var dir = start.deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = dir.appendingPathComponent(name).path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        throw HarnessError("\(name) not found next to the test bundle; build it with `swift build --build-tests`")
    }

    /// A copy of `executable` that any user can run (in `directory`, made traversable): the checkout
    /// may live where an unprivileged user cannot reach (e.g. under /root).
    static func worldExecutableCopy(of executable: String, in directory: URL) throws -> String {
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        chmod(directory.path, 0o777)
        chmod(bin.path, 0o755)
        let copy = bin.appendingPathComponent(URL(fileURLWithPath: executable).lastPathComponent)
        if !FileManager.default.fileExists(atPath: copy.path) {
            try FileManager.default.copyItem(atPath: executable, toPath: copy.path)
        }
        chmod(copy.path, 0o755)
        return copy.path
    }

    static func globalDNSExecutable() throws -> String {
        if let path = ProcessInfo.processInfo.environment["GLOBALDNS_BIN"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw HarnessError("GLOBALDNS_BIN=\(path) is not an executable")
            }
            return path
        }
        // Linux: arguments[0] is .build/<triple>/debug/GlobalDNSPackageTests.xctest (an executable).
        // macOS: …/debug/GlobalDNSPackageTests.xctest/Contents/MacOS/GlobalDNSPackageTests.
        var starts = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()]
        starts += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }
        for start in starts {
            var dir = start.deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = dir.appendingPathComponent("globaldns").path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
                   FileManager.default.isExecutableFile(atPath: candidate) {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        throw HarnessError("""
            globaldns executable not found next to the test bundle (\(CommandLine.arguments[0])); \
            build it with `swift build --build-tests` or set GLOBALDNS_BIN
            """)
    }

    /// Tests/Fixtures in the source tree.
    static var fixturesDirectory: URL {
        URL(fileURLWithPath: #filePath)  // Tests/IntegrationTests/Support/TestEnvironment.swift
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
    }

    /// Tests/Fixtures/knot-diff.zone: the zone of every query test and of the Knot differential.
    static var fixtureZone: URL { fixturesDirectory.appendingPathComponent("knot-diff.zone") }

    /// A fresh directory under the system temp dir; remove it with `removeScratch`.
    static func makeScratchDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("globaldns-it-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func removeScratch(_ url: URL) {
        if ProcessInfo.processInfo.environment["KEEP_TEST_SCRATCH"] != nil { return }
        try? FileManager.default.removeItem(at: url)
    }

    /// A port in 20000..<32000 (below Linux's ephemeral range, so dig's source ports don't take it)
    /// that is free for UDP and TCP on both 127.0.0.1 and ::1 right now.
    static func freePort() throws -> UInt16 {
        for _ in 0..<200 {
            let port = UInt16.random(in: 20000..<32000)
            // Nothing binds a port between two calls (a server's DNS and API ports are picked one
            // after the other), so a port is never handed out twice in one run.
            guard claim(port) else { continue }
            if Self.canBind(port: port) { return port }
        }
        throw HarnessError("no free loopback port found in 200 tries")
    }

    private static let handedOut = NSLock()
    nonisolated(unsafe) private static var claimed = Set<UInt16>()

    private static func claim(_ port: UInt16) -> Bool {
        handedOut.lock()
        defer { handedOut.unlock() }
        return claimed.insert(port).inserted
    }

    private static func canBind(port: UInt16) -> Bool {
        for family in [AF_INET, AF_INET6] {
            for type in [sockStream, sockDgram] {
                let fd = socket(family, type, 0)
                guard fd >= 0 else { return false }
                defer { close(fd) }
                var one: Int32 = 1
                _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                guard (try? LoopbackAddress(family: family, port: port).withSockaddr({ bind(fd, $0, $1) })) == 0 else {
                    return false
                }
            }
        }
        return true
    }
}

func closeSocket(_ fd: Int32) { _ = close(fd) }

#if canImport(Glibc) || canImport(Musl)
let sockStream = Int32(SOCK_STREAM.rawValue)
let sockDgram = Int32(SOCK_DGRAM.rawValue)
#else
let sockStream = SOCK_STREAM
let sockDgram = SOCK_DGRAM
#endif

/// 127.0.0.1 or ::1 with a port, as a sockaddr. Only loopback: the tests never use anything else.
struct LoopbackAddress {
    var family: Int32
    var port: UInt16

    init(family: Int32, port: UInt16) {
        self.family = family
        self.port = port
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
        if family == AF_INET6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, "::1", &address.sin6_addr) == 1 else { throw HarnessError("inet_pton ::1") }
            return try withUnsafePointer(to: &address) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            guard inet_pton(AF_INET, "127.0.0.1", &address.sin_addr) == 1 else { throw HarnessError("inet_pton 127.0.0.1") }
            return try withUnsafePointer(to: &address) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}

import Foundation
import GlobalDNSApp
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `FileDescriptorBudget`: how `RLIMIT_NOFILE` minus the reserve is shared among API connections,
/// DNS TCP connections and probe sockets; the configuration keys that feed it; and raising the
/// soft limit.
@Suite struct FileDescriptorBudgetTests {
    struct Row: Sendable, CustomStringConvertible {
        var limit: UInt64
        var reserve: Int
        var api: Int?
        var dns: Int
        var probes: Int
        /// Granted api, dns, probes; nil: refused (ConfigurationError on limits.fileDescriptorReserve).
        var granted: [Int]?
        var description: String { "limit \(limit) reserve \(reserve) asked \(api.map(String.init) ?? "nil")/\(dns)/\(probes)" }
    }

    static let rows: [Row] = [
        // Everything fits: caps kept as configured.
        Row(limit: 65536, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: [512, 1024, 1024]),
        Row(limit: 2816, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: [512, 1024, 1024]),  // exactly
        // No API cap given yet: the API's default (512) is budgeted.
        Row(limit: 65536, reserve: 256, api: nil, dns: 1024, probes: 1024, granted: [512, 1024, 1024]),
        // ulimit -n 1024: 768 to share; 16 each first, the remaining 720 in proportion to 496/1008/1008.
        Row(limit: 1024, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: [16 + 496 * 720 / 2512,
                                                                                       16 + 1008 * 720 / 2512,
                                                                                       16 + 1008 * 720 / 2512]),
        // One over: the sum fits after clamping.
        Row(limit: 2815, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: [16 + 496 * 2511 / 2512,
                                                                                       16 + 1008 * 2511 / 2512,
                                                                                       16 + 1008 * 2511 / 2512]),
        // A cap below the minimum keeps what it asked; the others share the rest.
        Row(limit: 300, reserve: 100, api: 4, dns: 1000, probes: 1000, granted: [4, 16 + 984 * 164 / 1968, 16 + 984 * 164 / 1968]),
        // Exactly the minimums.
        Row(limit: 304, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: [16, 16, 16]),
        // Less than the minimums: refused.
        Row(limit: 303, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: nil),
        Row(limit: 256, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: nil),
        Row(limit: 100, reserve: 256, api: 512, dns: 1024, probes: 1024, granted: nil),
        // RLIM_INFINITY is taken as Int32.max: everything fits.
        Row(limit: UInt64.max, reserve: 256, api: 1_000_000, dns: 1_000_000, probes: 1_000_000,
            granted: [1_000_000, 1_000_000, 1_000_000]),
        // Reserve 0 and caps below 1 (taken as 1).
        Row(limit: 48, reserve: 0, api: 0, dns: 1, probes: 100, granted: [1, 1, 46]),
    ]

    @Test(arguments: rows)
    func shares(_ row: Row) throws {
        do {
            let b = try FileDescriptorBudget.compute(limit: row.limit, reserve: row.reserve, apiMaxConnections: row.api,
                                                     dnsTCPMaxConnections: row.dns, maxConcurrentProbes: row.probes)
            let granted = [b.api.granted, b.dnsTCP.granted, b.probes.granted]
            #expect(row.granted == granted, "granted \(granted)")
            // Never above what was asked, never over the budget, each at least min(asked, 16).
            #expect(b.api.granted <= b.api.configured && b.dnsTCP.granted <= b.dnsTCP.configured
                    && b.probes.granted <= b.probes.configured)
            #expect(granted.reduce(0, +) <= max(b.limit - b.reserve, 0))
            for s in [b.api, b.dnsTCP, b.probes] { #expect(s.granted >= min(s.configured, FileDescriptorBudget.minimum)) }
            // One warning per clamped cap, naming its key and both numbers.
            let clamped = [b.api, b.dnsTCP, b.probes].filter(\.isClamped)
            #expect(b.warnings.count == clamped.count)
            for (warning, share) in zip(b.warnings, clamped) {
                #expect(warning.hasPrefix("\(share.key) \(share.configured) "), "\(warning)")
                #expect(warning.contains("clamped to \(share.granted)"), "\(warning)")
                #expect(warning.contains("RLIMIT_NOFILE \(b.limit)") && warning.contains("limits.fileDescriptorReserve \(b.reserve)"))
            }
        } catch {
            #expect(row.granted == nil, "refused: \(error)")
            #expect(error.keyPath == "limits.fileDescriptorReserve")
            #expect(error.message.contains("RLIMIT_NOFILE \(min(row.limit, UInt64(Int32.max)))"), "\(error.message)")
        }
    }

    @Test func keysAreReadAndValidated() throws {
        let c = try ConfigurationReader.parse("""
            healthCheck: {maxConcurrentProbes: 64, maxProbedAddresses: 500}
            limits: {fileDescriptorReserve: 100}

            """)
        #expect(c.healthCheck.maxConcurrentProbes == 64)
        #expect(c.healthCheck.maxProbedAddresses == 500)
        #expect(c.limits.fileDescriptorReserve == 100)
        let defaults = try ConfigurationReader.parse("")
        #expect(defaults.healthCheck.maxConcurrentProbes == 1024)
        #expect(defaults.healthCheck.maxProbedAddresses == 20_000)
        #expect(defaults.limits.fileDescriptorReserve == 256)
        let bad: [(String, String, String)] = [
            ("healthCheck:\n  maxConcurrentProbes: 0\n", "healthCheck.maxConcurrentProbes", "between 1 and 1048576, not 0"),
            ("healthCheck:\n  maxConcurrentProbes: many\n", "healthCheck.maxConcurrentProbes", "integer"),
            ("healthCheck:\n  maxProbedAddresses: -1\n", "healthCheck.maxProbedAddresses", "between 0 (probe nothing) and 10000000, not -1"),
            ("healthCheck:\n  maxProbedAddresses: 1e300\n", "healthCheck.maxProbedAddresses", "integer"),
            ("limits:\n  fileDescriptorReserve: -5\n", "limits.fileDescriptorReserve", "between 0 and 1048576, not -5"),
            ("limits:\n  fileDescriptors: 5\n", "limits.fileDescriptors", "unknown key"),
        ]
        for (yaml, keyPath, fragment) in bad {
            do {
                _ = try ConfigurationReader.parse(yaml, file: "t.yaml")
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.keyPath == keyPath, "\(yaml)")
                #expect(error.line == 2, "\(yaml)")
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
    }

    /// Raising the soft limit to the hard one, in a child process (`prlimit` sets 64 soft / 512
    /// hard for it; the test process's own limits are left alone): `globaldns --check` logs
    /// both. A hard limit too small for the reserve and the minimums is exit 2 naming the key.
    @Test func theServerRaisesItsSoftLimitAndRefusesATooSmallOne() throws {
        guard let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              let globaldns = globalDNSExecutable() else {
            Issue.record("prlimit or the globaldns executable missing")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fdbudget-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("zones"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("globaldns.yaml")
        try "zones:\n  directory: zones\nstate:\n  directory: state\nlimits:\n  fileDescriptorReserve: 128\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let ok = try run(prlimit, ["--nofile=64:512", "--", globaldns, "--config", config.path, "--check"])
        #expect(ok.status == 0, "\(ok.output)")
        let line = ok.output.split(separator: "\n").first { $0.contains("open-file limit") }.map(String.init) ?? ""
        #expect(line.contains("nofile_soft_before=64"), "\(ok.output)")
        #expect(line.contains("nofile_soft=512") && line.contains("nofile_hard=512"), "\(line)")
        // 512 − 128 = 384 to share: the default caps (512 + 1024 + 1024) are clamped, each named.
        #expect(ok.output.contains("api.maxConnections 512 exceeds the file-descriptor budget"), "\(ok.output)")
        #expect(ok.output.contains("dns.tcpMaxConnections 1024 exceeds"), "\(ok.output)")
        #expect(ok.output.contains("healthCheck.maxConcurrentProbes 1024 exceeds"), "\(ok.output)")
        let refused = try run(prlimit, ["--nofile=64:160", "--", globaldns, "--config", config.path, "--check"])
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains("limits.fileDescriptorReserve"), "\(refused.output)")
    }

    private func globalDNSExecutable() -> String? {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent(".build/debug/globaldns").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

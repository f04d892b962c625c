import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// globaldnsctl's own parsing of outside input never traps (issue 12).
extension IntegrationSuite {
    @Suite("globaldnsctl input") struct CtlInput {
        /// `--for 9223372036854775807d` overflowed `n * 86400` and trapped; now it is a usage error.
        @Test("a --for duration too large for 64 bits is a usage error, not a crash")
        func hugeDrainDuration() async throws {
            let ctl = try TestEnvironment.executableNextToTests("globaldnsctl")
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ctl-input-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            for duration in ["9223372036854775807d", "106751991167301d", "9999999999999999999s"] {
                let r = try await runCommand(ctl, ["drain", "--server", "http://127.0.0.1:1", "ns", "t", "--reason", "x", "--for", duration],
                                             scratch: scratch)
                #expect(r.exitCode == 2, "\(duration): exit \(r.exitCode), \(r.stderr)")
                #expect(r.stderr.contains("not a duration"), "\(r.stderr)")
            }
        }

        /// Issue 14: usage errors exit 2, as the README says (not ArgumentParser's 64), and the
        /// help names the store tools.
        @Test("globaldns: usage errors exit 2; --help names the store subcommand")
        func globaldnsUsageErrorsExit2() async throws {
            let globaldns = try TestEnvironment.globalDNSExecutable()
            let scratch = try TestEnvironment.makeScratchDirectory("usage")
            defer { TestEnvironment.removeScratch(scratch) }
            for arguments in [["--bogus"], ["--threads", "many"], ["store", "copy", "--from", "sqlite:x"], ["store", "nope"]] {
                let r = try await runCommand(globaldns, arguments, scratch: scratch)
                #expect(r.exitCode == 2, "\(arguments): exit \(r.exitCode) \(r.stderr)")
            }
            let help = try await runCommand(globaldns, ["--help"], scratch: scratch)
            #expect(help.exitCode == 0 && help.stdout.contains("globaldns store copy"), "\(help.stdout)")
        }

        /// Issue 14: a listener that cannot be opened is named (NIO's message said only
        /// `bind(descriptor:ptr:bytes:): Address already in use`).
        @Test("a DNS port already taken: exit 1 naming the protocol, address and port")
        func takenDNSPortIsNamed() async throws {
            let globaldns = try TestEnvironment.globalDNSExecutable()
            let scratch = try TestEnvironment.makeScratchDirectory("bind")
            defer { TestEnvironment.removeScratch(scratch) }
            let holder = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(holder) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(bound == 0)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) }
            }
            let port = Int(UInt16(bigEndian: address.sin_port))
            let r = try await runCommand(globaldns, ["--dns-listen", "127.0.0.1:\(port)", "--api-listen", "127.0.0.1:0",
                                                     "--zones", TestEnvironment.fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("zones").path,
                                                     "--state", scratch.path], scratch: scratch)
            #expect(r.exitCode == 1, "\(r.stderr.suffix(500))")
            #expect(r.stderr.contains("cannot listen on UDP 127.0.0.1:\(port): Address already in use"), "\(r.stderr.suffix(500))")
        }

        /// Issue 14: `apply` refuses a manifest with a field a NameService does not have (a typo
        /// would silently turn health checks off) and applies nothing; `--field-validation=Warn`
        /// applies it with a warning naming file, line and field.
        @Test("apply refuses unknown fields with file:line and applies nothing; --field-validation=Warn applies with a warning")
        func applyRefusesUnknownFields() async throws {
            try await withGlobalDNS { server in
                let file = server.scratch.appendingPathComponent("typo.yaml")
                try """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: good}
                    spec: {fqdn: good.g.example.com, targets: [{name: t, addresses: [192.0.2.1]}]}
                    ---
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: typo}
                    spec:
                      fqdn: typo.g.example.com
                      healthcheck: {port: 443}
                      targets: [{name: t, addresses: [192.0.2.1]}]

                    """.write(to: file, atomically: true, encoding: .utf8)
                let strict = try await ctl(server, ["apply", "-f", file.path])
                #expect(strict.exitCode == 1, "\(strict.stdout)\(strict.stderr)")
                #expect(strict.stderr.contains(#"typo.yaml:11: unknown field "spec.healthcheck" (did you mean "healthCheck"?)"#), "\(strict.stderr)")
                #expect(try httpCall(port: server.apiPort, method: "GET", path: "/v1/nameservices/good").status == 404)

                let warned = try await ctl(server, ["apply", "-f", file.path, "--field-validation", "Warn"])
                #expect(warned.exitCode == 0, "\(warned.stdout)\(warned.stderr)")
                #expect(warned.stderr.contains(#"Warning: "#) && warned.stderr.contains("spec.healthcheck"), "\(warned.stderr)")
                #expect(warned.stdout.contains("nameservice/typo created"))
            }
        }
    }
}

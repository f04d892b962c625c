import Foundation
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

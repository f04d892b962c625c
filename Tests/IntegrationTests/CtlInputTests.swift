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
    }
}

import ArgumentParser
import GlobalDNSClient

/// `ready`: asks the server's `/readyz`. Exit 0 when ready, 1 when not (or unreachable): the
/// container image's HEALTHCHECK, which has no curl.
struct ReadyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ready",
        abstract: "Check that the server is ready (GET /readyz): exit 0 if it is, 1 if not.",
        discussion: "Prints 'ready', or why not (a failed component, the store, no plan yet).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let (ready, message) = try await global.makeClient().readiness()
        if ready {
            Terminal.print("ready")
        } else {
            Terminal.error(message)
            throw ExitCode(1)
        }
    }
}

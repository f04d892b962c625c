import ArgumentParser
import GlobalDNSClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `globaldnsctl`: apply, get, describe, delete and watch NameServices through the GlobalDNS API;
/// `ready` asks whether the server is ready.
///
/// Exit codes: 0 success, 1 an error from the API or the transport (printed as the server gave it),
/// 2 a usage error.
@main
struct GlobalDNSCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "globaldnsctl",
        abstract: "Manage GlobalDNS NameServices through the GlobalDNS HTTP API.",
        discussion: """
            The server is --server or GLOBALDNS_SERVER (default \(GlobalOptions.defaultServer)); writes need \
            a bearer token from --token or GLOBALDNS_API_TOKEN.
            Exit codes: 0 success, 1 API or connection error, 2 usage error.
            """,
        subcommands: [ApplyCommand.self, GetCommand.self, DescribeCommand.self, DeleteCommand.self, DrainCommand.self,
                      UndrainCommand.self, WatchCommand.self, ReadyCommand.self]
    )

    static func main() async {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            Terminal.error(fullMessage(for: error))
            Terminal.error("See 'globaldnsctl --help'.")
            terminate(2)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch let error as ExitCode {
            terminate(error.rawValue)
        } catch let error as ValidationError {
            Terminal.error("error: \(error.message)")
            terminate(2)
        } catch let error as APIError {
            Terminal.error(error.description)
            terminate(1)
        } catch let error as ClientError {
            Terminal.error(error.message)
            terminate(error.code == .invalidArgument ? 2 : 1)
        } catch {
            // `--help` parses into ArgumentParser's own help command, whose run() "fails" with the
            // help request; its parse errors are usage errors too.
            switch exitCode(for: error) {
            case .success: exit(withError: error)
            case .validationFailure:
                Terminal.error(fullMessage(for: error))
                terminate(2)
            default:
                Terminal.error("error: \(error)")
                terminate(1)
            }
        }
        terminate(0)
    }
}

/// Ends the process with `code` (output is unbuffered, see `Terminal`).
func terminate(_ code: Int32) -> Never {
    #if canImport(Glibc)
    Glibc.exit(code)
    #else
    Darwin.exit(code)
    #endif
}

import ArgumentParser
import Foundation
import GlobalDNSClient

/// `--server` and `--token`, shared by every subcommand, with their environment fallbacks.
struct GlobalOptions: ParsableArguments {
    static let defaultServer = "http://127.0.0.1:8080"

    @Option(name: .long, help: ArgumentHelp("The API URL (default \(GlobalOptions.defaultServer)).",
                                            discussion: "Falls back to GLOBALDNS_SERVER.", valueName: "url"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("Bearer token for writes.",
                                            discussion: "Falls back to GLOBALDNS_API_TOKEN.", valueName: "token"))
    var token: String?

    @Option(name: .customLong("request-timeout"), help: "Seconds to wait for a (non-watch) response.")
    var requestTimeout: Int = 30

    func validate() throws {
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be at least 1 second") }
    }

    /// The client these options describe. A bad `--server` is a usage error.
    func makeClient() throws -> NameServiceClient {
        let environment = ProcessInfo.processInfo.environment
        let url = server ?? environment["GLOBALDNS_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultServer
        let address: ServerAddress
        do {
            address = try ServerAddress(parsing: url)
        } catch {
            throw ValidationError(error.message)
        }
        let http = HTTPClient(server: address, requestTimeout: .seconds(Int64(requestTimeout)))
        return NameServiceClient(http: http, token: token ?? environment["GLOBALDNS_API_TOKEN"])
    }
}

/// `-o table|yaml|json`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, yaml, json
}

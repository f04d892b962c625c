import ArgumentParser
import Dispatch
import GlobalDNSClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `watch [-l SELECTOR] [--resource-version N] [-o json|yaml]`: one line per event until the server ends
/// the stream (exit 0), Ctrl-C or SIGTERM (exit 0), or an error (exit 1).
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Stream NameService changes: TYPE NAME fqdn=… ready=…",
        discussion: "Without --resource-version the stream starts with an ADDED event for every NameService."
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("l"), .customLong("selector")], help: ArgumentHelp("A label selector.", valueName: "selector"))
    var selector: String?

    @Option(name: .customLong("resource-version"), help: ArgumentHelp("Resume after this resourceVersion.", valueName: "N"))
    var resourceVersion: String?

    @Option(name: [.customShort("o"), .customLong("output")],
            help: "table (one summary line per event), json (the raw event line) or yaml (one document per event: type and object).")
    var output: OutputFormat = .table

    func run() async throws {
        let client = try global.makeClient()
        let selector = self.selector
        let resourceVersion = self.resourceVersion
        let output = self.output
        let watching = Task {
            try await client.watch(labelSelector: selector, resourceVersion: resourceVersion) { event in
                if let status = event.error {
                    // The stream carries its own error (a resourceVersion too old to resume from…).
                    throw APIError(httpStatus: status.code, status: status)
                }
                switch output {
                case .json: Terminal.print(event.line)
                case .yaml: Terminal.print(try NameServiceRendering.watchYAML(event))
                default: Terminal.print(event.summary)
                }
            }
        }
        // Ctrl-C and SIGTERM end the stream; the task sees cancellation and returns cleanly.
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { watching.cancel() }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await watching.value
        } catch is CancellationError {
            return
        } catch where watching.isCancelled {
            return
        }
    }
}


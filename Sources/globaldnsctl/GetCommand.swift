import ArgumentParser
import GlobalDNSClient
import GSLB

/// `get [NAME] [-l SELECTOR] [-o table|yaml|json] [--chunk-size N]`.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "List NameServices, or show one.",
        discussion: """
            The table shows NAME, FQDN, POLICY, TARGETS (healthy/total target addresses) and READY. \
            A list is read in pages of --chunk-size objects (as kubectl) and printed as each page \
            arrives, so memory stays bounded whatever the number of NameServices. If the server \
            expires the list between pages (410 Expired, the store compacted meanwhile) the command \
            says so and exits 1: run it again.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A NameService name; all of them when omitted.")
    var name: String?

    @Option(name: [.customShort("l"), .customLong("selector")], help: ArgumentHelp("A label selector (team=payments,env!=dev).", valueName: "selector"))
    var selector: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "table, yaml or json.")
    var output: OutputFormat = .table

    @Option(name: .customLong("chunk-size"), help: "Objects per page of a list (0: the whole list in one response).")
    var chunkSize: Int = 500

    func validate() throws {
        if name != nil, selector != nil { throw ValidationError("give a NAME or a -l selector, not both") }
        guard chunkSize >= 0 else { throw ValidationError("--chunk-size must be 0 or more") }
    }

    func run() async throws {
        let client = try global.makeClient()
        if let name {
            let object = try await client.get(name)
            switch output {
            case .table: Terminal.print(NameServiceRendering.table([object]))
            case .yaml: Terminal.print(try NameServiceRendering.yaml(object))
            case .json: Terminal.print(try NameServiceRendering.json(object))
            }
            return
        }
        var printer = ListPrinter(format: output.listFormat)
        var pages = 0
        do {
            try await client.listPages(labelSelector: selector, chunkSize: chunkSize) { page in
                pages += 1
                if let text = try printer.page(page) { Terminal.print(text) }
            }
        } catch let error as APIError where error.isExpired && pages > 0 {
            Terminal.error(error.description)
            Terminal.error("error: the list expired after \(printer.count) objects (the server no longer keeps the revision it was read at); the output above is incomplete: run the command again")
            throw ExitCode(1)
        }
        if let text = printer.finish() { Terminal.print(text) }
        if output == .table, printer.count == 0 { Terminal.error("No resources found.") }
    }
}

extension OutputFormat {
    var listFormat: ListPrinter.Format {
        switch self {
        case .table: .table
        case .json: .json
        case .yaml: .yaml
        }
    }
}

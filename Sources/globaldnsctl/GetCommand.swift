import ArgumentParser
import GlobalDNSClient
import GSLB

/// `get [NAME] [-l SELECTOR] [-o table|yaml|json]`.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "List NameServices, or show one.",
        discussion: "The table shows NAME, FQDN, POLICY, TARGETS (healthy/total target addresses) and READY."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A NameService name; all of them when omitted.")
    var name: String?

    @Option(name: [.customShort("l"), .customLong("selector")], help: ArgumentHelp("A label selector (team=payments,env!=dev).", valueName: "selector"))
    var selector: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "table, yaml or json.")
    var output: OutputFormat = .table

    func validate() throws {
        if name != nil, selector != nil { throw ValidationError("give a NAME or a -l selector, not both") }
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
        let list = try await client.list(labelSelector: selector)
        switch output {
        case .table:
            if list.items.isEmpty {
                Terminal.error("No resources found.")
            } else {
                Terminal.print(NameServiceRendering.table(list.items))
            }
        case .yaml: Terminal.print(try NameServiceRendering.yaml(list))
        case .json: Terminal.print(try NameServiceRendering.json(list))
        }
    }
}

import ArgumentParser
import GlobalDNSClient

/// `delete NAME`.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a NameService.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The NameService name.")
    var name: String

    func run() async throws {
        try await global.makeClient().delete(name)
        Terminal.print("nameservice \"\(name)\" deleted")
    }
}

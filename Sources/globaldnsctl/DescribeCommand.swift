import ArgumentParser
import GlobalDNSClient

/// `describe NAME`: metadata, spec summary, conditions and per-target health.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show a NameService with its conditions and per-target health."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The NameService name.")
    var name: String

    func run() async throws {
        let object = try await global.makeClient().get(name)
        Terminal.print(NameServiceRendering.describe(object))
    }
}

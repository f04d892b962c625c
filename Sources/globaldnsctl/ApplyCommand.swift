import ArgumentParser
import Foundation
import GlobalDNSClient

/// `apply -f FILE|DIR|-`: create or replace every NameService in the given manifests.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or replace NameServices from YAML or JSON manifests.",
        discussion: """
            A file may hold several documents separated by ---, or a NameServiceList. A directory applies \
            every *.yaml, *.yml and *.json file in it, in name order. - reads standard input. Prints \
            nameservice/NAME created|configured|unchanged for each object; stops at the first error \
            unless --continue is given.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("f"), .customLong("filename")], help: ArgumentHelp("A file, a directory, or - for stdin.", valueName: "path"))
    var filenames: [String] = []

    @Flag(name: .customLong("continue"), help: "Keep applying after an error; exit 1 at the end if any failed.")
    var continueOnError = false

    func validate() throws {
        guard !filenames.isEmpty else { throw ValidationError("apply needs -f FILE|DIR|-") }
    }

    func run() async throws {
        var manifests: [Manifest] = []
        for path in filenames {
            if path == "-" {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                manifests += try ManifestLoader.parse(String(decoding: data, as: UTF8.self), source: "<stdin>")
            } else {
                manifests += try ManifestLoader.load(path: path)
            }
        }
        let client = try global.makeClient()
        var failed = false
        for manifest in manifests {
            do {
                let action = try await client.apply(manifest.object)
                Terminal.print("nameservice/\(manifest.object.metadata.name) \(action)")
            } catch let error as APIError where continueOnError {
                Terminal.error(error.description)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

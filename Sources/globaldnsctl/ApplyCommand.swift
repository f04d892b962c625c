import ArgumentParser
import Foundation
import GlobalDNSClient
import GSLB

/// `apply -f FILE|DIR|-`: create or replace every NameService in the given manifests.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or replace NameServices from YAML or JSON manifests.",
        discussion: """
            A file may hold several documents separated by ---, or a NameServiceList. A directory applies \
            every *.yaml, *.yml and *.json file in it. - reads standard input. Every manifest is read and \
            checked before anything is sent. Objects are then applied concurrently (--concurrency requests \
            in flight, each on a kept-alive connection), one PUT per object; each prints \
            nameservice/NAME created|configured|unchanged as it completes, or its error on stderr. An \
            error for one object does not stop the others; with more than one object a summary follows on \
            stderr, and the exit code is 1 if any failed. Only a server that cannot be reached stops the run.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("f"), .customLong("filename")], help: ArgumentHelp("A file, a directory, or - for stdin.", valueName: "path"))
    var filenames: [String] = []

    @Option(name: .customLong("concurrency"), help: "Requests in flight at most (1 applies in order, one at a time).")
    var concurrency: Int = 16

    @Option(name: .customLong("field-validation"),
            help: ArgumentHelp("Fields a NameService does not have (typos): Strict refuses the run before anything is sent, Warn prints them and applies, Ignore drops them.",
                               valueName: "Strict|Warn|Ignore"))
    var fieldValidation: String = "Strict"

    @Flag(name: .customLong("continue"), help: ArgumentHelp("Accepted for compatibility: apply always goes on after an error.", visibility: .hidden))
    var continueOnError = false

    func validate() throws {
        guard !filenames.isEmpty else { throw ValidationError("apply needs -f FILE|DIR|-") }
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be in 1...1024") }
        guard validation != nil else { throw ValidationError("--field-validation must be Strict, Warn or Ignore, not \"\(fieldValidation)\"") }
    }

    var validation: FieldValidation? {
        FieldValidation.allCases.first { $0.rawValue.lowercased() == fieldValidation.lowercased() }
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
        let messages = manifests.flatMap(\.unknownFieldMessages)
        switch validation ?? .strict {
        case .strict where !messages.isEmpty:
            for m in messages { Terminal.error("error: \(m)") }
            Terminal.error("nothing applied: fix the fields above (or --field-validation=Warn to apply without them)")
            throw ExitCode(1)
        case .warn:
            for m in messages { Terminal.error("Warning: \(m)") }
        default:
            break
        }
        let client = try global.makeClient()
        let tally = ApplyTally()
        let names = manifests.map(\.object.metadata.name)
        let sources = manifests.map(\.source)
        try await client.applyAll(manifests.map(\.object), concurrency: concurrency) { index, result in
            switch result {
            case .success(let action):
                tally.count(action)
                Terminal.print("nameservice/\(names[index]) \(action)")
            case .failure(let error):
                tally.fail()
                let text = (error as? APIError)?.description ?? (error as? ClientError)?.message ?? "\(error)"
                Terminal.error("nameservice/\(names[index]) (\(sources[index])): \(text)")
            }
        }
        if manifests.count > 1 { Terminal.error(tally.summary) }
        if tally.failed > 0 { throw ExitCode(1) }
    }
}

/// Counts of what apply did, updated from the result callback.
final class ApplyTally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [ApplyAction: Int] = [:]
    private var failures = 0

    func count(_ action: ApplyAction) { lock.withLock { counts[action, default: 0] += 1 } }
    func fail() { lock.withLock { failures += 1 } }
    var failed: Int { lock.withLock { failures } }

    var summary: String {
        lock.withLock {
            let ok = counts.values.reduce(0, +)
            return "applied \(ok) of \(ok + failures): \(counts[.created] ?? 0) created, \(counts[.configured] ?? 0) configured, "
                + "\(counts[.unchanged] ?? 0) unchanged, \(failures) failed"
        }
    }
}

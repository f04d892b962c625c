import ArgumentParser
import GlobalDNSClient

/// `drain NAME TARGET --reason … [--for DURATION | --until TIME]`.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Take a target out of a NameService's answers, whatever its probes say.",
        discussion: """
        The drain records the reason, the name of your API token and, with --for or --until, when it
        lifts itself. `describe` shows it; `undrain` lifts it at once.
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The NameService name.")
    var name: String

    @Argument(help: "The target's name in spec.targets.")
    var target: String

    @Option(help: "Why the target is drained (shown in status and logs).")
    var reason: String

    @Option(name: .customLong("for"), help: "Lift the drain after this long: 90s, 30m, 2h, 1d.")
    var duration: String?

    @Option(help: "Lift the drain at this RFC 3339 time (2026-11-25T06:00:00Z).")
    var until: String?

    func validate() throws {
        if duration != nil && until != nil { throw ValidationError("give --for or --until, not both") }
        if let duration, Self.seconds(duration) == nil {
            throw ValidationError("--for \(duration): not a duration such as 90s, 30m, 2h or 1d")
        }
    }

    func run() async throws {
        let ns = try await global.makeClient().drain(name, target: target, reason: reason, until: until,
                                                     durationSeconds: duration.flatMap(Self.seconds))
        let drain = ns.drains.first { $0.target == target }
        Terminal.print("target \"\(target)\" of nameservice \"\(name)\" drained"
            + (drain.map { " by \($0.by)" + ($0.until.map { " until \($0.rfc3339)" } ?? " until undrained") } ?? ""))
    }

    /// `90s`, `30m`, `2h`, `1d`, or a bare number of seconds.
    static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let unit = text.last, let scale = units[unit], let n = Int64(text.dropLast()), n > 0 {
            let (product, overflow) = n.multipliedReportingOverflow(by: scale)  // 9223372036854775807d must not trap
            return overflow ? nil : product
        }
        if let n = Int64(text), n > 0 { return n }
        return nil
    }
}

/// `undrain NAME TARGET`.
struct UndrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undrain", abstract: "Lift the drain of a target.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The NameService name.")
    var name: String

    @Argument(help: "The target's name in spec.targets.")
    var target: String

    func run() async throws {
        _ = try await global.makeClient().undrain(name, target: target)
        Terminal.print("target \"\(target)\" of nameservice \"\(name)\" undrained")
    }
}

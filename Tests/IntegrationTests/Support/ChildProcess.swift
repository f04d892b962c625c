import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error of the integration harness itself (a tool missing, a server that never answered...).
/// Thrown errors make the test fail with this description.
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process started with Foundation's `Process`, its stdout and stderr going to files (never
/// pipes, so a chatty child can't block on a full pipe), with bounded waits.
///
/// Contract: whoever starts one calls `stop()` on every path (the `with…` helpers do); every wait
/// here is bounded in time, and `stop()` ends with SIGKILL to this PID if SIGTERM was not enough.
final class ChildProcess {
    let name: String
    let executable: String
    let arguments: [String]
    let stdoutURL: URL
    let stderrURL: URL
    private let process = Process()
    private let stdoutHandle: FileHandle
    private let stderrHandle: FileHandle

    /// Starts `executable` with `arguments`; output goes to `<logDirectory>/<name>.stdout|stderr`.
    init(name: String, executable: String, arguments: [String], logDirectory: URL,
         workingDirectory: URL? = nil, environment: [String: String]? = nil) throws {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        stdoutURL = logDirectory.appendingPathComponent("\(name).stdout")
        stderrURL = logDirectory.appendingPathComponent("\(name).stderr")
        for url in [stdoutURL, stderrURL] {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw HarnessError("cannot create \(url.path)")
            }
        }
        stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        stderrHandle = try FileHandle(forWritingTo: stderrURL)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        process.standardInput = FileHandle.nullDevice
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        if let environment { process.environment = environment }
        do {
            try process.run()
        } catch {
            try? stdoutHandle.close()
            try? stderrHandle.close()
            throw HarnessError("cannot start \(executable): \(error)")
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var commandLine: String { ([executable] + arguments).joined(separator: " ") }

    /// The exit code, or 128 + signal when the child died of a signal; nil while it runs.
    var exitCode: Int32? {
        if process.isRunning { return nil }
        switch process.terminationReason {
        case .exit: return process.terminationStatus
        case .uncaughtSignal: return 128 + process.terminationStatus
        @unknown default: return process.terminationStatus
        }
    }

    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    func send(signal: Int32) {
        guard process.isRunning else { return }
        _ = kill(pid, signal)
    }

    /// Waits until the child exits, at most `timeout`. Returns its exit code, nil if still running.
    @discardableResult
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else { return nil }
        closeHandles()
        return exitCode
    }

    /// SIGTERM, up to `grace` for it to exit, then SIGKILL and up to 5 s more. Returns the exit code
    /// (nil only if even SIGKILL did not end it in time).
    @discardableResult
    func stop(grace: Duration = .seconds(5)) async -> Int32? {
        if process.isRunning {
            send(signal: SIGTERM)
            if await waitForExit(timeout: grace) == nil {
                send(signal: SIGKILL)
                await waitForExit(timeout: .seconds(5))
            }
        }
        closeHandles()
        return exitCode
    }

    private var handlesClosed = false
    private func closeHandles() {
        guard !handlesClosed else { return }
        handlesClosed = true
        try? stdoutHandle.close()
        try? stderrHandle.close()
    }
}

/// The result of a short-lived command.
struct CommandResult {
    var exitCode: Int32
    var stdout: String
    var stderr: String
}

/// Runs a short command to completion, at most `timeout` (then it is killed and this throws).
func runCommand(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(20),
                scratch: URL) async throws -> CommandResult {
    let name = "cmd-\(UUID().uuidString.prefix(8))"
    let child = try ChildProcess(name: name, executable: executable, arguments: arguments,
                                 logDirectory: scratch)
    defer {
        try? FileManager.default.removeItem(at: child.stdoutURL)
        try? FileManager.default.removeItem(at: child.stderrURL)
    }
    guard let code = await child.waitForExit(timeout: timeout) else {
        await child.stop(grace: .milliseconds(200))
        throw HarnessError("timed out after \(timeout): \(child.commandLine)")
    }
    return CommandResult(exitCode: code, stdout: child.stdout, stderr: child.stderr)
}

/// Finds a program on PATH or in the sbin directories (knotd lives in /usr/sbin).
func findTool(_ name: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let dirs = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin"]
    for dir in dirs {
        let candidate = (dir as NSString).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw HarnessError("\(name) not found on PATH or in /usr/sbin (run `make deps`)")
}

import Foundation

/// Which command-line client sends the query. Both print a format `DigOutput` parses.
enum DNSClient: String, CaseIterable, CustomStringConvertible, Sendable {
    case dig
    case kdig

    var description: String { rawValue }
}

/// UDP, or TCP (`+tcp`).
enum Transport: String, CaseIterable, CustomStringConvertible, Sendable {
    case udp
    case tcp

    var description: String { rawValue }
}

/// A DNS server on loopback that the clients can be pointed at.
struct ServerAddress: CustomStringConvertible, Sendable {
    var host: String  // "127.0.0.1" or "::1"
    var port: UInt16
    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Runs `dig` and `kdig` against a loopback server with bounded timeouts and parses what they print.
struct DNSQuerier {
    var server: ServerAddress
    var scratch: URL

    /// Runs the client with `arguments` (names, types, classes and `+options`) and returns its
    /// parsed output. Adds the server, the port and bounded timeouts (2 s, 2 tries).
    func run(_ client: DNSClient, _ arguments: [String], timeout: Duration = .seconds(20)) async throws -> DigOutput {
        let tool = try findTool(client.rawValue)
        var args = ["@\(server.host)", "-p", String(server.port)]
        switch client {
        case .dig: args += ["+time=2", "+tries=2"]
        case .kdig: args += ["+timeout=2", "+retry=1"]
        }
        args += arguments
        let result = try await runCommand(tool, args, timeout: timeout, scratch: scratch)
        let output = DigOutput(parsing: result.stdout + (result.stderr.isEmpty ? "" : "\n" + result.stderr))
        return output
    }

    /// One query: `name type` with `options`, over `transport`, expecting exactly one message back.
    func query(_ name: String, _ type: String = "A", _ options: [String] = [], client: DNSClient = .dig,
               transport: Transport = .udp) async throws -> DigMessage {
        var args = [name, type] + options
        if transport == .tcp { args.append("+tcp") }
        let output = try await run(client, args)
        guard let message = output.messages.last else {
            throw HarnessError("\(client) \(args.joined(separator: " ")) @\(server): no answer\n\(output.text)")
        }
        return message
    }
}

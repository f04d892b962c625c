import Foundation

/// A throwaway PKI for TLS tests, made with the `openssl` command-line tool (Debian `openssl`) in
/// `directory`: a CA, a server certificate for `IP:127.0.0.1` and `DNS:localhost`, and a client
/// certificate, all EC P-256 and valid for two days.
///
/// The server certificate carries both serverAuth and clientAuth: etcd 3.4's JSON gateway dials
/// its own gRPC server with the server certificate, and with `--client-cert-auth` that dial is
/// refused unless the certificate is also good for a client.
public struct EtcdTestCertificates: Sendable {
    public let directory: URL
    public var caFile: String { path("ca.pem") }
    public var serverCertFile: String { path("server.pem") }
    public var serverKeyFile: String { path("server.key") }
    public var clientCertFile: String { path("client.pem") }
    public var clientKeyFile: String { path("client.key") }

    /// Generates the files into `directory` (created when missing).
    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = try findTool("openssl", package: "openssl")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(openssl, ["req", "-x509"] + ec + [
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=globaldns-test-ca-\(directory.lastPathComponent)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try issue(openssl, "server", subject: "/CN=localhost", serial: 2, extensions: """
            subjectAltName=IP:127.0.0.1,DNS:localhost
            extendedKeyUsage=serverAuth,clientAuth
            """, ec: ec)
        try issue(openssl, "client", subject: "/CN=globaldns-test-client", serial: 3,
                  extensions: "extendedKeyUsage=clientAuth", ec: ec)
    }

    private func issue(_ openssl: String, _ name: String, subject: String, serial: Int, extensions: String, ec: [String]) throws {
        try Data("""
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature
            \(extensions)

            """.utf8).write(to: directory.appendingPathComponent("\(name).ext"))
        try run(openssl, ["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
        try run(openssl, ["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                          "-set_serial", String(serial), "-days", "2", "-extfile", "\(name).ext", "-out", "\(name).pem"])
    }

    private func run(_ tool: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        p.currentDirectoryURL = directory
        let errors = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = errors
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw EtcdClusterError("openssl \(arguments.joined(separator: " ")) failed (\(p.terminationStatus)): \(String(decoding: output, as: UTF8.self))")
        }
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// `name` on PATH (or /usr/bin, /usr/local/bin, /usr/sbin).
func findTool(_ name: String, package: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let candidate = dir + "/" + name
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw EtcdClusterError("\(name) not found on PATH (Debian: apt-get install \(package); `make deps` does it)")
}

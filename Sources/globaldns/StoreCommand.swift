import ArgumentParser
import GlobalDNSApp
import NameServiceStore
import NameServiceStoreEtcd

#if canImport(Glibc)
import Glibc
#endif

/// `globaldns store copy --from sqlite:PATH --to etcd:URL[,URL…]`: moves a single node's
/// NameServices into the etcd cluster it grows into (or back). Exit codes: 0 when every object is
/// at the destination as at the source, 1 when some differ there (not copied without
/// `--overwrite`) or a store failed, 2 for a usage error.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "globaldns store", abstract: "Work on NameService stores.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy NameServices (labels, spec, drains; not status) from one store to another.",
            discussion: """
                Stores: sqlite:PATH (the nameservices.db file or the state directory holding it), \
                etcd:URL[,URL...] (http://HOST:PORT or https://HOST:PORT). The etcd password of \
                --etcd-user comes from GLOBALDNS_ETCD_PASSWORD. Idempotent: objects already there \
                with the same content are left alone; objects that differ are reported and kept \
                unless --overwrite.
                """)

        @Option(help: "The store to read: sqlite:PATH or etcd:URL[,URL...].") var from: String
        @Option(help: "The store to write: sqlite:PATH or etcd:URL[,URL...].") var to: String
        @Option(help: "etcd key prefix.") var prefix: String = EtcdConfiguration.defaultPrefix
        @Option(name: .customLong("etcd-user"), help: "etcd user (password in GLOBALDNS_ETCD_PASSWORD).") var etcdUser: String?
        @Option(name: .customLong("etcd-ca-file"), help: "CA bundle (PEM) for https endpoints.") var etcdCAFile: String?
        @Option(name: .customLong("etcd-cert-file"), help: "Client certificate (PEM).") var etcdCertFile: String?
        @Option(name: .customLong("etcd-key-file"), help: "Client key (PEM).") var etcdKeyFile: String?
        @Flag(help: "Replace objects that differ at the destination.") var overwrite = false

        func run() async throws {
            var tls: EtcdConfiguration.TLS?
            if etcdCAFile != nil || etcdCertFile != nil {
                tls = EtcdConfiguration.TLS(caFile: etcdCAFile, certFile: etcdCertFile, keyFile: etcdKeyFile)
            }
            let password = getenv(GlobalDNSConfiguration.etcdPasswordVariable).map { String(cString: $0) }
            let etcd = EtcdConfiguration(endpoints: [], prefix: prefix, username: etcdUser, password: password, tls: tls)
            do {
                let source = try StoreCopier.openStore(from, etcd: etcd, mustExist: true)
                let destination = try StoreCopier.openStore(to, etcd: etcd)
                let report = try await StoreCopier(overwrite: overwrite).copy(from: source, to: destination) { name, outcome in
                    print("nameservice/\(name) \(outcome == .differs ? "differs at the destination, not copied" : outcome.rawValue)")
                }
                print(report.summary)
                if report.count(.differs) > 0 { throw ExitCode(1) }
            } catch let error as StoreError {
                writeToStderr("globaldns store copy: \(error)\n")
                throw ExitCode(error.code == .invalid ? 2 : 1)
            }
        }
    }
}

/// `globaldns store …` runs the store tools; anything else is the server (`GlobalDNSCommand`).
/// A usage error exits 2, as the README says (ArgumentParser's own default is 64, EX_USAGE).
@main
enum GlobalDNSMain {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "store" {
            await run(StoreCommand.self, Array(arguments.dropFirst()))
        } else {
            await run(GlobalDNSCommand.self, arguments)
        }
    }

    static func run<Root: ParsableCommand>(_ root: Root.Type, _ arguments: [String]) async {
        let command: any ParsableCommand
        do {
            command = try Root.parseAsRoot(arguments)
        } catch {
            if Root.exitCode(for: error) == .success { Root.exit(withError: error) }  // --help, --version
            writeToStderr(Root.fullMessage(for: error) + "\n")
            exit(2)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch {
            switch Root.exitCode(for: error) {
            case .success: Root.exit(withError: error)
            case .validationFailure:
                writeToStderr(Root.fullMessage(for: error) + "\n")
                exit(2)
            default:
                Root.exit(withError: error)
            }
        }
        exit(0)
    }
}

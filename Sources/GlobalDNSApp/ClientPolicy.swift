import GSLB
import Yams

/// The query path's client-facing settings built from the configuration: the localities table,
/// the default locality and the explain allow-list. Built at start and again on SIGHUP; a bad
/// table keeps the one being served.
public struct ClientPolicy: Sendable {
    public var mapping: ClientMapping
    public var explainAllow: CIDRSet
    /// Non-fatal findings (a CIDR with host bits set), each `file:line: path: message`.
    public var warnings: [String]
    /// Where the table came from, for logs: `config.yaml` or the localities file.
    public var source: String
}

extension GlobalDNSConfiguration {
    /// Builds the client policy; `base` resolves a relative localities file. Errors carry the
    /// file, line and key path.
    public func loadClientPolicy(base: String, configurationFile: String? = nil) throws(ConfigurationError) -> ClientPolicy {
        var entries: [LocalityTable.Entry]
        var source = configurationFile ?? "configuration"
        var lines: (String) -> Int? = { _ in nil }
        var file = configurationFile
        var field = "localities"
        switch localities {
        case .inline(let e):
            entries = e
        case .file(let path):
            field = ""
            let full = GlobalDNSServer.resolve(path, base: base)
            source = full
            file = full
            let text: String
            do { text = try readTextFile(full) } catch {
                throw ConfigurationError(keyPath: "localities", message: "cannot read the localities file \(full): \(error)")
            }
            let root: Node?
            do { root = try Yams.compose(yaml: text) } catch {
                throw ConfigurationError(file: full, keyPath: "", message: "not valid YAML: \(error)")
            }
            let r = NodeReader(file: full)
            if let root {
                entries = try r.localityEntries(root, path: "")
                lines = { r.node(atPath: $0, in: root)?.mark?.line }
            } else {
                entries = []
            }
        }
        let table: LocalityTable
        do {
            table = try LocalityTable(entries: entries, field: field)
        } catch {
            let p = error.problems[0]
            throw ConfigurationError(file: file, line: lines(p.field), keyPath: p.field, message: p.message)
        }
        var defaultLocality: Locality?
        if let d = self.defaultLocality {
            do { defaultLocality = try Locality(d) } catch {
                throw ConfigurationError(file: configurationFile, keyPath: "defaultLocality", message: error.message)
            }
        }
        let allow: CIDRSet
        do { allow = try CIDRSet(parsing: explain.allow, field: "explain.allow") } catch {
            let p = error.problems[0]
            throw ConfigurationError(file: configurationFile, keyPath: p.field, message: p.message)
        }
        let warnings = table.warnings.map { w in
            "\(file.map { $0 + ":" } ?? "")\(lines(w.field).map { "\($0):" } ?? "") \(w.field): \(w.message)"
        }
        return ClientPolicy(mapping: ClientMapping(table: table, defaultLocality: defaultLocality),
                            explainAllow: allow, warnings: warnings, source: source)
    }
}

import Foundation
import GlobalDNSApp
import Testing

/// `config/globaldns.yaml` is the configuration reference: every key the reader accepts appears
/// there (set to its default, or commented out when it has no value by default), and nothing else.
@Suite struct DocumentedConfigurationTests {
    @Test func theShippedFileDocumentsExactlyTheAcceptedKeys() throws {
        let text = try String(contentsOfFile: repositoryRoot() + "/config/globaldns.yaml", encoding: .utf8)
        let documented = Self.keyPaths(in: text)
        let accepted = ConfigurationReader.keyPaths
        #expect(accepted.subtracting(documented).isEmpty,
                "accepted but not documented in config/globaldns.yaml: \(accepted.subtracting(documented).sorted())")
        #expect(documented.subtracting(accepted).isEmpty,
                "documented in config/globaldns.yaml but not accepted: \(documented.subtracting(accepted).sorted())")
    }

    @Test func theScannerSeesSetAndCommentedKeys() {
        let text = """
            # Prose: capitalised or spaced words are not keys. Default: none
            identity: a
            # defaultLocality: us-east
            dns:
              # Addresses: prose again
              listen: []
              # threads: 0
            zones:
              directory: z
              # files: [a.zone]
            api:
              tokens: {}
              #   ci-controller: {env: X}
              #   operators: {file: token}
            """
        #expect(Self.keyPaths(in: text) == ["identity", "defaultLocality", "dns.listen", "dns.threads",
                                           "zones.directory", "zones.files", "api.tokens"])
    }

    /// Key paths of a commented YAML file: `key:` lines, set or commented out (`# key: …` at the
    /// key's own indentation), nested by indentation. Only keys inside the reader's sections count
    /// (below a key are names the user picks, as in `api.tokens.NAME`); sections are not listed.
    static func keyPaths(in text: String) -> Set<String> {
        var stack: [(indent: Int, path: String)] = []
        var paths = Set<String>()
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Substring(raw)
            var indent = line.prefix(while: { $0 == " " }).count
            line = line.dropFirst(indent)
            if line.hasPrefix("#") {
                line = line.dropFirst()
                if line.hasPrefix(" ") { line = line.dropFirst() }
                let more = line.prefix(while: { $0 == " " }).count
                indent += more
                line = line.dropFirst(more)
            }
            guard let first = line.first, first.isLowercase, first.isASCII,
                  let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let after = line[line.index(after: colon)...]
            guard key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
                  after.isEmpty || after.first == " " else { continue }
            while let top = stack.last, top.indent >= indent { stack.removeLast() }
            let parent = stack.last?.path ?? ""
            let path = parent.isEmpty ? String(key) : parent + "." + key
            stack.append((indent, path))
            guard ConfigurationReader.sections[parent] != nil else { continue }
            if ConfigurationReader.sections[path] == nil { paths.insert(path) }
        }
        return paths
    }
}

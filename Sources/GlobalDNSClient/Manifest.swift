import Foundation
import GSLB
import Yams

/// One NameService read from a file, with where it came from for error messages.
public struct Manifest: Sendable, Hashable {
    public var object: NameService
    /// `checkout.yaml`, `checkout.yaml (document 2)` or `<stdin>`.
    public var source: String
    /// Fields of the document that a NameService does not have (typos such as `polcy`): the
    /// decoder drops them, so `apply` refuses (or, asked to, warns about) them before sending.
    public var unknownFields: [UnknownField]

    public init(object: NameService, source: String, unknownFields: [UnknownField] = []) {
        self.object = object
        self.source = source
        self.unknownFields = unknownFields
    }

    /// `checkout.yaml:7: unknown field "spec.polcy" (did you mean "policy"?)`, one per field.
    public var unknownFieldMessages: [String] {
        unknownFields.map { u in
            guard let line = u.line else { return "\(source): \(u)" }
            let within = source == fileName ? "" : " " + source.dropFirst(fileName.count + 1)
            return "\(fileName):\(line): \(u)\(within)"
        }
    }

    /// The file part of `source` (without ` (document 2)` or ` items[3]`).
    var fileName: String {
        String(source.split(separator: " ", maxSplits: 1).first ?? Substring(source))
    }
}

/// Reads what `apply -f` is given: YAML or JSON, several documents per file (`---`), a
/// `NameServiceList`/`List` whose items are NameServices, or a directory of `*.yaml`, `*.yml`
/// and `*.json` files taken in name order (not recursively, like `kubectl apply -f DIR`).
///
/// JSON is read by the YAML parser (JSON is YAML 1.2 flow syntax), so a `.json` file may also hold
/// several documents. Empty documents are skipped. Every other check is the server's: a document
/// only needs `kind: NameService` and a `metadata.name` to be sent to the right path.
public enum ManifestLoader {
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Every manifest under `path` (a file or a directory), in apply order.
    public static func load(path: String) throws -> [Manifest] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ClientError(.invalidManifest, "the path \"\(path)\" does not exist")
        }
        guard isDirectory.boolValue else { return try parse(try readFile(path), source: path) }
        var manifests: [Manifest] = []
        for file in try files(inDirectory: path) {
            manifests += try parse(try readFile(file), source: file)
        }
        return manifests
    }

    /// The `*.yaml`, `*.yml` and `*.json` regular files directly inside `directory`, by name.
    public static func files(inDirectory directory: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ClientError(.invalidManifest, "cannot list \"\(directory)\": \(error.localizedDescription)")
        }
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return names
            .filter { name in
                guard !name.hasPrefix("."), let dot = name.lastIndex(of: ".") else { return false }
                return extensions.contains(name[name.index(after: dot)...].lowercased())
            }
            .sorted()
            .map { base + $0 }
            .filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
    }

    /// The NameServices in `text`, in document order.
    public static func parse(_ text: String, source: String) throws -> [Manifest] {
        // Parser.nextRoot() rather than compose_all(yaml:): the latter's sequence ends quietly at a
        // syntax error, which would apply the documents before it and drop the rest unnoticed.
        var nodes: [Node] = []
        do {
            let parser = try Parser(yaml: text)
            while let node = try parser.nextRoot() { nodes.append(node) }
        } catch {
            throw ClientError(.invalidManifest, "error parsing \(source): \(error)")
        }
        let documents = nodes.filter { !isEmpty($0) }
        var manifests: [Manifest] = []
        for (index, node) in documents.enumerated() {
            let where_ = documents.count > 1 ? "\(source) (document \(index + 1))" : source
            guard node.mapping != nil else {
                throw ClientError(.invalidManifest, "error parsing \(where_): a document must be a mapping with apiVersion, kind, metadata and spec")
            }
            let kind = node["kind"]?.string ?? ""
            if kind == "NameServiceList" || kind == "List" {
                for (i, item) in (node["items"]?.sequence ?? []).enumerated() {
                    manifests.append(try decodeOne(item, source: "\(where_) items[\(i)]"))
                }
            } else {
                manifests.append(try decodeOne(node, source: where_))
            }
        }
        return manifests
    }

    private static func decodeOne(_ node: Node, source: String) throws -> Manifest {
        let object: NameService
        let unknown = FieldSchema.nameService.unknownFields(in: documentNode(node))
        do {
            object = try YAMLDecoder().decode(NameService.self, from: node)
        } catch {
            throw ClientError(.invalidManifest, "error parsing \(source): \(describe(error))")
        }
        guard object.kind == NameService.kindName else {
            let kind = object.kind.isEmpty ? "no kind" : "kind \"\(object.kind)\""
            throw ClientError(.invalidManifest, "error parsing \(source): \(kind); globaldnsctl applies kind NameService")
        }
        guard !object.metadata.name.isEmpty else {
            throw ClientError(.invalidManifest, "error parsing \(source): metadata.name is required")
        }
        return Manifest(object: object, source: source, unknownFields: unknown)
    }

    /// A Yams node as the schema's tree, with the (1-based) line of every key.
    static func documentNode(_ node: Node) -> DocumentNode {
        switch node {
        case .mapping(let mapping):
            return .object(mapping.map { key, value in
                DocumentNode.Member(key: key.string ?? "?", value: documentNode(value), line: key.mark.map { $0.line })
            })
        case .sequence(let sequence):
            return .array(sequence.map(documentNode))
        default:
            return .scalar
        }
    }

    private static func isEmpty(_ node: Node) -> Bool {
        if case .scalar(let s) = node { return s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string) }
        return false
    }

    private static func readFile(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClientError(.invalidManifest, "cannot read \"\(path)\"")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ClientError(.invalidManifest, "\"\(path)\" is not UTF-8 text")
        }
        return text
    }

    /// A decoding error's path and message, e.g. `spec.ttl: expected Int`.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { acc, key in
                if let i = key.intValue { return acc + "[\(i)]" }
                return acc.isEmpty ? key.stringValue : acc + "." + key.stringValue
            }
        }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            let p = path(c.codingPath)
            return p.isEmpty ? c.debugDescription : "\(p): \(c.debugDescription)"
        case .keyNotFound(let key, let c):
            return "\(path(c.codingPath + [key])): is required"
        @unknown default:
            return "\(error)"
        }
    }
}

import CYaml
import GSLB

/// Checks a request body's shape before any decoder builds a tree from it (issue 12):
///
/// - JSON: a member name repeated in one object (`{"spec":A,"spec":B}`) is refused, at any depth
///   (RFC 8259 §4: parsers disagree on which one wins, so a validating proxy could see another
///   object than the store), and nesting deeper than `maxDepth` is refused.
/// - YAML: anchors and aliases are refused (a 568-byte body of nested aliases used as mapping keys
///   cost 51 CPU-seconds in the decoder; a 42 KiB one expanded to 1M addresses), and nesting
///   deeper than `maxDepth` is refused. The check reads libyaml's event stream, which never
///   expands an alias or builds a node, so its cost is linear in the body.
///
/// A body that is not even well-formed passes through: the decoder then says where it breaks.
enum BodyLimits {
    /// Deepest nesting of objects/arrays (mappings/sequences) accepted: a NameService is 6 deep.
    static let maxDepth = 64

    /// Checks `body` and returns its tree (for strict field validation), or nil when it is
    /// malformed (the decoder then says where).
    @discardableResult
    static func check(_ body: [UInt8], as format: BodyDecoding.Format) throws(APIStatus) -> DocumentNode? {
        switch format {
        case .json: try checkJSON(body)
        case .yaml: try checkYAML(body)
        }
    }

    // MARK: JSON

    static func checkJSON(_ body: [UInt8]) throws(APIStatus) -> DocumentNode? {
        var scanner = JSONShapeScanner(bytes: body)
        do {
            return try scanner.scanDocument()
        } catch {
            switch error {
            case .malformed:
                return nil  // JSONDecoder reports the syntax error with its position
            case .duplicate(let path):
                throw APIStatus.badRequest("malformed JSON: member \(path) appears more than once (RFC 8259 §4: member names must be unique)")
            case .tooDeep(let path):
                throw APIStatus.badRequest("malformed JSON: nesting deeper than \(maxDepth) levels at \(path)")
            }
        }
    }

    // MARK: YAML

    static func checkYAML(_ body: [UInt8]) throws(APIStatus) -> DocumentNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw APIStatus(code: 500, reason: "InternalError", message: "the YAML parser could not be initialised")
        }
        defer { yaml_parser_delete(&parser) }
        var problem: APIStatus?
        var tree = YAMLTreeBuilder()
        var complete = false
        body.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress else { return }
            yaml_parser_set_input_string(&parser, base, bytes.count)
            var depth = 0
            while problem == nil {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }  // malformed: the decoder says where
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1, column = Int(event.start_mark.column) + 1
                var anchored = false
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    complete = true
                    return
                case YAML_ALIAS_EVENT:
                    problem = APIStatus.badRequest("malformed YAML: aliases (*name) are not accepted in request bodies (line \(line), column \(column)); write the value out")
                case YAML_SCALAR_EVENT:
                    anchored = event.data.scalar.anchor != nil
                    let text = event.data.scalar.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: event.data.scalar.length), as: UTF8.self) } ?? ""
                    tree.scalar(text, line: line)
                case YAML_SEQUENCE_START_EVENT:
                    anchored = event.data.sequence_start.anchor != nil
                    depth += 1
                    tree.start(object: false, line: line)
                case YAML_MAPPING_START_EVENT:
                    anchored = event.data.mapping_start.anchor != nil
                    depth += 1
                    tree.start(object: true, line: line)
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                    tree.end()
                default:
                    break
                }
                if anchored {
                    problem = APIStatus.badRequest("malformed YAML: anchors (&name) are not accepted in request bodies (line \(line), column \(column))")
                } else if depth > maxDepth {
                    problem = APIStatus.badRequest("malformed YAML: nesting deeper than \(maxDepth) levels (line \(line), column \(column))")
                }
            }
        }
        if let problem { throw problem }
        return complete ? tree.root : nil
    }
}

/// Builds a `DocumentNode` from libyaml's events (the first document; keys with their lines).
struct YAMLTreeBuilder {
    private enum Open {
        case object([DocumentNode.Member], pendingKey: (String, Int)?)
        case array([DocumentNode])
    }
    private var stack: [Open] = []
    private(set) var root: DocumentNode?

    mutating func start(object: Bool, line: Int) {
        stack.append(object ? .object([], pendingKey: nil) : .array([]))
    }

    mutating func end() {
        guard let top = stack.popLast() else { return }
        switch top {
        case .object(let members, _): add(.object(members), text: nil, line: 0)
        case .array(let items): add(.array(items), text: nil, line: 0)
        }
    }

    mutating func scalar(_ text: String, line: Int) { add(.scalar, text: text, line: line) }

    private mutating func add(_ node: DocumentNode, text: String?, line: Int) {
        guard let top = stack.popLast() else {
            if root == nil { root = node }
            return
        }
        switch top {
        case .object(var members, let pending):
            if let (key, keyLine) = pending {
                members.append(DocumentNode.Member(key: key, value: node, line: keyLine))
                stack.append(.object(members, pendingKey: nil))
            } else {
                // a key: a scalar's text (a complex key has no name and no schema: "?")
                stack.append(.object(members, pendingKey: (text ?? "?", line)))
            }
        case .array(var items):
            items.append(node)
            stack.append(.array(items))
        }
    }
}

/// A strict single-pass JSON scanner that only looks at structure: member names per object
/// (decoded, so `"a"` and `"\u0061"` are the same name) and nesting depth.
struct JSONShapeScanner {
    enum Failure: Error { case malformed, duplicate(String), tooDeep(String) }

    let bytes: [UInt8]
    var i = 0
    /// The path of the value being scanned, for messages: `spec.targets[0].name`.
    var path: [PathPart] = []

    enum PathPart { case key(String), index(Int) }

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func scanDocument() throws(Failure) -> DocumentNode {
        skipSpace()
        let root = try value(depth: 0)
        skipSpace()
        guard i == bytes.count else { throw .malformed }
        return root
    }

    var pathText: String {
        var s = ""
        for part in path {
            switch part {
            case .key(let k): s += (s.isEmpty ? "" : ".") + k
            case .index(let n): s += "[\(n)]"
            }
        }
        return s.isEmpty ? "the document root" : s
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
    }

    mutating func value(depth: Int) throws(Failure) -> DocumentNode {
        guard i < bytes.count else { throw .malformed }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            guard depth < BodyLimits.maxDepth else { throw .tooDeep(pathText) }
            i += 1
            var names = Set<String>()
            var members: [DocumentNode.Member] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object([]) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw .malformed }
                let name = try string()
                path.append(.key(name))
                guard names.insert(name).inserted else { throw .duplicate(pathText) }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw .malformed }
                i += 1
                skipSpace()
                members.append(DocumentNode.Member(key: name, value: try value(depth: depth + 1)))
                path.removeLast()
                skipSpace()
                guard i < bytes.count else { throw .malformed }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw .malformed
            }
        case UInt8(ascii: "["):
            guard depth < BodyLimits.maxDepth else { throw .tooDeep(pathText) }
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array([]) }
            var index = 0
            var items: [DocumentNode] = []
            while true {
                skipSpace()
                path.append(.index(index))
                items.append(try value(depth: depth + 1))
                path.removeLast()
                index += 1
                skipSpace()
                guard i < bytes.count else { throw .malformed }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw .malformed
            }
        case UInt8(ascii: "\""):
            _ = try string()
            return .scalar
        default:
            // a number, true, false or null: its exact form is the decoder's business
            let start = i
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || b == 0x20 || b == 0x09
                    || b == 0x0A || b == 0x0D { break }
                i += 1
            }
            guard i > start else { throw .malformed }
            return .scalar
        }
    }

    /// A string token starting at the opening quote, decoded.
    mutating func string() throws(Failure) -> String {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw .malformed }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            switch JSONEscape.decode(bytes, &i) {
            case .byte(let e): out.append(e)
            case .scalar(let u): out.append(contentsOf: UTF8.encode(u)!)
            // A lone surrogate decodes as U+FFFD, as JSONDecoder would refuse or replace it.
            case .loneSurrogate: out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            case nil: throw .malformed
            }
        }
        throw .malformed
    }
}

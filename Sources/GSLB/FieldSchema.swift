/// The fields a NameService manifest may hold, for strict field validation (issue 14): a field the
/// server does not know (`polcy`, `healthcheck`, `spec.tll`) is refused with its path, as
/// Kubernetes' strict field validation does, instead of being dropped so that a typo silently turns
/// health checks off. Decoders build a `DocumentNode` tree of the body (JSON or YAML) and ask
/// `unknownFields(in:)`; the model's `Codable` keys and this schema are kept in step by a test that
/// encodes a fully populated NameService and checks every key it writes is known here.
public indirect enum FieldSchema: Sendable {
    /// An object with these fields.
    case object([String: FieldSchema])
    /// An object whose keys are data (labels): any key, values of this shape.
    case map(FieldSchema)
    /// A list of values of this shape.
    case array(FieldSchema)
    /// A string, number, boolean or null.
    case scalar
    /// Anything: written by the server and ignored on writes (`status`, `drains`).
    case any

    /// A NameService as `PUT /v1/nameservices/{name}` and `globaldnsctl apply` read it.
    public static let nameService: FieldSchema = .object([
        "apiVersion": .scalar,
        "kind": .scalar,
        "metadata": .object([
            "name": .scalar,
            "labels": .map(.scalar),
            "generation": .scalar,
            "resourceVersion": .scalar,
            "creationRevision": .scalar,
            "creationTimestamp": .scalar,
        ]),
        "spec": .object([
            "fqdn": .scalar,
            "ttl": .scalar,
            "policy": .scalar,
            "maxAnswers": .scalar,
            "allDown": .scalar,
            "failover": .array(.object(["from": .scalar, "to": .scalar])),
            "distribute": .array(.object(["from": .scalar, "to": .map(.scalar)])),
            "overprovisioningFactor": .scalar,
            "fallback": .object(["addresses": .array(.scalar), "fqdn": .scalar]),
            "healthCheck": .object([
                "port": .scalar,
                "intervalSeconds": .scalar,
                "timeoutSeconds": .scalar,
                "failureThreshold": .scalar,
                "successThreshold": .scalar,
                "initialDelaySeconds": .scalar,
            ]),
            "targets": .array(.object([
                "name": .scalar,
                "addresses": .array(.scalar),
                "fqdn": .scalar,
                "locality": .scalar,
                "ratio": .scalar,
            ])),
        ]),
        "status": .any,
        "drains": .any,
    ])

    /// The body of a drain request.
    public static let drainRequest: FieldSchema = .object(["reason": .scalar, "until": .scalar, "durationSeconds": .scalar])

    /// Every field of `node` this schema does not know, in document order, as a field path
    /// (`spec.polcy`, `spec.targets[1].adresses`) with the line it is on when the tree knows it.
    /// A value of the wrong shape (a list where an object belongs) is left to the decoder, which
    /// reports it with its own message.
    public func unknownFields(in node: DocumentNode) -> [UnknownField] {
        var found: [UnknownField] = []
        walk(node, path: "", into: &found)
        return found
    }

    private func walk(_ node: DocumentNode, path: String, into found: inout [UnknownField]) {
        switch (self, node) {
        case (.any, _), (.scalar, _):
            return
        case (.object(let fields), .object(let members)):
            for m in members {
                let p = path.isEmpty ? m.key : "\(path).\(m.key)"
                guard let schema = fields[m.key] else {
                    found.append(UnknownField(path: p, line: m.line, suggestion: Self.closest(m.key, in: fields.keys)))
                    continue
                }
                schema.walk(m.value, path: p, into: &found)
            }
        case (.map(let values), .object(let members)):
            for m in members { values.walk(m.value, path: "\(path)[\"\(m.key)\"]", into: &found) }
        case (.array(let element), .array(let items)):
            for (i, item) in items.enumerated() { element.walk(item, path: "\(path)[\(i)]", into: &found) }
        default:
            return
        }
    }

    /// A known field within two edits of `key` (or equal but for case): what the writer probably meant.
    static func closest(_ key: String, in known: Dictionary<String, FieldSchema>.Keys) -> String? {
        if let same = known.first(where: { $0.lowercased() == key.lowercased() }) { return same }
        let candidates = known.map { ($0, editDistance(key, $0, limit: 2)) }.filter { $0.1 <= 2 }
        return candidates.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Levenshtein distance; `limit + 1` at once when the lengths alone differ by more.
    static func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if abs(a.count - b.count) > limit { return limit + 1 }
        var previous = Array(0...b.count)
        for i in a.indices {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for j in b.indices {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (a[i] == b[j] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A request body or manifest as a tree, for `FieldSchema`: objects keep their members in
/// document order, with the line of each key when the parser knows it (YAML).
public indirect enum DocumentNode: Sendable {
    case object([Member])
    case array([DocumentNode])
    case scalar

    public struct Member: Sendable {
        public var key: String
        public var value: DocumentNode
        public var line: Int?
        public init(key: String, value: DocumentNode, line: Int? = nil) {
            self.key = key
            self.value = value
            self.line = line
        }
    }
}

/// A field the schema does not know.
public struct UnknownField: Sendable, Hashable, CustomStringConvertible {
    /// `spec.polcy`.
    public var path: String
    /// The line of its key in the document, when known.
    public var line: Int?
    /// The known field it is closest to (`policy`), when one is within two edits.
    public var suggestion: String?

    public init(path: String, line: Int? = nil, suggestion: String? = nil) {
        self.path = path
        self.line = line
        self.suggestion = suggestion
    }

    /// `unknown field "spec.polcy" (did you mean "policy"?)`, Kubernetes' wording.
    public var description: String {
        "unknown field \"\(path)\"" + (suggestion.map { " (did you mean \"\($0)\"?)" } ?? "")
    }
}

/// How unknown fields are treated: `?fieldValidation=` as Kubernetes spells it.
public enum FieldValidation: String, Sendable, CaseIterable {
    /// Refused (422) with every unknown field's path: the default.
    case strict = "Strict"
    /// Accepted; each unknown field is named in a `Warning` header.
    case warn = "Warn"
    /// Accepted silently (the behaviour before issue 14).
    case ignore = "Ignore"
}

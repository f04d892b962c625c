/// The Kubernetes `Status` body the API answers errors with:
/// `{"kind":"Status","status":"Failure","code":422,"reason":"Invalid","message":"…","details":{…}}`.
public struct APIStatus: Sendable, Hashable, Codable {
    public var kind: String
    public var status: String
    public var code: Int
    /// CamelCase, machine-readable (`Invalid`, `NotFound`, `Conflict`…).
    public var reason: String
    public var message: String
    public var details: Details?

    public struct Details: Sendable, Hashable, Codable {
        public var name: String?
        public var kind: String?
        public var causes: [Cause]

        public init(name: String? = nil, kind: String? = nil, causes: [Cause] = []) {
            self.name = name
            self.kind = kind
            self.causes = causes
        }

        private enum CodingKeys: String, CodingKey { case name, kind, causes }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            kind = try c.decodeIfPresent(String.self, forKey: .kind)
            causes = try c.decodeIfPresent([Cause].self, forKey: .causes) ?? []
        }
    }

    /// One problem, with the field path it is about (`spec.targets[0].addresses[0]`).
    public struct Cause: Sendable, Hashable, Codable {
        public var field: String?
        public var reason: String?
        public var message: String

        public init(field: String? = nil, reason: String? = nil, message: String) {
            self.field = field
            self.reason = reason
            self.message = message
        }

        private enum CodingKeys: String, CodingKey { case field, reason, message }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            field = try c.decodeIfPresent(String.self, forKey: .field)
            reason = try c.decodeIfPresent(String.self, forKey: .reason)
            message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
        }
    }

    public init(kind: String = "Status", status: String = "Failure", code: Int, reason: String, message: String,
                details: Details? = nil) {
        self.kind = kind
        self.status = status
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    private enum CodingKeys: String, CodingKey { case kind, status, code, reason, message, details }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? ""
        status = try c.decodeIfPresent(String.self, forKey: .status) ?? ""
        code = try c.decodeIfPresent(Int.self, forKey: .code) ?? 0
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
        details = try c.decodeIfPresent(Details.self, forKey: .details)
    }
}

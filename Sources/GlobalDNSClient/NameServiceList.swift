import GSLB

/// The body of `GET /v1/nameservices`: `{"kind":"NameServiceList","metadata":{"resourceVersion":"N"},"items":[…]}`.
public struct NameServiceList: Sendable, Hashable, Codable {
    public struct ListMeta: Sendable, Hashable, Codable {
        public var resourceVersion: String?
        public init(resourceVersion: String? = nil) { self.resourceVersion = resourceVersion }
    }

    public var apiVersion: String
    public var kind: String
    public var metadata: ListMeta
    public var items: [NameService]

    public init(items: [NameService], resourceVersion: String? = nil) {
        apiVersion = NameService.currentAPIVersion
        kind = "NameServiceList"
        metadata = ListMeta(resourceVersion: resourceVersion)
        self.items = items
    }

    private enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, items }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? NameService.currentAPIVersion
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "NameServiceList"
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([NameService].self, forKey: .items) ?? []
    }
}

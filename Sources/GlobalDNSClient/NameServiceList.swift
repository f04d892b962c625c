import GSLB

/// The body of `GET /v1/nameservices`: `{"kind":"NameServiceList","metadata":{"resourceVersion":"N"},"items":[…]}`
/// (a page of a paged list also has `metadata.continue` and `metadata.remainingItemCount`).
public struct NameServiceList: Sendable, Hashable, Codable {
    public struct ListMeta: Sendable, Hashable, Codable {
        public var resourceVersion: String?
        /// The token for the next page of a paged list (`limit`); nil on the last page.
        public var `continue`: String?
        /// Objects after this page, when the server knows.
        public var remainingItemCount: Int?
        public init(resourceVersion: String? = nil, continue token: String? = nil, remainingItemCount: Int? = nil) {
            self.resourceVersion = resourceVersion
            self.continue = token
            self.remainingItemCount = remainingItemCount
        }
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

import GSLB

/// The body of `GET /v1/nameservices`: a Kubernetes-style list whose `metadata.resourceVersion` is
/// the store revision the list is consistent with (watch from it to follow on). A paged list
/// (`limit`) carries `metadata.continue` (absent on the last page) and, when the store knows it,
/// `metadata.remainingItemCount`. The server writes this shape itself, item by item
/// (`ListStream`); the type is for tests and clients.
public struct NameServiceList: Sendable, Hashable, Codable {
    public struct ListMeta: Sendable, Hashable, Codable {
        public var resourceVersion: String
        public var `continue`: String?
        public var remainingItemCount: Int?
        public init(resourceVersion: String, continue token: String? = nil, remainingItemCount: Int? = nil) {
            self.resourceVersion = resourceVersion
            self.continue = token
            self.remainingItemCount = remainingItemCount
        }
    }

    public static let kindName = "NameServiceList"

    public var apiVersion: String
    public var kind: String
    public var metadata: ListMeta
    public var items: [NameService]

    public init(items: [NameService], resourceVersion: String) {
        apiVersion = NameService.currentAPIVersion
        kind = NameServiceList.kindName
        metadata = ListMeta(resourceVersion: resourceVersion)
        self.items = items
    }
}

/// One line of a watch stream: `{"type":"ADDED","object":{…}}`; an `ERROR` line carries a Status.
public struct WatchEvent<Object: Codable & Sendable & Hashable>: Sendable, Hashable, Codable {
    public var type: String
    public var object: Object

    public init(type: String, object: Object) {
        self.type = type
        self.object = object
    }
}

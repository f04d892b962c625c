import GSLB

/// The body of `GET /v1/nameservices`: a Kubernetes-style list whose `metadata.resourceVersion` is
/// the store revision the list is consistent with (watch from it to follow on).
public struct NameServiceList: Sendable, Hashable, Codable {
    public struct ListMeta: Sendable, Hashable, Codable {
        public var resourceVersion: String
        public init(resourceVersion: String) { self.resourceVersion = resourceVersion }
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

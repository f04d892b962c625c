/// A global name and how to answer it: the resource controllers PUT to `/v1/nameservices/{name}`.
///
/// Shaped like a Kubernetes resource so a controller can mirror it as a CRD unchanged
/// (`apiVersion`, `kind`, `metadata`, `spec`, `status`). Every field decodes leniently: a missing
/// field takes its documented default (or an empty value), so `validate()` can report every problem
/// with its field path at once instead of a decoder stopping at the first.
public struct NameService: Sendable, Hashable, Codable {
    /// The only API version this server speaks.
    public static let currentAPIVersion = "globaldns.io/v1alpha1"
    public static let kindName = "NameService"

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: NameServiceSpec
    /// Written by the server; ignored on writes.
    public var status: NameServiceStatus?
    /// Operator drains of targets, at most one per target, sorted by target. Written only through
    /// the drain endpoints; ignored on writes of the NameService, kept across them (see `TargetDrain`).
    public var drains: [TargetDrain]

    public init(apiVersion: String = NameService.currentAPIVersion, kind: String = NameService.kindName,
                metadata: ObjectMeta, spec: NameServiceSpec, status: NameServiceStatus? = nil,
                drains: [TargetDrain] = []) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
        self.drains = drains
    }

    private enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, spec, status, drains }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? ""
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? ""
        metadata = try c.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta(name: "")
        spec = try c.decodeIfPresent(NameServiceSpec.self, forKey: .spec) ?? NameServiceSpec(fqdn: "", targets: [])
        status = try c.decodeIfPresent(NameServiceStatus.self, forKey: .status)
        drains = try c.decodeIfPresent([TargetDrain].self, forKey: .drains) ?? []
    }

    /// Only the parts that are set: no `drains` key when there are none (status as before).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(apiVersion, forKey: .apiVersion)
        try c.encode(kind, forKey: .kind)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(spec, forKey: .spec)
        try c.encodeIfPresent(status, forKey: .status)
        if !drains.isEmpty { try c.encode(drains, forKey: .drains) }
    }
}

/// The Kubernetes object metadata a NameService carries.
public struct ObjectMeta: Sendable, Hashable, Codable {
    /// Unique, an RFC 1123 DNS label.
    public var name: String
    public var labels: [String: String]
    /// Set by the server: bumped on every spec change.
    public var generation: Int64
    /// Set by the server: an opaque version for optimistic concurrency (put-if-version).
    public var resourceVersion: String?
    /// Set by the server when the object is created and never changed after (as etcd's
    /// `create_revision`): the store revision of its creation. It orders claims on an FQDN (the
    /// oldest claim keeps it), the same way on every replica and after every restart. Ignored on
    /// writes; deleting and creating the name again gives a new one.
    public var creationRevision: Int64?
    /// Set by the server when the object is created (RFC 3339, UTC), as Kubernetes'
    /// `creationTimestamp`. Ignored on writes.
    public var creationTimestamp: String?

    public init(name: String, labels: [String: String] = [:], generation: Int64 = 0, resourceVersion: String? = nil,
                creationRevision: Int64? = nil, creationTimestamp: String? = nil) {
        self.name = name
        self.labels = labels
        self.generation = generation
        self.resourceVersion = resourceVersion
        self.creationRevision = creationRevision
        self.creationTimestamp = creationTimestamp
    }

    private enum CodingKeys: String, CodingKey {
        case name, labels, generation, resourceVersion, creationRevision, creationTimestamp
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        generation = try c.decodeIfPresent(Int64.self, forKey: .generation) ?? 0
        resourceVersion = try c.decodeIfPresent(String.self, forKey: .resourceVersion)
        creationRevision = try c.decodeIfPresent(Int64.self, forKey: .creationRevision)
        creationTimestamp = try c.decodeIfPresent(String.self, forKey: .creationTimestamp)
    }
}

import GSLB

/// What `apply` did to one object, printed as `nameservice/NAME created|configured|unchanged`.
public struct ApplyAction: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    private init(_ rawValue: String) { self.rawValue = rawValue }

    public static let created = ApplyAction("created")
    public static let configured = ApplyAction("configured")
    public static let unchanged = ApplyAction("unchanged")

    public var description: String { rawValue }
}

extension NameServiceClient {
    /// Creates or replaces `object`, skipping the write when the stored object already has the same
    /// labels and spec (no new resourceVersion, no watch event: `unchanged`). A
    /// `metadata.resourceVersion` in the manifest is sent, so the write is put-if-version.
    public func apply(_ object: NameService) async throws -> ApplyAction {
        if let existing = try await getIfPresent(object.metadata.name),
           existing.apiVersion == object.apiVersion,
           existing.metadata.labels == object.metadata.labels,
           existing.spec == object.spec {
            return .unchanged
        }
        return try await put(object).created ? .created : .configured
    }
}

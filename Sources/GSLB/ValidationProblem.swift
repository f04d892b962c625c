/// One thing wrong with a document, at a field path: `spec.targets[2].addresses[0]`.
///
/// `reason` is usable as the Accepted condition's reason as-is (`InvalidSpec`, `OutsideZones`,
/// `ClashesWithStaticName`, `ClashesWithNameService`). The API answers 422 with all of them.
public struct ValidationProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    /// JSON-path-like location: `metadata.name`, `spec.targets[0].locality`, `localities[3].cidr`.
    public var field: String
    /// What is wrong and, where it helps, why the rule exists.
    public var message: String
    public var reason: ConditionReason

    public init(field: String, message: String, reason: ConditionReason = .invalidSpec) {
        self.field = field
        self.message = message
        self.reason = reason
    }

    /// `field: message`.
    public var description: String { "\(field): \(message)" }
}

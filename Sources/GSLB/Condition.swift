/// One observation about a NameService, shaped like a Kubernetes `metav1.Condition`.
///
/// `lastTransitionTime` is an RFC 3339 string (`2025-01-31T12:00:00Z`) supplied by the caller: this
/// module reads no clock. It changes only when `status` changes (see
/// `NameServiceStatus.setCondition(_:)`).
public struct Condition: Sendable, Hashable, Codable {
    public var type: ConditionType
    public var status: ConditionStatus
    /// CamelCase, machine-readable: why the condition has this status.
    public var reason: ConditionReason
    /// Human-readable detail.
    public var message: String
    public var lastTransitionTime: String
    /// The `metadata.generation` this condition was computed from.
    public var observedGeneration: Int64

    public init(type: ConditionType, status: ConditionStatus, reason: ConditionReason, message: String = "",
                lastTransitionTime: String, observedGeneration: Int64) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }

    private enum CodingKeys: String, CodingKey {
        case type, status, reason, message, lastTransitionTime, observedGeneration
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(ConditionType.self, forKey: .type)
        status = try c.decode(ConditionStatus.self, forKey: .status)
        reason = try c.decodeIfPresent(ConditionReason.self, forKey: .reason) ?? ConditionReason(rawValue: "")
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
        lastTransitionTime = try c.decodeIfPresent(String.self, forKey: .lastTransitionTime) ?? ""
        observedGeneration = try c.decodeIfPresent(Int64.self, forKey: .observedGeneration) ?? 0
    }
}

/// `True`, `False` or `Unknown`, as Kubernetes spells them. A closed set: any other word is a
/// decoding error.
public struct ConditionStatus: Sendable, Hashable, Codable, CustomStringConvertible {
    private enum Base: Sendable, Hashable { case isTrue, isFalse, unknown }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    public static let `true` = ConditionStatus(.isTrue)
    public static let `false` = ConditionStatus(.isFalse)
    public static let unknown = ConditionStatus(.unknown)

    public init?(rawValue: String) {
        switch rawValue {
        case "True": base = .isTrue
        case "False": base = .isFalse
        case "Unknown": base = .unknown
        default: return nil
        }
    }

    public var rawValue: String {
        switch base {
        case .isTrue: "True"
        case .isFalse: "False"
        case .unknown: "Unknown"
        }
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = ConditionStatus(rawValue: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "condition status must be True, False or Unknown, not \"\(s)\"")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The condition types a NameService reports. Open-ended like Kubernetes condition types: other
/// CamelCase words decode and round-trip.
///
/// Coded as its string: `RawRepresentable` with a `String` raw value gets the standard library's
/// single-value `Codable` implementation.
public struct ConditionType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The spec is valid and placed inside a served zone without clashes.
    public static let accepted = ConditionType(rawValue: "Accepted")
    /// The NameService is compiled into the plan the DNS path answers from.
    public static let programmed = ConditionType(rawValue: "Programmed")
    /// Its targets are healthy.
    public static let healthy = ConditionType(rawValue: "Healthy")
    /// Accepted, Programmed and Healthy together.
    public static let ready = ConditionType(rawValue: "Ready")

    public var description: String { rawValue }
}

/// A condition's CamelCase reason. Open-ended (reasons are added as the server learns new ways to
/// fail); the ones validation produces are constants here.
public struct ConditionReason: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let valid = ConditionReason(rawValue: "Valid")
    /// The spec breaks a rule of `NameService.validate()`.
    public static let invalidSpec = ConditionReason(rawValue: "InvalidSpec")
    /// `spec.fqdn` is not inside any zone this server serves.
    public static let outsideZones = ConditionReason(rawValue: "OutsideZones")
    /// `spec.fqdn` is an owner name of static zone data.
    public static let clashesWithStaticName = ConditionReason(rawValue: "ClashesWithStaticName")
    /// Another NameService already serves `spec.fqdn`.
    public static let clashesWithNameService = ConditionReason(rawValue: "ClashesWithNameService")
    /// `spec.fqdn` is at or below a zone cut: the name is delegated to other servers.
    public static let belowDelegation = ConditionReason(rawValue: "BelowDelegation")

    public var description: String { rawValue }
}

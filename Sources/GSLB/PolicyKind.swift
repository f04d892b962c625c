/// The answering policy a NameService names in `spec.policy`: `RoundRobin`, `Ratio` or `Locality`.
///
/// A struct wrapping a private enum so new policies can be added without breaking
/// callers that switch on it. Coded as its string. A word this server does not know decodes as an
/// unrecognised kind (so validation can report it with its field path) instead of failing the whole
/// document.
public struct PolicyKind: Sendable, Hashable, Codable, CustomStringConvertible {
    private enum Base: Sendable, Hashable {
        case roundRobin, ratio, locality
        case unrecognized(String)
    }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// Every candidate address, rotated one position per query.
    public static let roundRobin = PolicyKind(.roundRobin)
    /// Targets chosen at random in proportion to their `ratio`.
    public static let ratio = PolicyKind(.ratio)
    /// The targets nearest the client in the localities table.
    public static let locality = PolicyKind(.locality)

    /// The known kinds, in the order documentation lists them.
    public static let known: [PolicyKind] = [.roundRobin, .ratio, .locality]

    /// Parses the spelling used in specs (exact, case-sensitive: `RoundRobin`, `Ratio`, `Locality`).
    public init(rawValue: String) {
        switch rawValue {
        case "RoundRobin": base = .roundRobin
        case "Ratio": base = .ratio
        case "Locality": base = .locality
        default: base = .unrecognized(rawValue)
        }
    }

    public var rawValue: String {
        switch base {
        case .roundRobin: "RoundRobin"
        case .ratio: "Ratio"
        case .locality: "Locality"
        case .unrecognized(let s): s
        }
    }

    /// False for a word this server does not implement.
    public var isKnown: Bool {
        if case .unrecognized = base { return false }
        return true
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// What a NameService answers when every target of the queried family is down (`spec.allDown`).
///
/// Coded as its string; an unknown word decodes and is reported by validation.
public struct AllDownBehavior: Sendable, Hashable, Codable, CustomStringConvertible {
    private enum Base: Sendable, Hashable {
        case failOpen, failClosed, fallback
        case unrecognized(String)
    }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// Answer as if every target were healthy: a wrong health signal must not take a service off
    /// the air. The default.
    public static let failOpen = AllDownBehavior(.failOpen)
    /// Answer NODATA: clients fail fast rather than reach targets known to be down.
    public static let failClosed = AllDownBehavior(.failClosed)
    /// Answer `spec.fallback` (issue 15): a backup the operator names, as Akamai's `backupIp`.
    public static let fallback = AllDownBehavior(.fallback)

    public init(rawValue: String) {
        switch rawValue {
        case "FailOpen": base = .failOpen
        case "FailClosed": base = .failClosed
        case "Fallback": base = .fallback
        default: base = .unrecognized(rawValue)
        }
    }

    public var rawValue: String {
        switch base {
        case .failOpen: "FailOpen"
        case .failClosed: "FailClosed"
        case .fallback: "Fallback"
        case .unrecognized(let s): s
        }
    }

    public var isKnown: Bool {
        if case .unrecognized = base { return false }
        return true
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

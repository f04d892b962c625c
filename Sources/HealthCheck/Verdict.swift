/// What the probes of one target have decided so far.
public enum Verdict: Sendable, Hashable, CustomStringConvertible {
    /// No verdict yet (just added, or not enough outcomes in a row). Counts as healthy, so that a
    /// restart of the server does not blank the zone while the first probes run.
    case unknown
    /// `successThreshold` successes in a row.
    case up
    /// `failureThreshold` failures in a row.
    case down

    public var description: String {
        switch self {
        case .unknown: "unknown"
        case .up: "up"
        case .down: "down"
        }
    }
}

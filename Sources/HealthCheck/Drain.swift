/// An operator's order to take a target out of answers, whatever its probes say: why, who asked,
/// and optionally until when. A drain past its `until` lifts itself.
///
/// Codable with the keys `reason`, `by`, `until` (RFC 3339, optional).
public struct Drain: Sendable, Hashable, Codable {
    public var reason: String
    public var by: String
    /// When the drain lifts itself; nil: until removed.
    public var until: WallTime?

    public init(reason: String, by: String, until: WallTime? = nil) {
        self.reason = reason
        self.by = by
        self.until = until
    }

    /// In force at `now`: no expiry, or `now` before it.
    public func isActive(at now: WallTime) -> Bool {
        guard let until else { return true }
        return now < until
    }
}

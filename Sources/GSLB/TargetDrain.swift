/// An operator's order to keep one target of a NameService out of answers, whatever its probes
/// say: which target, why, who asked (the API token's name), since when and, optionally, until
/// when. A drain past its `until` no longer counts: it lifts itself.
///
/// Drains are the third part of a NameService, beside the controller's `spec` and the server's
/// `status`: written only through the drain endpoints (`PUT`/`DELETE
/// /v1/nameservices/{name}/targets/{target}/drain`), kept across spec writes, and shared by every
/// replica through the store. Codable as
/// `{"target": "zone-a", "reason": "...", "by": "alice", "since": "2025-01-31T12:00:00Z", "until": "..."}`.
public struct TargetDrain: Sendable, Hashable, Codable {
    /// The name of a target in `spec.targets`.
    public var target: String
    public var reason: String
    /// The name of the API token that drained it (`anonymous` when the API takes no tokens).
    public var by: String
    public var since: WallTime
    /// When the drain lifts itself; nil: until undrained.
    public var until: WallTime?

    public init(target: String, reason: String, by: String, since: WallTime, until: WallTime? = nil) {
        self.target = target
        self.reason = reason
        self.by = by
        self.since = since
        self.until = until
    }

    /// In force at `now`: no expiry, or `now` before it.
    public func isActive(at now: WallTime) -> Bool {
        guard let until else { return true }
        return now < until
    }

    /// For status and logs: `maintenance (by alice, until 2025-01-31T12:00:00Z)`.
    public var summary: String {
        "\(reason) (by \(by)\(until.map { ", until \($0.rfc3339)" } ?? ""))"
    }
}

extension Array where Element == TargetDrain {
    /// The drain of `target` in force at `now`, if any.
    public func active(for target: String, at now: WallTime) -> TargetDrain? {
        first { $0.target == target && $0.isActive(at: now) }
    }

    /// The earliest `until` still ahead of `now`: when the drains in force next change by themselves.
    public func nextExpiry(after now: WallTime) -> WallTime? {
        compactMap(\.until).filter { $0 > now }.min()
    }
}

/// The operator drains in force, by key (an address, or whatever the caller drains by). Pure: the
/// caller passes the time. An expired drain is treated as absent at once and removed by
/// `removeExpired(at:)`, which tells the caller which ones lifted (to log them, to re-plan).
public struct DrainSet<Key: Hashable & Sendable>: Sendable {
    public private(set) var drains: [Key: Drain] = [:]

    public init() {}

    /// Drains `key` (replacing an earlier drain of it).
    public mutating func drain(_ key: Key, _ drain: Drain) { drains[key] = drain }

    /// Lifts the drain of `key`; returns it, nil if there was none.
    @discardableResult
    public mutating func undrain(_ key: Key) -> Drain? { drains.removeValue(forKey: key) }

    /// The drain of `key` in force at `now`; nil if none or expired.
    public func drain(for key: Key, at now: WallTime) -> Drain? {
        guard let drain = drains[key], drain.isActive(at: now) else { return nil }
        return drain
    }

    /// Healthy per `health` (nil: no verdict yet, healthy) and not drained at `now`.
    public func isHealthy(_ key: Key, health: TargetHealth?, at now: WallTime) -> Bool {
        guard drain(for: key, at: now) == nil else { return false }
        return health?.isHealthy ?? true
    }

    /// Removes the drains expired at `now` and returns them.
    public mutating func removeExpired(at now: WallTime) -> [Key: Drain] {
        let expired = drains.filter { !$0.value.isActive(at: now) }
        for key in expired.keys { drains[key] = nil }
        return expired
    }

    /// When the next drain lifts itself, to schedule a re-plan; nil if none has an expiry.
    public var nextExpiry: WallTime? { drains.values.compactMap(\.until).min() }
}

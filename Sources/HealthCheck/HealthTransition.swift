/// A verdict change of one target: `previous` → `health.verdict`.
public struct HealthTransition: Sendable, Hashable {
    public var target: ProbeTarget
    public var previous: Verdict
    /// The target's state right after the change (verdict, counters, last error, times).
    public var health: TargetHealth

    public init(target: ProbeTarget, previous: Verdict, health: TargetHealth) {
        self.target = target
        self.previous = previous
        self.health = health
    }
}

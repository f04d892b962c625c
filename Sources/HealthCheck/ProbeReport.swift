import NIOCore

/// What an event loop tells the checker about one probe time of one target.
struct ProbeReport: Sendable {
    var target: ProbeTarget
    /// Which start of the target this belongs to; reports of a removed (or re-added) one are dropped.
    var token: UInt64
    /// nil: skipped, the previous probe was still in flight.
    var outcome: Result<Duration, ProbeError>?
    /// Actual − scheduled start of the probe time.
    var drift: Duration
    /// When the probe ended (or was skipped).
    var time: WallTime
}

/// Changes for one event loop's probes, sent in one hop.
struct ProbeCommands: Sendable {
    struct Start: Sendable {
        var target: ProbeTarget
        var token: UInt64
        var address: SocketAddress
        var firstDelay: Duration
    }
    var starts: [Start] = []
    var stops: [(target: ProbeTarget, token: UInt64)] = []
}

/// SplitMix64: a small seeded generator for the stagger.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

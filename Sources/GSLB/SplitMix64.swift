/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast generator for weighted picks.
///
/// The query path keeps one per event loop (seeded from the system generator at start), so a
/// Ratio draw costs a few multiplications and no system call; tests seed it for reproducible
/// picks. Not for anything secret: it only spreads load.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Seeded from the system's generator.
    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

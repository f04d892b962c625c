import DNSWire

/// A name's outcome changed: new addresses, or a new (or different) error.
public struct ResolutionUpdate: Sendable {
    /// The name as it was given to `ResolutionTracker.setNames`.
    public var name: DNSName
    public var result: Result<ResolvedAddresses, ResolutionError>

    public init(name: DNSName, result: Result<ResolvedAddresses, ResolutionError>) {
        self.name = name
        self.result = result
    }
}

import DNSWire
@testable import GSLB
import Testing

func ip(_ s: String) -> IPAddress {
    guard let a = IPAddress(s) else { fatalError("bad test address \(s)") }
    return a
}

func loc(_ s: String) -> Locality {
    do { return try Locality(s) } catch { fatalError("bad test locality \(s): \(error)") }
}

/// A target for CandidateSet inputs: `up` addresses healthy, `down` addresses not.
func target(_ name: String, _ locality: String? = nil, ratio: Int = 1, up: [String] = [], down: [String] = []) -> CandidateSet.Input {
    CandidateSet.Input(name: name, locality: locality.map(loc), ratio: ratio,
                       addresses: up.map { (ip($0), true) } + down.map { (ip($0), false) })
}

func candidates(_ inputs: [CandidateSet.Input], family: AddressFamily = .ipv4, allDown: AllDownBehavior = .failOpen) -> CandidateSet {
    CandidateSet(family: family, inputs: inputs, allDown: allDown)
}

/// A client with a known locality (or none), as a packet-source client unless `scope` is given.
func client(_ locality: String? = nil, scope: UInt8? = nil) -> ClientContext {
    ClientContext(address: ip("192.0.2.1"),
                  source: scope.map { _ in .clientSubnet(sourcePrefixLength: 24) } ?? .packetSource,
                  locality: locality.map(loc),
                  localitySource: locality == nil ? .none : .matched(prefixLength: scope ?? 24),
                  localityScopePrefixLength: scope ?? 0)
}

/// Runs one pick into a fresh buffer sized for the candidates (plus sentinels that must survive)
/// and returns the decision and the chosen addresses as text.
func run(_ policy: some AnswerPolicy, _ c: CandidateSet, client: ClientContext = client(), rotation: UInt64 = 0,
         random: inout SplitMix64, capacity: Int? = nil) -> (PolicyDecision, [String]) {
    let cap = capacity ?? c.addressCount
    var storage = [Int32](repeating: -7, count: cap + 2)
    let decision = storage.withUnsafeMutableBufferPointer { all in
        policy.pick(from: c, client: client, rotation: rotation, random: &random,
                    into: UnsafeMutableBufferPointer(rebasing: all[0..<cap]))
    }
    #expect(storage[cap] == -7 && storage[cap + 1] == -7, "a policy wrote past its output buffer")
    #expect(decision.answerCount <= cap)
    return (decision, storage[0..<decision.answerCount].map { c.addresses[Int($0)].description })
}

func run(_ policy: some AnswerPolicy, _ c: CandidateSet, client: ClientContext = client(), rotation: UInt64 = 0,
         seed: UInt64 = 1, capacity: Int? = nil) -> (PolicyDecision, [String]) {
    var rng = SplitMix64(seed: seed)
    return run(policy, c, client: client, rotation: rotation, random: &rng, capacity: capacity)
}

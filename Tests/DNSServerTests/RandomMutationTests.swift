import DNSServer
import DNSWire
import GSLB
import Testing

/// Seeded random mutations of valid queries: the responder never crashes, and every reply carries
/// the query's ID, has QR set, decodes as a whole message and fits the transport's limit.
@Suite("Random mutations")
struct RandomMutationTests {
    static func seeds() throws -> [[UInt8]] {
        var out = try Fixtures.files(in: "fuzz-seeds").map(\.bytes)
        let ecs = ClientSubnet(address: IPAddress("192.0.2.1")!, sourcePrefix: 24).optionData
        for (name, type) in [("www.example.com.", RRType.a), ("big.example.com.", .a), ("sub.example.com.", .ns),
                             ("x.wild.example.com.", .a), ("alias.example.com.", .aaaa), ("nope.example.com.", .a)] {
            out.append(DNSMessage.query(DNSName(stringLiteral: name), type).encode())
            out.append(DNSMessage.query(DNSName(stringLiteral: name), type, edns: EDNS(udpPayloadSize: 4096, dnssecOK: true, options: [
                EDNSOption(code: 3, data: []), EDNSOption(code: 8, data: ecs)])).encode())
        }
        return out
    }

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<8, using: &rng) {
            case 0 where !b.isEmpty:  // flip one bit
                let i = Int.random(in: 0..<b.count, using: &rng)
                b[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !b.isEmpty:  // set one byte
                b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 2 where !b.isEmpty:  // truncate
                b.removeLast(Int.random(in: 1...b.count, using: &rng))
            case 3:  // insert random bytes
                let at = Int.random(in: 0...b.count, using: &rng)
                b.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 4 where b.count > 1:  // delete a run
                let at = Int.random(in: 0..<b.count, using: &rng)
                b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...8, using: &rng)))
            case 5 where b.count >= 12:  // change a section count
                let i = 4 + 2 * Int.random(in: 0..<4, using: &rng)
                b[i] = 0
                b[i + 1] = UInt8.random(in: 0...3, using: &rng)
            case 6 where b.count > 12:  // an interesting byte (pointer, reserved label type, big label)
                b[Int.random(in: 12..<b.count, using: &rng)] = [0xC0, 0x40, 0x80, 0x3F, 0x00, 0xFF].randomElement(using: &rng)!
            case 7 where b.count > 14:  // duplicate a chunk (second OPT, repeated options)
                let at = Int.random(in: 12..<b.count, using: &rng)
                let chunk = b[at..<min(b.count, at + Int.random(in: 1...24, using: &rng))]
                b.insert(contentsOf: chunk, at: Int.random(in: 12...b.count, using: &rng))
            default:
                break
            }
        }
        return b
    }

    @Test func twoHundredThousandMutationsNeverBreakTheResponder() async throws {
        let responder = try ServerZone.responder()
        let seeds = try Self.seeds()
        #expect(seeds.count >= 40)
        var rng = SplitMix64(seed: 0x5EED_DA7A)
        var answered = 0, dropped = 0, formErr = 0
        for iteration in 0..<200_000 {
            if iteration % 1000 == 999 { await Task.yield() }  // CPU-bound: leave the shared test threads to others
            let query = Self.mutate(seeds[iteration % seeds.count], &rng)
            let transport: Transport = iteration % 4 == 3 ? .tcp : .udp
            guard let reply = responder.respond(to: query, transport: transport) else {
                dropped += 1
                continue
            }
            answered += 1
            guard reply.count >= 12, reply[0] == query[0], reply[1] == query[1], reply[2] & 0x80 != 0 else {
                Issue.record("iteration \(iteration): bad reply header for \(query)")
                return
            }
            let m: DNSMessage
            do {
                m = try DNSMessage(decoding: reply)
            } catch {
                Issue.record("iteration \(iteration): reply does not decode (\(error)) for query \(query)")
                return
            }
            if m.rcode == .formErr { formErr += 1 }
            if transport == .udp {
                // The query's own EDNS size when it decodes; the server maximum otherwise.
                var limit = 1232
                if let decoded = try? DNSMessage(decoding: query) {
                    limit = decoded.edns.map { min(max(512, Int($0.udpPayloadSize)), 1232) } ?? 512
                }
                guard reply.count <= limit else {
                    Issue.record("iteration \(iteration): UDP reply of \(reply.count) bytes over \(limit)")
                    return
                }
            }
        }
        // The mutations exercise both outcomes and the error path.
        #expect(answered > 50_000 && dropped > 1_000 && formErr > 10_000, "answered \(answered), dropped \(dropped), FORMERR \(formErr)")
        try responder.expectHealthy()
    }
}

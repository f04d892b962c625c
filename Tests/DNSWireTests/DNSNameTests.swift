import DNSWire
import Testing

@Suite("DNSName")
struct DNSNameTests {
    @Test func parsesAndPrintsPlainNames() throws {
        let n = try DNSName("www.Example.com.")
        #expect(n.wire == [3] + Array("www".utf8) + [7] + Array("Example".utf8) + [3] + Array("com".utf8) + [0])
        #expect(n.description == "www.Example.com.")
        #expect(n.labelCount == 3)
        // Without the final dot the name is still absolute.
        #expect(try DNSName("www.Example.com").wire == n.wire)
        #expect(try DNSName(".") == DNSName.root)
        #expect(try DNSName("") == DNSName.root)
        #expect(DNSName.root.description == ".")
        #expect(DNSName.root.wire == [0])
        #expect(DNSName.root.labelCount == 0)
    }

    @Test(arguments: [
        // (presentation, first label bytes, printed form)
        ("a\\.b.example.", Array("a.b".utf8), "a\\.b.example."),
        ("\\065bc.example.", Array("Abc".utf8), "Abc.example."),
        ("\\000.example.", [0], "\\000.example."),
        ("\\255x.example.", [255, UInt8(ascii: "x")], "\\255x.example."),
        ("sp\\032ace.example.", Array("sp ace".utf8), "sp\\032ace.example."),
        ("back\\\\slash.example.", Array("back\\slash".utf8), "back\\\\slash.example."),
        ("\\\"q\\(p\\)\\;s\\@\\$.example.", Array("\"q(p);s@$".utf8), "\\\"q\\(p\\)\\;s\\@\\$.example."),
        ("\\x.example.", Array("x".utf8), "x.example."),
    ])
    func escapes(text: String, first: [UInt8], printed: String) throws {
        let n = try DNSName(text)
        #expect(Array(n.firstLabel) == first)
        #expect(n.description == printed)
        // What is printed parses back to the same bytes.
        #expect(try DNSName(n.description).wire == n.wire)
    }

    @Test(arguments: ["a..b.", ".a.", "..", "a\\", "a\\25", "a\\2x5.", "\\256.", "\\999."])
    func rejectsBadPresentation(_ text: String) {
        expectWireError(.badLabel, text) { _ = try DNSName(text) }
    }

    @Test func labelAndNameLimits() throws {
        let l63 = String(repeating: "a", count: 63)
        let ok = try DNSName("\(l63).example.")
        #expect(ok.firstLabel.count == 63)
        expectWireError(.badLabel) { _ = try DNSName(String(repeating: "a", count: 64) + ".example.") }
        // 3 × 64 + 62 + 1 = 255 bytes: the longest name.
        let longest = "\(l63).\(l63).\(l63).\(String(repeating: "b", count: 61))."
        #expect(try DNSName(longest).wire.count == 255)
        expectWireError(.nameTooLong) { _ = try DNSName("\(l63).\(l63).\(l63).\(String(repeating: "b", count: 62)).") }
        // An escaped byte counts once.
        let escaped = "\(l63).\(l63).\(l63).\(String(repeating: "\\066", count: 61))."
        #expect(try DNSName(escaped).wire.count == 255)
        // Prepending respects both limits.
        expectWireError(.nameTooLong) { _ = try DNSName(longest).prepending(label: [UInt8(ascii: "x")]) }
        expectWireError(.badLabel) { _ = try ok.prepending(label: [UInt8]()) }
        expectWireError(.badLabel) { _ = try ok.prepending(label: [UInt8](repeating: 1, count: 64)) }
        #expect(try DNSName("example.").prepending(label: Array("www".utf8)) == DNSName("www.example."))
    }

    @Test func wireValidation() throws {
        #expect(try DNSName(wire: [3, 0x61, 0x62, 0x63, 0]).description == "abc.")
        expectWireError(.truncated) { _ = try DNSName(wire: [3, 0x61, 0x62, 0x63]) }
        expectWireError(.truncated) { _ = try DNSName(wire: []) }
        expectWireError(.trailingData) { _ = try DNSName(wire: [0, 0]) }
        expectWireError(.badLabel) { _ = try DNSName(wire: label(64) + [0]) }
        expectWireError(.badLabel) { _ = try DNSName(wire: [0x41] + [UInt8](repeating: 0x61, count: 0x41) + [0]) }
        expectWireError(.badLabel) { _ = try DNSName(wire: [0xC0, 0x0C]) }
        let max = label(63) + label(63) + label(63) + label(61) + [0]
        #expect(try DNSName(wire: max).wire.count == 255)
        expectWireError(.nameTooLong) { _ = try DNSName(wire: label(63) + label(63) + label(63) + label(62) + [0]) }
    }

    @Test func caseInsensitiveEqualityKeepsCase() throws {
        let a = try DNSName("WWW.Example.COM."), b = try DNSName("www.example.com.")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(Set([a, b]).count == 1)
        #expect(a.description == "WWW.Example.COM.")
        #expect(a.lowercased().wire == b.wire)
        #expect(a != (try DNSName("www.example.co.")))
        // Only ASCII letters fold: bytes 0x20 apart outside A-Z stay distinct.
        #expect(try DNSName("[.") != DNSName("{."))
        #expect(try DNSName("\\@.") != DNSName("`."))
        #expect(try DNSName("\\195.") != DNSName("\\227."))
        #expect(try DNSName("\\090.") == DNSName("z."))
    }

    @Test func canonicalOrderRFC4034() throws {
        // RFC 4034 §6.1, in canonical order.
        let ordered = ["example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
                       "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."]
        let names = try ordered.map { try DNSName($0) }
        var shuffled = names
        var rng = SplitMix64(seed: 7)
        shuffled.shuffle(using: &rng)
        #expect(shuffled.sorted().map(\.description) == names.map(\.description))
        for i in 0..<(names.count - 1) {
            #expect(names[i] < names[i + 1])
            #expect(!(names[i + 1] < names[i]))
        }
        #expect(DNSName.root < names[0])
        #expect(!(names[3] < (try DNSName("z.A.EXAMPLE."))))
    }

    @Test func hierarchy() throws {
        let n = try DNSName("www.example.com.")
        #expect(n.parent == (try DNSName("example.com.")))
        #expect(DNSName.root.parent == nil)
        #expect(n.isSubdomain(of: try DNSName("EXAMPLE.com.")))
        #expect(n.isSubdomain(of: .root))
        #expect(n.isSubdomain(of: n))
        #expect(!(try DNSName("wwwexample.com.")).isSubdomain(of: try DNSName("example.com.")))
        #expect(!(try DNSName("com.")).isSubdomain(of: n))
        #expect(try DNSName("*.wild.example.").isWildcard)
        #expect(!(try DNSName("\\*x.wild.example.")).isWildcard)
    }
}

/// A small deterministic PRNG (SplitMix64) so shuffles and mutations are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Foundation
import GSLB
import Testing

/// `NameServiceJSON` is a fast path beside `JSONDecoder`: where it reads a document, the value must be
/// `JSONDecoder`'s; where `JSONDecoder` fails, it must not read it (nil, so the caller's
/// `JSONDecoder` reports the error).
@Suite struct NameServiceJSONTests {
    static func encoder(sorted: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = sorted ? [.sortedKeys, .withoutEscapingSlashes] : []
        return e
    }

    /// A NameService with every field the types have, each set or left out at random, strings
    /// with escapes and non-ASCII text among them.
    static func random(_ g: inout SplitMix64) -> NameService {
        func pick<T>(_ options: [T]) -> T { options[Int(g.next() % UInt64(options.count))] }
        func maybe() -> Bool { g.next() % 2 == 0 }
        let texts = ["n1", "checkout", "with \"quotes\" and \\ back", "tab\there", "line\nbreak", "é ü 名前 🚀",
                     "slash/inside", "", "control \u{01}", "a-very-long-name-that-does-not-fit-in-a-small-string"]
        var labels: [String: String] = [:]
        for _ in 0..<Int(g.next() % 4) { labels[pick(["team", "app.kubernetes.io/name", "ü", "shard"])] = pick(texts) }
        let meta = ObjectMeta(name: pick(texts), labels: labels, generation: Int64(g.next() % 1000) - 2,
                              resourceVersion: maybe() ? String(g.next() % 100_000) : nil,
                              creationRevision: maybe() ? Int64(g.next() % 1_000_000) : nil,
                              creationTimestamp: maybe() ? "2026-12-03T19:00:00Z" : nil)
        let targets = (0..<Int(g.next() % 5)).map { k in
            Target(name: "t\(k)", addresses: (0..<Int(g.next() % 3)).map { _ in pick(["10.0.0.1", "::1", "2001:db8::5", "bad address"]) },
                   fqdn: maybe() ? pick(["svc.example.net", "x."]) : nil,
                   locality: maybe() ? pick(["us-east/us-east-1a", "eu", "a/b/c"]) : nil,
                   ratio: pick([1, 0, 99, -3, Int.max]))
        }
        var spec = NameServiceSpec(fqdn: pick(["checkout.g.example.com", "Ünïcode.g.example.com", ""]),
                                   ttl: pick([30, 0, 86_400, -1, 1 << 40]),
                                   policy: pick([.roundRobin, .ratio, .locality, PolicyKind(rawValue: "Geo")]),
                                   maxAnswers: maybe() ? pick([1, 8, -2]) : nil,
                                   allDown: pick([.failOpen, .failClosed, .fallback, AllDownBehavior(rawValue: "Sometimes")]),
                                   failover: maybe() ? [FailoverRule(from: "us-east", to: "us-west"), FailoverRule(from: "", to: "eu")] : [],
                                   targets: targets)
        if maybe() {
            spec.distribute = [DistributeRule(from: pick(["us-west/*", "*", "ü/*"]), to: ["us-west/*": 99, "us-east/*": 1, "a10": 0, "a9": 0]),
                               DistributeRule(from: "eu", to: [:])].prefix(1 + Int(g.next() % 2)).map { $0 }
        }
        if maybe() { spec.overprovisioningFactor = pick([1.4, 2, 1.25]) }
        if maybe() { spec.fallback = FallbackSpec(addresses: maybe() ? ["192.0.2.1", "2001:db8::1"] : [], fqdn: maybe() ? "backup.example.net" : nil) }
        if maybe() {
            spec.healthCheck = HealthCheckSpec(port: pick([80, 0, 70_000]), intervalSeconds: maybe() ? pick([4, 0.5, 1e-3, 12.25, 3e300]) : nil,
                                               timeoutSeconds: maybe() ? pick([3, 0.1]) : nil,
                                               failureThreshold: maybe() ? 3 : nil, successThreshold: maybe() ? 1 : nil,
                                               initialDelaySeconds: maybe() ? 2.5 : nil)
        }
        var ns = NameService(apiVersion: pick([NameService.currentAPIVersion, "v2"]), kind: pick([NameService.kindName, ""]),
                             metadata: meta, spec: spec)
        if maybe() {
            let conditions = [ConditionType.accepted, .programmed, .healthy, .ready, ConditionType(rawValue: "Custom")].prefix(Int(g.next() % 6)).map { t in
                Condition(type: t, status: pick([.true, .false, .unknown]), reason: ConditionReason(rawValue: pick(["Valid", "InvalidSpec", ""])),
                          message: pick(texts), lastTransitionTime: "2026-12-03T19:00:00Z", observedGeneration: Int64(g.next() % 9))
            }
            let statuses = (0..<Int(g.next() % 4)).map { k in
                TargetStatus(name: "t\(k)", address: pick(["10.0.0.1", ""]), healthy: maybe(),
                             lastTransitionTime: maybe() ? "2026-12-03T19:00:00Z" : nil, lastError: maybe() ? pick(texts) : nil,
                             lastProbeTime: maybe() ? "2026-12-03T19:00:01Z" : nil,
                             lastProbeLatencyMilliseconds: maybe() ? pick([0.25, 12, 1e-7]) : nil)
            }
            ns.status = NameServiceStatus(observedGeneration: Int64(g.next() % 9), conditions: conditions, targets: statuses)
        }
        return ns
    }

    @Test func readsEveryDocumentAsJSONDecoderDoes() async throws {
        let problems = try await offThePool { try Self.readsEveryDocumentAsJSONDecoderDoesBody() }
        #expect(problems.isEmpty, "\(problems.count) problems, the first: \(problems.first ?? "")")
    }

    static func readsEveryDocumentAsJSONDecoderDoesBody() throws -> [String] {
        var problems: [String] = []
        var g = SplitMix64(seed: 13)
        var fast = 0
        for n in 0..<1500 {
            let ns = Self.random(&g)
            let json = [UInt8](try Self.encoder(sorted: n % 2 == 0).encode(ns))
            let expected = try JSONDecoder().decode(NameService.self, from: Data(json))
            let read = NameServiceJSON.read(json)
            // Only a fractional double that does not survive the encoder's shortest form may differ
            // in text, never in value: the fast path must read every document written here.
            check(&problems, read == expected, "document \(n): \(String(decoding: json, as: UTF8.self))")
            if read != nil { fast += 1 }
        }
        check(&problems, fast == 1500)
        return problems
    }

    @Test func leavesWhatItDoesNotReadToJSONDecoder() throws {
        let base = #"{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"a"},"spec":{"fqdn":"a.g.example.com","targets":[]}}"#
        #expect(NameServiceJSON.read(Array(base.utf8)) != nil)
        let notRead = [
            #"{"metadata":{"name":"a"},"metadata":{"name":"b"}}"#,                  // a repeated key
            #"{"metadata":{"name":"a","nickname":"b"}}"#,                            // an unknown key
            #"{"spec":{"ttl":30.0}}"#,                                               // a fraction for an integer
            #"{"spec":{"ttl":3e1}}"#,                                                // an exponent for an integer
            #"{"spec":{"ttl":99999999999999999999}}"#,                               // past Int64
            #"{"spec":{"ttl":"30"}}"#,                                               // a string for an integer
            #"{"spec":{"ttl":030}}"#,                                                // a leading zero
            #"{"drains":[{"target":"t0"}]}"#,                                        // drains
            #"{"status":{"replicas":[{"replica":"r1"}]}}"#,                          // replicas
            #"{"status":{"targets":[{"name":"t0","drain":{"target":"t0"}}]}}"#,      // a target's drain
            #"{"status":{"conditions":[{"type":"Ready"}]}}"#,                        // a condition without status
            #"{"status":{"conditions":[{"type":"Ready","status":"Maybe"}]}}"#,       // an unknown condition status
            #"{"metadata":{"name":"\ud800"}}"#,                                      // a lone surrogate
            #"{"metadata":{"labels":{"a":"b","a":"c"}}}"#,                           // a repeated label
            #"{"metadata":{"labels":{"a":null}}}"#,                                  // a null label value
            #"{"spec":{"healthCheck":{"port":80,"intervalSeconds":1e400}}}"#,        // not finite
            #"{"kind":"NameService"} x"#,                                            // trailing text
            #"{"kind":"NameService""#,                                               // truncated
            #"[]"#,
        ]
        for text in notRead {
            #expect(NameServiceJSON.read(Array(text.utf8)) == nil, "\(text)")
        }
        // Invalid UTF-8 inside a string.
        var bytes = Array(#"{"kind":"NameService"}"#.utf8)
        bytes[10] = 0xFF
        #expect(NameServiceJSON.read(bytes) == nil)
    }

    /// Random byte edits of real documents: whatever the fast path still reads, JSONDecoder reads
    /// to the same value (the fast path never accepts what JSONDecoder rejects, nor differs).
    @Test func mutatedDocumentsAreReadAlikeOrLeftToJSONDecoder() async throws {
        let problems = try await offThePool { try Self.mutatedDocumentsAreReadAlikeOrLeftToJSONDecoderBody() }
        #expect(problems.isEmpty, "\(problems.count) problems, the first: \(problems.first ?? "")")
    }

    static func mutatedDocumentsAreReadAlikeOrLeftToJSONDecoderBody() throws -> [String] {
        var problems: [String] = []
        var g = SplitMix64(seed: 99)
        let alphabet = Array(#"{}[]:,"\ 0123456789.eE-+nulltruefalseaé"#.utf8) + [0x00, 0x1F, 0xC3, 0xFF]
        var agreed = 0
        for n in 0..<2000 {
            var json = [UInt8](try Self.encoder(sorted: n % 2 == 1).encode(Self.random(&g)))
            for _ in 0..<(1 + Int(g.next() % 3)) {
                let at = Int(g.next() % UInt64(json.count))
                switch g.next() % 3 {
                case 0: json[at] = alphabet[Int(g.next() % UInt64(alphabet.count))]
                case 1: json.remove(at: at)
                default: json.insert(alphabet[Int(g.next() % UInt64(alphabet.count))], at: at)
                }
            }
            guard let read = NameServiceJSON.read(json) else { continue }
            let expected = try? JSONDecoder().decode(NameService.self, from: Data(json))
            check(&problems, read == expected, "mutated document \(n): \(String(decoding: json, as: UTF8.self))")
            agreed += 1
        }
        check(&problems, agreed > 50, "too few mutations left a readable document (\(agreed)) for the check to mean anything")
        return problems
    }
}

/// `NameServiceJSON.write` is a fast path beside the API's `JSONEncoder` (sorted keys, `/`
/// unescaped): where it writes a document, the bytes must be `JSONEncoder`'s.
@Suite struct NameServiceJSONWriterTests {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    @Test func writesWhatJSONEncoderWrites() async throws {
        let problems = try await offThePool { try Self.writesWhatJSONEncoderWritesBody() }
        #expect(problems.isEmpty, "\(problems.count) problems, the first: \(problems.first ?? "")")
    }

    static func writesWhatJSONEncoderWritesBody() throws -> [String] {
        var problems: [String] = []
        var g = SplitMix64(seed: 21)
        var written = 0
        for n in 0..<1500 {
            var ns = NameServiceJSONTests.random(&g)
            if n % 3 == 0 { ns.metadata.labels = ["a10": "1", "a9": "2", "B": "3", "a": "4", "_x": "5", "Z1": "6", "a-b": "7", "a.b/c": "8"] }
            let expected = [UInt8](try Self.encoder.encode(ns))
            guard let fast = NameServiceJSON.write(ns) else { continue }
            check(&problems, fast == expected, "document \(n):\n\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: expected, as: UTF8.self))")
            written += 1
        }
        check(&problems, written > 250, "the writer took too few documents (\(written)) for the check to mean anything")
        return problems
    }

    @Test func writesTheStoredShapeAndLeavesTheRestToJSONEncoder() throws {
        var ns = NameService(metadata: ObjectMeta(name: "checkout", labels: ["team": "pay"], generation: 3, resourceVersion: "17",
                                                  creationRevision: 5, creationTimestamp: "2026-12-03T19:00:00Z"),
                             spec: NameServiceSpec(fqdn: "checkout.g.example.com", policy: .locality,
                                                   healthCheck: HealthCheckSpec(port: 8443, intervalSeconds: 4),
                                                   targets: [Target(name: "t0", addresses: ["127.0.0.1"], locality: "us-east/us-east-1a")]))
        ns.status = NameServiceStatus(observedGeneration: 3, conditions: [
            Condition(type: .ready, status: .true, reason: ConditionReason(rawValue: "Ready"), message: "answering \"x\"\n",
                      lastTransitionTime: "2026-12-03T19:00:00Z", observedGeneration: 3),
        ], targets: [TargetStatus(name: "t0", address: "127.0.0.1", healthy: true, lastProbeLatencyMilliseconds: 2)])
        #expect(NameServiceJSON.write(ns) == [UInt8](try Self.encoder.encode(ns)))
        var fractional = ns
        fractional.spec.healthCheck?.timeoutSeconds = 0.5
        fractional.status?.targets[0].lastProbeLatencyMilliseconds = 0.347
        #expect(NameServiceJSON.write(fractional) == [UInt8](try Self.encoder.encode(fractional)))
        for v in [1e-7, 3e300, 123456.789, 0.1 + 0.2, 9.007199254740993e15, 1e22, 5e-324, 2.5, 4, 1e16, 1.5e15, 0] {
            fractional.status?.targets[0].lastProbeLatencyMilliseconds = v
            #expect(NameServiceJSON.write(fractional) == [UInt8](try Self.encoder.encode(fractional)), "\(v)")
        }
        struct Event: Encodable { var type: String; var object: NameService }
        for type in ["ADDED", "MODIFIED", "DELETED", "with \"quote\"\n"] {
            #expect(NameServiceJSON.writeEvent(type: type, object: ns) == [UInt8](try Self.encoder.encode(Event(type: type, object: ns))))
        }
        var labelled = ns
        labelled.metadata.labels["ü"] = "gold"
        #expect(NameServiceJSON.write(labelled) == nil)
    }
}

/// Runs a long synchronous check on a thread of its own: on the test pool's two threads it would
/// hold back the suites that wait for their reconcilers meanwhile.
/// Issues are returned, not recorded there (a thread of its own is outside the test).
func offThePool(_ body: @escaping @Sendable () throws -> [String]) async throws -> [String] {
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<[String], any Error>) in
        Thread {
            do {
                done.resume(returning: try body())
            } catch {
                done.resume(throwing: error)
            }
        }.start()
    }
}

/// `#expect` for the bodies run by `offThePool`: the message of a failed check is collected.
func check(_ problems: inout [String], _ condition: Bool, _ message: @autoclosure () -> String = "") {
    if !condition { problems.append(message()) }
}

/// The escape decoder both JSON readers share: every escape, surrogate pairs, lone halves and
/// the malformed ones.
@Suite struct JSONEscapeTests {
    static func decode(_ text: String) -> (JSONEscape.Decoded?, Int) {
        let bytes = Array(text.utf8)
        var i = 0
        let d = JSONEscape.decode(bytes, &i)
        return (d, i)
    }

    @Test func escapesDecode() {
        #expect(Self.decode("n") == (.byte(0x0A), 1))
        #expect(Self.decode("/") == (.byte(UInt8(ascii: "/")), 1))
        #expect(Self.decode("u00e9") == (.scalar("é"), 5))
        #expect(Self.decode(#"ud83d\ude80"#) == (.scalar("🚀"), 11))
        #expect(Self.decode("ud83d!") == (.loneSurrogate, 5))
        #expect(Self.decode("ude80") == (.loneSurrogate, 5))
        #expect(Self.decode(#"ud83d\u0041"#).0 == nil)   // a high surrogate, then no low one
        #expect(Self.decode("u12").0 == nil)
        #expect(Self.decode("u12g4").0 == nil)
        #expect(Self.decode("x").0 == nil)
        #expect(Self.decode("").0 == nil)
    }
}

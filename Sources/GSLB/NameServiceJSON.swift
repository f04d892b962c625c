/// A direct JSON reader for NameService documents (the store's rows and events, API bodies):
/// several times cheaper than `JSONDecoder`, which costs 40–60 µs per document in generic
/// `Codable` machinery and dominated start-up, lists and watch replays at 100k names (issue 13).
///
/// It is a fast path, not a second decoder: it accepts only what it knows how to read exactly as
/// the `Codable` implementations do — the fields those implementations read, with the same
/// defaults (`null` is absent, as `decodeIfPresent` treats it) — and returns nil for anything else:
/// an unknown or repeated key, a number it does not read as `JSONDecoder` would (a fraction or an
/// exponent where an integer is expected, an out-of-range value), invalid UTF-8, non-empty `drains`
/// or `status.replicas`, a target drain. The caller then decodes with `JSONDecoder`, so every
/// document decodes to the same value either way, and every error is `JSONDecoder`'s
/// (`NameServiceJSONTests` checks both on random and mutated documents). A field added to the types is
/// read by `JSONDecoder` until it is added here.
public enum NameServiceJSON {
    /// The NameService in `bytes` (one JSON document), or nil: decode it with `JSONDecoder`.
    public static func read(_ bytes: UnsafeRawBufferPointer) -> NameService? {
        var r = Reader(bytes)
        do {
            let ns = try r.nameService()
            r.skipSpace()
            return r.atEnd ? ns : nil
        } catch {
            return nil
        }
    }

    public static func read(_ bytes: [UInt8]) -> NameService? {
        bytes.withUnsafeBytes { read($0) }
    }
}

/// Thrown inside the reader for anything it leaves to `JSONDecoder`.
private struct NotHandled: Error {}

private struct Reader {
    let p: UnsafeRawBufferPointer
    var i = 0

    init(_ p: UnsafeRawBufferPointer) { self.p = p }

    var atEnd: Bool { i >= p.count }

    @inline(__always)
    mutating func skipSpace() {
        while i < p.count {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    @inline(__always)
    mutating func peek() throws(NotHandled) -> UInt8 {
        skipSpace()
        guard i < p.count else { throw NotHandled() }
        return p[i]
    }

    @inline(__always)
    mutating func expect(_ c: UInt8) throws(NotHandled) {
        guard try peek() == c else { throw NotHandled() }
        i += 1
    }

    /// Consumes `null` if it is next.
    mutating func null() throws(NotHandled) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func literal(_ word: StaticString) throws(NotHandled) {
        let n = word.utf8CodeUnitCount
        guard i + n <= p.count else { throw NotHandled() }
        for k in 0..<n where p[i + k] != word.utf8Start[k] { throw NotHandled() }
        i += n
    }

    // MARK: Objects and arrays

    /// Reads an object whose keys must be among `names`, calling `member` with each key's index
    /// (the reader placed at its value), which must read the value. An unknown key, or one seen
    /// twice (`JSONDecoder`'s choice between them is its own), is not handled.
    mutating func fields(_ names: [StaticString], _ member: (inout Reader, Int) throws(NotHandled) -> Void) throws(NotHandled) {
        try expect(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") { i += 1; return }
        var seen: UInt64 = 0
        while true {
            let key = try keyRange()
            guard let k = names.firstIndex(where: { matches(key, $0) }), seen & (1 << k) == 0 else { throw NotHandled() }
            seen |= 1 << k
            try expect(UInt8(ascii: ":"))
            try member(&self, k)
            guard try endOfMember(UInt8(ascii: "}")) else { continue }
            return
        }
    }

    /// After a member or element: true at the closing `end`, false after a comma.
    mutating func endOfMember(_ end: UInt8) throws(NotHandled) -> Bool {
        let c = try peek()
        i += 1
        if c == UInt8(ascii: ",") { return false }
        if c == end { return true }
        throw NotHandled()
    }

    @inline(__always)
    func matches(_ range: Range<Int>, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard range.count == n else { return false }
        for k in 0..<n where p[range.lowerBound + k] != word.utf8Start[k] { return false }
        return true
    }

    mutating func array<T>(_ element: (inout Reader) throws(NotHandled) -> T) throws(NotHandled) -> [T] {
        try expect(UInt8(ascii: "["))
        var out: [T] = []
        if try peek() == UInt8(ascii: "]") { i += 1; return out }
        while true {
            out.append(try element(&self))
            if try endOfMember(UInt8(ascii: "]")) { return out }
        }
    }

    /// An array that must be empty (or null): what the fast path does not read otherwise.
    mutating func emptyArray() throws(NotHandled) {
        if try null() { return }
        try expect(UInt8(ascii: "["))
        try expect(UInt8(ascii: "]"))
    }

    /// A key without escapes (every key the types read has none), as a range of the input.
    mutating func keyRange() throws(NotHandled) -> Range<Int> {
        try expect(UInt8(ascii: "\""))
        let start = i
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return start..<(i - 1)
            }
            guard c != UInt8(ascii: "\\"), c >= 0x20 else { throw NotHandled() }
            i += 1
        }
        throw NotHandled()
    }

    // MARK: Scalars

    mutating func string() throws(NotHandled) -> String {
        try expect(UInt8(ascii: "\""))
        let start = i
        var ascii = true
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                let bytes = UnsafeRawBufferPointer(rebasing: p[start..<i])
                i += 1
                if ascii { return String(decoding: bytes, as: UTF8.self) }
                guard let s = String(validating: bytes, as: UTF8.self) else { throw NotHandled() }
                return s
            }
            if c == UInt8(ascii: "\\") {
                i = start
                return try escapedString()
            }
            guard c >= 0x20 else { throw NotHandled() }
            if c >= 0x80 { ascii = false }
            i += 1
        }
        throw NotHandled()
    }

    /// The rest of a string with escapes, from its first character.
    mutating func escapedString() throws(NotHandled) -> String {
        var out: [UInt8] = []
        while i < p.count {
            let c = p[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw NotHandled() }
                return s
            case UInt8(ascii: "\\"):
                // A lone surrogate is left to JSONDecoder (which refuses it).
                switch JSONEscape.decode(p, &i) {
                case .byte(let b): out.append(b)
                case .scalar(let u): out.append(contentsOf: UTF8.encode(u)!)
                case .loneSurrogate, nil: throw NotHandled()
                }
            default:
                guard c >= 0x20 else { throw NotHandled() }
                out.append(c)
            }
        }
        throw NotHandled()
    }

    /// A JSON integer: an optional minus, then `0` or digits without a leading zero; a fraction,
    /// an exponent or a value past `Int64` is not handled.
    mutating func int64() throws(NotHandled) -> Int64 {
        _ = try peek()
        var negative = false
        if p[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        let start = i
        var v: Int64 = 0
        while i < p.count, p[i] >= UInt8(ascii: "0"), p[i] <= UInt8(ascii: "9") {
            let d = Int64(p[i] - UInt8(ascii: "0"))
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            guard !o1, !o2 else { throw NotHandled() }
            v = s
            i += 1
        }
        let digits = i - start
        guard digits > 0, !(digits > 1 && p[start] == UInt8(ascii: "0")) else { throw NotHandled() }
        if i < p.count, p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") { throw NotHandled() }
        return v
    }

    mutating func int() throws(NotHandled) -> Int { Int(try int64()) }

    /// A JSON number as a Double, correctly rounded (as `JSONDecoder`, whose parse is also
    /// correctly rounded, so both give the same value); a value that is not finite is not handled.
    mutating func double() throws(NotHandled) -> Double {
        _ = try peek()
        let start = i
        if p[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ r: inout Reader) -> Int {
            let s = r.i
            while r.i < r.p.count, r.p[r.i] >= UInt8(ascii: "0"), r.p[r.i] <= UInt8(ascii: "9") { r.i += 1 }
            return r.i - s
        }
        let intStart = i
        let n = digits(&self)
        guard n > 0, !(n > 1 && p[intStart] == UInt8(ascii: "0")) else { throw NotHandled() }
        if i < p.count, p[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw NotHandled() }
        }
        if i < p.count, p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            i += 1
            if i < p.count, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw NotHandled() }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<i]), as: UTF8.self)
        guard let v = Double(text), v.isFinite else { throw NotHandled() }
        return v
    }

    mutating func bool() throws(NotHandled) -> Bool {
        switch try peek() {
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: throw NotHandled()
        }
    }

    // MARK: The NameService types (each as its `init(from:)`)

    /// A string, or nil for null.
    mutating func optionalString() throws(NotHandled) -> String? { try null() ? nil : try string() }
    mutating func optionalInt() throws(NotHandled) -> Int? { try null() ? nil : try int() }
    mutating func optionalInt64() throws(NotHandled) -> Int64? { try null() ? nil : try int64() }
    mutating func optionalDouble() throws(NotHandled) -> Double? { try null() ? nil : try double() }

    /// An array of `element`, or nil for null.
    mutating func optionalArray<T>(_ element: (inout Reader) throws(NotHandled) -> T) throws(NotHandled) -> [T]? {
        try null() ? nil : try array(element)
    }

    mutating func nameService() throws(NotHandled) -> NameService {
        var ns = NameService(apiVersion: "", kind: "", metadata: ObjectMeta(name: ""), spec: NameServiceSpec(fqdn: "", targets: []))
        try fields(["apiVersion", "kind", "metadata", "spec", "status", "drains"]) { (r, k) throws(NotHandled) in
            switch k {
            case 0: ns.apiVersion = try r.optionalString() ?? ""
            case 1: ns.kind = try r.optionalString() ?? ""
            case 2: ns.metadata = try r.null() ? ObjectMeta(name: "") : try r.metadata()
            case 3: ns.spec = try r.null() ? NameServiceSpec(fqdn: "", targets: []) : try r.spec()
            case 4: ns.status = try r.null() ? nil : try r.status()
            default: try r.emptyArray()
            }
        }
        return ns
    }

    mutating func metadata() throws(NotHandled) -> ObjectMeta {
        var m = ObjectMeta(name: "")
        try fields(["name", "labels", "generation", "resourceVersion", "creationRevision", "creationTimestamp"]) { (r, k) throws(NotHandled) in
            switch k {
            case 0: m.name = try r.optionalString() ?? ""
            case 1: m.labels = try r.null() ? [:] : try r.map { (r) throws(NotHandled) in try r.string() }
            case 2: m.generation = try r.optionalInt64() ?? 0
            case 3: m.resourceVersion = try r.optionalString()
            case 4: m.creationRevision = try r.optionalInt64()
            default: m.creationTimestamp = try r.optionalString()
            }
        }
        return m
    }

    /// An object as `[String: V]`: each key once, each value read by `value` (not null).
    mutating func map<V>(_ value: (inout Reader) throws(NotHandled) -> V) throws(NotHandled) -> [String: V] {
        var out: [String: V] = [:]
        try expect(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") { i += 1; return out }
        while true {
            let k = try string()
            guard out[k] == nil else { throw NotHandled() }
            try expect(UInt8(ascii: ":"))
            out[k] = try value(&self)
            if try endOfMember(UInt8(ascii: "}")) { return out }
        }
    }

    mutating func spec() throws(NotHandled) -> NameServiceSpec {
        var s = NameServiceSpec(fqdn: "", targets: [])
        try fields(["fqdn", "ttl", "policy", "maxAnswers", "allDown", "failover", "healthCheck", "targets",
                    "distribute", "overprovisioningFactor", "fallback"]) { (r, k) throws(NotHandled) in
            switch k {
            case 0: s.fqdn = try r.optionalString() ?? ""
            case 1: s.ttl = try r.optionalInt() ?? NameServiceSpec.defaultTTL
            case 2: s.policy = try r.optionalString().map { PolicyKind(rawValue: $0) } ?? .roundRobin
            case 3: s.maxAnswers = try r.optionalInt()
            case 4: s.allDown = try r.optionalString().map { AllDownBehavior(rawValue: $0) } ?? .failOpen
            case 5: s.failover = try r.optionalArray { (r) throws(NotHandled) in try r.failoverRule() } ?? []
            case 6: s.healthCheck = try r.null() ? nil : try r.healthCheck()
            case 7: s.targets = try r.optionalArray { (r) throws(NotHandled) in try r.target() } ?? []
            case 8: s.distribute = try r.optionalArray { (r) throws(NotHandled) in try r.distributeRule() } ?? []
            case 9: s.overprovisioningFactor = try r.optionalDouble()
            default: s.fallback = try r.null() ? nil : try r.fallbackSpec()
            }
        }
        return s
    }

    mutating func distributeRule() throws(NotHandled) -> DistributeRule {
        var d = DistributeRule(from: "", to: [:])
        try fields(["from", "to"]) { (r, k) throws(NotHandled) in
            if k == 0 { d.from = try r.optionalString() ?? "" } else { d.to = try r.null() ? [:] : try r.map { (r) throws(NotHandled) in try r.int() } }
        }
        return d
    }

    mutating func fallbackSpec() throws(NotHandled) -> FallbackSpec {
        var f = FallbackSpec()
        try fields(["addresses", "fqdn"]) { (r, k) throws(NotHandled) in
            if k == 0 { f.addresses = try r.optionalArray { (r) throws(NotHandled) in try r.string() } ?? [] }
            else { f.fqdn = try r.optionalString() }
        }
        return f
    }

    mutating func failoverRule() throws(NotHandled) -> FailoverRule {
        var f = FailoverRule(from: "", to: "")
        try fields(["from", "to"]) { (r, k) throws(NotHandled) in
            if k == 0 { f.from = try r.optionalString() ?? "" } else { f.to = try r.optionalString() ?? "" }
        }
        return f
    }

    mutating func healthCheck() throws(NotHandled) -> HealthCheckSpec {
        var h = HealthCheckSpec(port: 0)
        try fields(["port", "intervalSeconds", "timeoutSeconds", "failureThreshold", "successThreshold",
                    "initialDelaySeconds"]) { (r, k) throws(NotHandled) in
            switch k {
            case 0: h.port = try r.optionalInt() ?? 0
            case 1: h.intervalSeconds = try r.optionalDouble()
            case 2: h.timeoutSeconds = try r.optionalDouble()
            case 3: h.failureThreshold = try r.optionalInt()
            case 4: h.successThreshold = try r.optionalInt()
            default: h.initialDelaySeconds = try r.optionalDouble()
            }
        }
        return h
    }

    mutating func target() throws(NotHandled) -> Target {
        var t = Target(name: "")
        try fields(["name", "addresses", "fqdn", "locality", "ratio"]) { (r, k) throws(NotHandled) in
            switch k {
            case 0: t.name = try r.optionalString() ?? ""
            case 1: t.addresses = try r.optionalArray { (r) throws(NotHandled) in try r.string() } ?? []
            case 2: t.fqdn = try r.optionalString()
            case 3: t.locality = try r.optionalString()
            default: t.ratio = try r.optionalInt() ?? 1
            }
        }
        return t
    }

    mutating func status() throws(NotHandled) -> NameServiceStatus {
        var s = NameServiceStatus()
        try fields(["observedGeneration", "conditions", "targets", "replicas"]) { (r, k) throws(NotHandled) in
            switch k {
            case 0: s.observedGeneration = try r.optionalInt64() ?? 0
            case 1: s.conditions = try r.optionalArray { (r) throws(NotHandled) in try r.condition() } ?? []
            case 2: s.targets = try r.optionalArray { (r) throws(NotHandled) in try r.targetStatus() } ?? []
            default: try r.emptyArray()
            }
        }
        return s
    }

    mutating func condition() throws(NotHandled) -> Condition {
        var type: ConditionType?
        var status: ConditionStatus?
        var c = Condition(type: .accepted, status: .unknown, reason: ConditionReason(rawValue: ""), lastTransitionTime: "", observedGeneration: 0)
        try fields(["type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"]) { (r, k) throws(NotHandled) in
            switch k {
            // `type` and `status` are required, not optional: null or absent is JSONDecoder's error.
            case 0: type = ConditionType(rawValue: try r.string())
            case 1:
                guard let v = ConditionStatus(rawValue: try r.string()) else { throw NotHandled() }
                status = v
            case 2: c.reason = ConditionReason(rawValue: try r.optionalString() ?? "")
            case 3: c.message = try r.optionalString() ?? ""
            case 4: c.lastTransitionTime = try r.optionalString() ?? ""
            default: c.observedGeneration = try r.optionalInt64() ?? 0
            }
        }
        guard let type, let status else { throw NotHandled() }
        c.type = type
        c.status = status
        return c
    }

    mutating func targetStatus() throws(NotHandled) -> TargetStatus {
        var t = TargetStatus(name: "", address: "", healthy: false)
        try fields(["name", "address", "healthy", "lastTransitionTime", "lastError", "drain", "lastProbeTime",
                    "lastProbeLatencyMilliseconds"]) { (r, k) throws(NotHandled) in
            switch k {
            case 0: t.name = try r.optionalString() ?? ""
            case 1: t.address = try r.optionalString() ?? ""
            case 2: t.healthy = try r.null() ? false : try r.bool()
            case 3: t.lastTransitionTime = try r.optionalString()
            case 4: t.lastError = try r.optionalString()
            case 5: guard try r.null() else { throw NotHandled() }
            case 6: t.lastProbeTime = try r.optionalString()
            default: t.lastProbeLatencyMilliseconds = try r.optionalDouble()
            }
        }
        return t
    }
}

extension NameServiceJSON {
    /// `ns` as the API's `JSONEncoder` writes it (sorted keys, `/` unescaped), byte for byte, or
    /// nil for what this writer leaves to `JSONEncoder`: a number that is not finite, drains,
    /// replica statuses, a target's drain, a label key that is not ASCII (keys are sorted by their
    /// bytes here, which is `JSONEncoder`'s order for ASCII keys). `NameServiceJSONTests` compares both on random documents.
    public static func write(_ ns: NameService) -> [UInt8]? {
        var w = Writer()
        return w.nameService(ns) ? w.out : nil
    }

    /// A watch event of `ns` (`{"object":…,"type":…}`) as the API's `JSONEncoder` writes it, or
    /// nil as `write(_:)`.
    public static func writeEvent(type: String, object ns: NameService) -> [UInt8]? {
        var w = Writer()
        w.raw(#"{"object":"#)
        guard w.nameService(ns) else { return nil }
        w.raw(#","type":"#)
        w.string(type)
        w.out.append(UInt8(ascii: "}"))
        return w.out
    }
}

private struct Writer {
    var out: [UInt8] = []

    init() { out.reserveCapacity(1024) }

    @inline(__always) mutating func raw(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func string(_ s: String) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): raw(#"\""#)
            case UInt8(ascii: "\\"): raw(#"\\"#)
            case 0x08: raw(#"\b"#)
            case 0x0C: raw(#"\f"#)
            case 0x0A: raw(#"\n"#)
            case 0x0D: raw(#"\r"#)
            case 0x09: raw(#"\t"#)
            case 0..<0x20:
                raw(#"\u00"#)
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 15)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    mutating func int(_ v: Int64) {
        var v = v
        if v == 0 { out.append(UInt8(ascii: "0")); return }
        if v < 0 {
            out.append(UInt8(ascii: "-"))
            if v == .min { raw("9223372036854775808"); return }
            v = -v
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[n] = UInt8(v % 10) + UInt8(ascii: "0")
                v /= 10
                n += 1
            }
            for k in stride(from: n - 1, through: 0, by: -1) { out.append(d[k]) }
        }
    }

    /// A double as `JSONEncoder` writes it: Swift's shortest round-tripping form without a
    /// trailing `.0` (`4`, `0.35`, `1e-07`, `3e+300`); false for what it does not write (not
    /// finite, negative zero).
    mutating func double(_ v: Double) -> Bool {
        guard v.isFinite, !(v == 0 && v.sign == .minus) else { return false }
        var text = v.description.utf8[...]
        if text.count > 2, text.suffix(2).elementsEqual(".0".utf8) { text = text.dropLast(2) }
        out.append(contentsOf: text)
        return true
    }

    mutating func strings(_ list: [String]) {
        out.append(UInt8(ascii: "["))
        for (k, v) in list.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            string(v)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// An object of `map`'s entries, keys sorted by their bytes (`JSONEncoder`'s order for ASCII
    /// keys); false for a key that is not ASCII.
    mutating func object<V>(_ map: [String: V], _ value: (inout Writer, V) -> Void) -> Bool {
        guard map.keys.allSatisfy({ k in k.utf8.allSatisfy { $0 < 0x80 } }) else { return false }
        out.append(UInt8(ascii: "{"))
        for (i, (k, v)) in map.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            string(k)
            out.append(UInt8(ascii: ":"))
            value(&self, v)
        }
        out.append(UInt8(ascii: "}"))
        return true
    }

    /// Writes the members of an object: `key` then the value each closure writes, separated.
    mutating func key(_ k: StaticString, first: inout Bool) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(UInt8(ascii: "\""))
        raw(k)
        raw("\":")
    }

    mutating func nameService(_ ns: NameService) -> Bool {
        guard ns.drains.isEmpty else { return false }
        var f = true
        out.append(UInt8(ascii: "{"))
        key("apiVersion", first: &f); string(ns.apiVersion)
        key("kind", first: &f); string(ns.kind)
        key("metadata", first: &f); guard metadata(ns.metadata) else { return false }
        key("spec", first: &f); guard spec(ns.spec) else { return false }
        if let status = ns.status {
            key("status", first: &f); guard self.status(status) else { return false }
        }
        out.append(UInt8(ascii: "}"))
        return true
    }

    mutating func metadata(_ m: ObjectMeta) -> Bool {
        var f = true
        out.append(UInt8(ascii: "{"))
        if let v = m.creationRevision { key("creationRevision", first: &f); int(v) }
        if let v = m.creationTimestamp { key("creationTimestamp", first: &f); string(v) }
        key("generation", first: &f); int(m.generation)
        key("labels", first: &f)
        guard object(m.labels, { w, v in w.string(v) }) else { return false }
        key("name", first: &f); string(m.name)
        if let v = m.resourceVersion { key("resourceVersion", first: &f); string(v) }
        out.append(UInt8(ascii: "}"))
        return true
    }

    mutating func spec(_ s: NameServiceSpec) -> Bool {
        var f = true
        out.append(UInt8(ascii: "{"))
        key("allDown", first: &f); string(s.allDown.rawValue)
        if !s.distribute.isEmpty {
            key("distribute", first: &f)
            out.append(UInt8(ascii: "["))
            for (i, rule) in s.distribute.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                var g = true
                out.append(UInt8(ascii: "{"))
                key("from", first: &g); string(rule.from)
                key("to", first: &g)
                guard object(rule.to, { w, weight in w.int(Int64(weight)) }) else { return false }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        key("failover", first: &f)
        out.append(UInt8(ascii: "["))
        for (i, rule) in s.failover.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            var g = true
            out.append(UInt8(ascii: "{"))
            key("from", first: &g); string(rule.from)
            key("to", first: &g); string(rule.to)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let fb = s.fallback {
            key("fallback", first: &f)
            var g = true
            out.append(UInt8(ascii: "{"))
            key("addresses", first: &g); strings(fb.addresses)
            if let v = fb.fqdn { key("fqdn", first: &g); string(v) }
            out.append(UInt8(ascii: "}"))
        }
        key("fqdn", first: &f); string(s.fqdn)
        if let h = s.healthCheck {
            key("healthCheck", first: &f)
            var g = true
            out.append(UInt8(ascii: "{"))
            if let v = h.failureThreshold { key("failureThreshold", first: &g); int(Int64(v)) }
            if let v = h.initialDelaySeconds { key("initialDelaySeconds", first: &g); guard double(v) else { return false } }
            if let v = h.intervalSeconds { key("intervalSeconds", first: &g); guard double(v) else { return false } }
            key("port", first: &g); int(Int64(h.port))
            if let v = h.successThreshold { key("successThreshold", first: &g); int(Int64(v)) }
            if let v = h.timeoutSeconds { key("timeoutSeconds", first: &g); guard double(v) else { return false } }
            out.append(UInt8(ascii: "}"))
        }
        if let v = s.maxAnswers { key("maxAnswers", first: &f); int(Int64(v)) }
        if let v = s.overprovisioningFactor { key("overprovisioningFactor", first: &f); guard double(v) else { return false } }
        key("policy", first: &f); string(s.policy.rawValue)
        key("targets", first: &f)
        out.append(UInt8(ascii: "["))
        for (i, t) in s.targets.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            var g = true
            out.append(UInt8(ascii: "{"))
            key("addresses", first: &g); strings(t.addresses)
            if let v = t.fqdn { key("fqdn", first: &g); string(v) }
            if let v = t.locality { key("locality", first: &g); string(v) }
            key("name", first: &g); string(t.name)
            key("ratio", first: &g); int(Int64(t.ratio))
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        key("ttl", first: &f); int(Int64(s.ttl))
        out.append(UInt8(ascii: "}"))
        return true
    }

    mutating func status(_ s: NameServiceStatus) -> Bool {
        guard s.replicas.isEmpty else { return false }
        var f = true
        out.append(UInt8(ascii: "{"))
        key("conditions", first: &f)
        out.append(UInt8(ascii: "["))
        for (i, c) in s.conditions.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            var g = true
            out.append(UInt8(ascii: "{"))
            key("lastTransitionTime", first: &g); string(c.lastTransitionTime)
            key("message", first: &g); string(c.message)
            key("observedGeneration", first: &g); int(c.observedGeneration)
            key("reason", first: &g); string(c.reason.rawValue)
            key("status", first: &g); string(c.status.rawValue)
            key("type", first: &g); string(c.type.rawValue)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        key("observedGeneration", first: &f); int(s.observedGeneration)
        key("targets", first: &f)
        out.append(UInt8(ascii: "["))
        for (i, t) in s.targets.enumerated() {
            guard t.drain == nil else { return false }
            if i > 0 { out.append(UInt8(ascii: ",")) }
            var g = true
            out.append(UInt8(ascii: "{"))
            key("address", first: &g); string(t.address)
            key("healthy", first: &g); if t.healthy { raw("true") } else { raw("false") }
            if let v = t.lastError { key("lastError", first: &g); string(v) }
            if let v = t.lastProbeLatencyMilliseconds { key("lastProbeLatencyMilliseconds", first: &g); guard double(v) else { return false } }
            if let v = t.lastProbeTime { key("lastProbeTime", first: &g); string(v) }
            if let v = t.lastTransitionTime { key("lastTransitionTime", first: &g); string(v) }
            key("name", first: &g); string(t.name)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        out.append(UInt8(ascii: "}"))
        return true
    }
}

@_exported import Plan
import DNSWire
import DNSZone
import GSLB
import Logging

/// The transport a query came over: it decides the size limit (UDP replies are truncated to it).
public enum Transport: Sendable {
    case udp
    case tcp
}

/// Answers one query packet, writing the reply into a caller-owned buffer.
///
/// One responder per event loop: it owns scratch memory reused by every query, so it is not
/// `Sendable` and must only be used from one thread. It never allocates on the answering path.
///
/// Stages (Knot's query plan; the starting design in docs/design.md):
/// 1. **begin** — header sanity (drop unreadable packets and responses), opcode, QDCOUNT, the
///    question (lowercased copy + label offsets in scratch), the remaining sections (structure only;
///    trailing garbage is FORMERR), OPT (one, at the root; version; Client Subnet validation; NSID).
/// 2. **answer** — class CH identity and explain, meta-types, the zone for the name (none:
///    REFUSED), global names (a policy picks among the plan's candidates), then the zone lookup:
///    exact / CNAME chain inside the zone / wildcard (RFC 4592) / delegation / ENT.
/// 3. **authority** — SOA with the negative TTL (RFC 2308) on NXDOMAIN/NODATA, NS on referrals.
/// 4. **additional** — pre-computed addresses for NS, MX and SRV targets (glue on referrals).
/// 5. **end** — flags, counts, TC when a section did not fit, OPT with Client Subnet and NSID.
///
/// Then each query is counted (transport × qtype × rcode, the answering policy, TC, reply size) in
/// plain integers this loop owns, read through `stats`; and, when `queryLogSampleRate` is above 0,
/// a sampled share of queries is logged (the decision is one draw from this loop's own random
/// source; only a logged query allocates).
public final class QueryResponder {
    public let holder: ServingStateHolder
    public let configuration: ResponderConfiguration
    private let counters = QueryCounters()
    private let countsQueries: Bool
    /// What the stages decided about the current query, for the counters and the query log.
    private var outcome = Outcome()
    private let queryLogger: Logger?
    /// A query is logged when a draw from `sampler` is at most this (0: never; `.max`: always).
    private let sampleThreshold: UInt64
    private var sampler = SplitMix64()

    struct Outcome {
        /// The reply's rcode; nil while no reply was written.
        var rcode: Rcode?
        var truncated = false
        /// Index into `ResponderStats.policies` of what answered: -1 when nothing did (errors,
        /// REFUSED, CH queries).
        var policy = -1
    }

    // Scratch, reused by every query.
    private let name: UnsafeMutablePointer<UInt8>          // lowercased current name
    private let labelStarts: UnsafeMutablePointer<Int>     // label offsets of `name` (+ root)
    private let wildcard: UnsafeMutablePointer<UInt8>      // `*.<closest encloser>`
    private let visited: UnsafeMutablePointer<Int32>       // CNAME loop detection
    private let identityBytes: [UInt8]
    /// The snapshot this loop answers from; refreshed when the holder's generation moves.
    private var state: ServingState
    // Policy state of this loop: RoundRobin/Locality rotation, Ratio's random source, and the
    // address indices a pick writes (sized for the most records a global name renders).
    private var rotation: UInt64 = 0
    private var random: SplitMix64
    private let picks: UnsafeMutableBufferPointer<Int32>
    static let pickCapacity = GlobalNameTable.maxIPv4Records + GlobalNameTable.maxIPv6Records
    /// The policies' working memory (Ratio's draw without replacement), reused by every query.
    private let pickScratch = PickScratch(capacity: 1024)

    /// The per-query state shared between stages.
    public struct Query {
        public var id: UInt16 = 0
        public var flags: UInt16 = 0
        public var qtype: UInt16 = 0
        public var qclass: UInt16 = 0
        /// Bytes of the question (name + type + class) in the query, starting at offset 12.
        public var questionLength: Int = 0
        public var qnameLength: Int = 0
        public var labelCount: Int = 0
        public var hasEDNS = false
        public var ednsVersion: UInt8 = 0
        public var dnssecOK = false
        public var clientUDPSize: Int = 512
        public var wantsNSID = false
        /// Client Subnet, if the query carried a valid one (RFC 7871).
        public var hasClientSubnet = false
        public var ecsFamily: UInt16 = 0
        public var ecsSourcePrefix: UInt8 = 0
        /// The address bytes as sent (ceil(source/8)), zero-padded to 16.
        public var ecsAddress: (UInt64, UInt64) = (0, 0)
        /// The SCOPE PREFIX-LENGTH to return (0 for static data, RFC 7871 §7.2.1).
        public var ecsScope: UInt8 = 0
        public var hasTSIG = false
    }

    /// `queryLogger` receives the sampled query log (see `ResponderConfiguration.queryLogSampleRate`).
    public init(holder: ServingStateHolder, configuration: ResponderConfiguration, queryLogger: Logger? = nil) {
        self.holder = holder
        self.configuration = configuration
        countsQueries = configuration.countsQueries
        self.queryLogger = queryLogger
        sampleThreshold = queryLogger == nil ? 0 : Self.sampleThreshold(rate: configuration.queryLogSampleRate)
        name = .allocate(capacity: 256)
        labelStarts = .allocate(capacity: 130)
        wildcard = .allocate(capacity: 258)
        visited = .allocate(capacity: 64)
        picks = .allocate(capacity: QueryResponder.pickCapacity)
        picks.initialize(repeating: 0)
        identityBytes = Array(configuration.identity.utf8.prefix(255))
        state = holder.load()
        random = SplitMix64()
        rotation = random.next()
    }

    /// A responder whose weighted picks follow `seed` (tests).
    public convenience init(holder: ServingStateHolder, configuration: ResponderConfiguration, queryLogger: Logger? = nil,
                            seed: UInt64) {
        self.init(holder: holder, configuration: configuration, queryLogger: queryLogger)
        random = SplitMix64(seed: seed)
        rotation = 0
    }

    deinit {
        counters.deallocate()
        name.deallocate()
        labelStarts.deallocate()
        wildcard.deallocate()
        visited.deallocate()
        picks.deallocate()
    }

    /// Answers `packet` from `source` (the packet's source address: the client of the Locality
    /// policy without ECS, and what the explain allow-list checks), writing into `out`. Returns
    /// the reply's length, or 0 to send nothing. `out` must hold at least 512 bytes; a TCP caller
    /// gives 65535.
    public func respond(to packet: UnsafeRawBufferPointer, transport: Transport, source: IPAddress,
                        into out: UnsafeMutableRawBufferPointer) -> Int {
        var query = Query()
        outcome = Outcome()
        let n = respond(packet, transport: transport, source: source, into: out, &query)
        if n == 0 { outcome.rcode = nil }
        if countsQueries {
            counters.count(transport: transport, qtype: query.qtype, rcode: outcome.rcode, replyLength: n,
                           truncated: outcome.truncated, policy: outcome.policy)
        }
        if sampleThreshold != 0 && sampler.next() <= sampleThreshold {
            logQuery(packet, query, transport: transport, source: source, reply: out, length: n)
        }
        return n
    }

    /// This responder's counters so far (call on its event loop).
    public var stats: ResponderStats { counters.snapshot() }

    private func respond(_ packet: UnsafeRawBufferPointer, transport: Transport, source: IPAddress,
                         into out: UnsafeMutableRawBufferPointer, _ query: inout Query) -> Int {
        guard packet.count >= 12, out.count >= 512 else { return 0 }
        let q = packet.bindMemory(to: UInt8.self)
        let o = out.bindMemory(to: UInt8.self).baseAddress!
        query.id = UInt16(q[0]) << 8 | UInt16(q[1])
        query.flags = UInt16(q[2]) << 8 | UInt16(q[3])
        // A response (QR=1) is never answered: that is how reflection loops start.
        if query.flags & 0x8000 != 0 { return 0 }
        let rcode = begin(q, &query)
        let limit: Int
        if transport == .tcp {
            limit = min(out.count, 65535)
        } else {
            let client = query.hasEDNS ? max(512, query.clientUDPSize) : 512
            limit = min(out.count, min(client, max(512, configuration.maxUDPPayload)))
        }
        var w = Writer(base: o, limit: limit)
        if let rcode {
            return finishError(q, query, rcode: rcode, writer: &w)
        }
        return answer(q, &query, source: source, writer: &w)
    }

    /// Convenience for tests and tools: bytes in, bytes out (nil when dropped). The default source
    /// is 127.0.0.1.
    public func respond(to packet: [UInt8], transport: Transport = .udp, bufferSize: Int = 65535,
                        source: IPAddress = .v4(IPv4Address(127, 0, 0, 1))) -> [UInt8]? {
        var reply = [UInt8](repeating: 0, count: max(bufferSize, 512))
        let n = packet.withUnsafeBytes { p in
            reply.withUnsafeMutableBytes { o in respond(to: p, transport: transport, source: source, into: o) }
        }
        return n == 0 ? nil : Array(reply[0..<n])
    }

    // MARK: - begin

    /// Parses and validates the query. Returns an rcode to answer with straight away, or nil.
    private func begin(_ q: UnsafeBufferPointer<UInt8>, _ query: inout Query) -> Rcode? {
        let opcode = (query.flags >> 11) & 0xF
        let qd = Int(q[4]) << 8 | Int(q[5])
        let an = Int(q[6]) << 8 | Int(q[7])
        let ns = Int(q[8]) << 8 | Int(q[9])
        let ar = Int(q[10]) << 8 | Int(q[11])
        let questionOK = qd == 1 && parseQuestion(q, &query)
        if opcode != 0 {
            if !questionOK { query.questionLength = 0 }
            return .notImp
        }
        guard qd == 1, questionOK else {
            query.questionLength = 0
            return .formErr
        }
        var i = 12 + query.questionLength
        // Answer and authority of a query carry nothing for us; they must still be well formed, and
        // OPT may only appear in the additional section (RFC 6891 §6.1.1; Knot says FORMERR too).
        for _ in 0..<(an + ns) {
            // OPT and TSIG belong in the additional section only (RFC 6891 §6.1.1, RFC 8945 §5.1).
            guard let next = skipRecord(q, at: i), next.type != RRType.opt.rawValue,
                  next.type != RRType.tsig.rawValue else { return .formErr }
            i = next.end
        }
        for k in 0..<ar {
            let start = i
            guard let next = skipRecord(q, at: i) else { return .formErr }
            if next.type == RRType.opt.rawValue {
                // One OPT, owned by the root (RFC 6891 §6.1.1).
                guard !query.hasEDNS, q[start] == 0 else { return .formErr }
                query.hasEDNS = true
                let cls = Int(q[start + 3]) << 8 | Int(q[start + 4])
                query.clientUDPSize = cls
                query.ednsVersion = q[start + 6]
                query.dnssecOK = q[start + 7] & 0x80 != 0
                if let bad = parseOptions(q, from: start + 11, to: next.end, &query) { return bad }
            } else if next.type == RRType.tsig.rawValue {
                // TSIG must be the last record of the message (RFC 8945 §5.1).
                guard k == ar - 1 else { return .formErr }
                query.hasTSIG = true
            }
            i = next.end
        }
        guard i == q.count else { return .formErr }
        if query.hasEDNS && query.ednsVersion > 0 { return .badVers }
        return nil
    }

    /// Reads the question name into the lowercased scratch buffer, with label offsets.
    private func parseQuestion(_ q: UnsafeBufferPointer<UInt8>, _ query: inout Query) -> Bool {
        var i = 12
        var n = 0
        var labels = 0
        while true {
            guard i < q.count else { return false }
            let len = Int(q[i])
            if len == 0 {
                name[n] = 0
                labelStarts[labels] = n
                n += 1
                i += 1
                break
            }
            // No compression in a query's question (nothing earlier to point at), no extended labels.
            guard len <= 63, i + 1 + len <= q.count, n + 1 + len < 255 else { return false }
            labelStarts[labels] = n
            labels += 1
            name[n] = UInt8(len)
            for k in 1...len { name[n + k] = DNSName.lower(q[i + k]) }
            n += 1 + len
            i += 1 + len
        }
        guard i + 4 <= q.count else { return false }
        query.qtype = UInt16(q[i]) << 8 | UInt16(q[i + 1])
        query.qclass = UInt16(q[i + 2]) << 8 | UInt16(q[i + 3])
        query.qnameLength = n
        query.labelCount = labels
        query.questionLength = n + 4
        return true
    }

    /// Checks one record's structure; returns its end and type. Names may be compressed.
    private func skipRecord(_ q: UnsafeBufferPointer<UInt8>, at start: Int) -> (end: Int, type: UInt16)? {
        var i = start
        var total = 0
        while true {
            guard i < q.count else { return nil }
            let len = Int(q[i])
            if len & 0xC0 == 0xC0 {
                guard i + 1 < q.count else { return nil }
                let target = (len & 0x3F) << 8 | Int(q[i + 1])
                // Must point back into an earlier name; following it is not needed to skip.
                guard target >= 12, target < start else { return nil }
                i += 2
                break
            }
            guard len & 0xC0 == 0 else { return nil }
            total += 1 + len
            guard total <= 255 else { return nil }
            i += 1 + len
            if len == 0 { break }
        }
        guard i + 10 <= q.count else { return nil }
        let type = UInt16(q[i]) << 8 | UInt16(q[i + 1])
        let rdlen = Int(q[i + 8]) << 8 | Int(q[i + 9])
        let end = i + 10 + rdlen
        guard end <= q.count else { return nil }
        return (end, type)
    }

    /// Walks OPT options: Client Subnet validated (RFC 7871 §7.1.1), NSID noted, others ignored.
    private func parseOptions(_ q: UnsafeBufferPointer<UInt8>, from: Int, to end: Int, _ query: inout Query) -> Rcode? {
        var i = from
        while i < end {
            guard i + 4 <= end else { return .formErr }
            let code = UInt16(q[i]) << 8 | UInt16(q[i + 1])
            let len = Int(q[i + 2]) << 8 | Int(q[i + 3])
            let data = i + 4
            guard data + len <= end else { return .formErr }
            switch code {
            case EDNSOptionCode.clientSubnet:
                guard !query.hasClientSubnet, len >= 4 else { return .formErr }
                let family = UInt16(q[data]) << 8 | UInt16(q[data + 1])
                let source = q[data + 2], scope = q[data + 3]
                let maxPrefix: UInt8 = family == 1 ? 32 : (family == 2 ? 128 : 0)
                guard maxPrefix > 0, source <= maxPrefix, scope == 0 else { return .formErr }
                let n = (Int(source) + 7) / 8
                guard len == 4 + n else { return .formErr }
                if source % 8 != 0 && q[data + 3 + n] & (0xFF >> (source % 8)) != 0 { return .formErr }
                var hi: UInt64 = 0, lo: UInt64 = 0
                for k in 0..<n {
                    let b = UInt64(q[data + 4 + k])
                    if k < 8 { hi |= b << UInt64(56 - 8 * k) } else { lo |= b << UInt64(56 - 8 * (k - 8)) }
                }
                query.hasClientSubnet = true
                query.ecsFamily = family
                query.ecsSourcePrefix = source
                query.ecsAddress = (hi, lo)
            case EDNSOptionCode.nsid:
                query.wantsNSID = true
            default:
                break
            }
            i = data + len
        }
        return nil
    }

    // MARK: - answer

    private func answer(_ q: UnsafeBufferPointer<UInt8>, _ query: inout Query, source: IPAddress,
                        writer w: inout Writer) -> Int {
        var optSize = optLength(query)
        // The header, the question and OPT must fit even a 512-byte limit: with a long identity the
        // NSID option is what gives way (the rest of OPT is at most 35 bytes).
        if 12 + query.questionLength + optSize > w.limit {
            query.wantsNSID = false
            optSize = optLength(query)
        }
        w.limit -= optSize
        w.writeHeaderAndQuestion(q, query)
        // QR, the opcode and RD echoed. CD is cleared: an authoritative server SHOULD clear it
        // (RFC 4035 §3.1.6), and Knot does in every reply.
        var flags: UInt16 = 0x8000 | (query.flags & 0x7900)
        var rcode = Rcode.noError

        // One snapshot per query: refresh the cached one only when a newer one was published.
        if holder.generation != state.generation { state = holder.load() }
        if query.qclass == RRClass.ch.rawValue {
            rcode = answerChaos(&query, source: source, &w, &flags)
            return finish(query, flags: flags, rcode: rcode, writer: &w, optSize: optSize)
        }
        // QCLASS ANY (RFC 1035 §3.2.5) is answered as IN: every zone is class IN, and Knot answers
        // it with the IN data and AA. Other classes (HS, NONE, ...) are REFUSED.
        guard query.qclass == RRClass.in.rawValue || query.qclass == RRClass.any.rawValue else {
            return finish(query, flags: flags, rcode: .refused, writer: &w, optSize: optSize)
        }
        if query.hasTSIG {
            // No keys are configured: Knot answers unknown-key TSIG with NOTAUTH.
            return finish(query, flags: flags, rcode: .notAuth, writer: &w, optSize: optSize)
        }
        switch query.qtype {
        case RRType.axfr.rawValue, RRType.ixfr.rawValue:
            // Zone transfers are not offered (as Knot does for a client no ACL allows).
            return finish(query, flags: flags, rcode: .notAuth, writer: &w, optSize: optSize)
        case RRType.maila.rawValue, RRType.mailb.rawValue, RRType.opt.rawValue, RRType.tsig.rawValue,
             RRType.tkey.rawValue:
            return finish(query, flags: flags, rcode: .notImp, writer: &w, optSize: optSize)
        default:
            break
        }

        guard let (zone, apexLabel) = state.zones.findZone(
            UnsafePointer(name), length: query.qnameLength, labelStarts: labelStarts, labelCount: query.labelCount)
        else {
            return finish(query, flags: flags, rcode: .refused, writer: &w, optSize: optSize)
        }
        flags |= 0x0400  // AA
        rcode = answerZone(zone, apexLabel: apexLabel, &query, source: source, writer: &w, flags: &flags)
        return finish(query, flags: flags, rcode: rcode, writer: &w, optSize: optSize)
    }

    /// The zone part of RFC 1034 §4.3.2, following CNAMEs inside the zone.
    private func answerZone(_ zone: Zone, apexLabel initialApexLabel: Int, _ query: inout Query, source: IPAddress,
                            writer w: inout Writer, flags: inout UInt16) -> Rcode {
        let globals = state.globals
        outcome.policy = 0  // static, unless a global name answers
        var ownerPos = 12
        var ownerLen = query.qnameLength
        var nameLen = query.qnameLength
        var apexLabel = initialApexLabel
        var hops = 0
        let qtype = query.qtype
        while true {
            // Global names (NameServices) come first: the compiler guarantees they clash with no
            // static name, and a static CNAME may point at one.
            // One hash of the name picks the shard and the slot in it.
            let hash = GlobalNameTable.hash(UnsafePointer(name), nameLen)
            let shard = globals.shards[globals.shardIndex(hash: hash)]
            let global = shard.table.find(UnsafePointer(name), nameLen, hash: hash)
            if global >= 0 {
                let g = shard.table.rendered(global)
                if !g.isEmptyNonTerminal {
                    return answerGlobal(zone, shard, global, g, &query, source: source, ownerPos: ownerPos,
                                        ownerLen: ownerLen, writer: &w)
                }
            }
            let result = zone.lookup(UnsafePointer(name), length: nameLen, labelStarts: labelStarts,
                                     apexLabel: apexLabel, parentSide: qtype == RRType.ds.rawValue,
                                     wildcardScratch: wildcard)
            let node: Int32
            switch result {
            case .nameError:
                _ = w.authority(zone, zone.negativeSOA, ownerPos: ownerPos, ownerLen: ownerLen,
                                ownerSuffix: zone.originLength)
                // A name between a global name and its zone exists (RFC 8020): NODATA.
                return global >= 0 ? .noError : .nxDomain
            case .delegation(let cut):
                if hops == 0 { flags &= ~0x0400 }  // a referral is not authoritative
                let cutLen = zone.nameLength(of: cut)
                guard let ns = zone.rrset(at: cut, type: RRType.ns.rawValue) else { return .servFail }
                let nsPos = w.position
                if !w.authority(zone, ns, ownerPos: ownerPos, ownerLen: ownerLen, ownerSuffix: cutLen) {
                    w.truncated = true
                    return .noError
                }
                // Glue that does not fit truncates the referral (RFC 9471).
                if !w.additionals(zone, ns, blobStartInPacket: nsPos, required: true) { w.truncated = true }
                return .noError
            case .node(let n), .wildcard(let n):
                node = n
            }
            let zn = zone.node(node)
            // ANY at a CNAME owner is the CNAME alone (RFC 8482 minimal ANY, as Knot): the chain is
            // followed for every other type but CNAME itself.
            if zn.flags & ZoneNode.hasCNAME != 0 && qtype != RRType.cname.rawValue && qtype != RRType.any.rawValue {
                guard let cname = zone.rrset(at: node, type: RRType.cname.rawValue) else { return .servFail }
                // A loop: every CNAME of it is in the answer already; stop (as Knot does).
                for k in 0..<hops where visited[k] == node { return .noError }
                let start = w.position
                guard w.answer(zone, cname, ownerPos: ownerPos, ownerLen: ownerLen) else {
                    w.truncated = true
                    return .noError
                }
                visited[hops] = node
                hops += 1
                // Chain limit: answer with what was found.
                if hops >= min(configuration.maxCNAMEChain, 64) { return .noError }
                // Continue with the target if it is inside this zone.
                let t = zone.targetPointer + Int(cname.targetOffset)
                let tLen = Int(cname.targetLength)
                guard tLen >= zone.originLength else { return .noError }
                var inZone = true
                let off = tLen - zone.originLength
                let originWire = zone.origin.wire
                for k in 0..<zone.originLength where t[off + k] != originWire[k] { inZone = false }
                guard inZone else { return .noError }
                // Load the target as the current name; the origin must start on a label boundary.
                var i = 0, labels = 0, originLabel = -1
                while true {
                    labelStarts[labels] = i
                    if i == off { originLabel = labels }
                    let len = Int(t[i])
                    if len == 0 { break }
                    labels += 1
                    i += 1 + len
                }
                guard originLabel >= 0 else { return .noError }
                name.update(from: t, count: tLen)
                nameLen = tLen

                apexLabel = originLabel
                ownerPos = start + 12  // the CNAME's RDATA: 2 owner + 2 type + 2 class + 4 TTL + 2 rdlength
                ownerLen = tLen
                continue
            }
            if qtype == RRType.any.rawValue {
                let range = zone.rrsetIndices(at: node)
                if range.isEmpty {
                    _ = w.authority(zone, zone.negativeSOA, ownerPos: ownerPos, ownerLen: ownerLen,
                                    ownerSuffix: zone.originLength)
                    return .noError
                }
                // RFC 8482 §4.1: one RRset (the lowest type), over UDP and TCP alike, as Knot does.
                guard w.answer(zone, zone.rrset(index: range.lowerBound), ownerPos: ownerPos, ownerLen: ownerLen) else {
                    w.truncated = true
                    return .noError
                }
                return .noError
            }
            if let set = zone.rrset(at: node, type: qtype) {
                let start = w.position
                guard w.answer(zone, set, ownerPos: ownerPos, ownerLen: ownerLen) else {
                    w.truncated = true
                    return .noError
                }
                if set.additionalCount > 0 { _ = w.additionals(zone, set, blobStartInPacket: start, required: false) }
                return .noError
            }
            // NODATA (including empty non-terminals).
            if !w.authority(zone, zone.negativeSOA, ownerPos: ownerPos, ownerLen: ownerLen,
                            ownerSuffix: zone.originLength) {
                w.truncated = true
            }
            return .noError
        }
    }

    /// A global name: the plan's policy picks among the candidates of the asked family (A, AAAA;
    /// ANY: A when the name has IPv4 candidates, else AAAA) and the picked records are copied. No
    /// candidate of the family, or nothing picked (FailClosed), is NODATA with the zone's SOA —
    /// never NXDOMAIN. The reply's ECS scope is the decision's (RFC 7871 §7.2.1).
    private func answerGlobal(_ zone: Zone, _ shard: GlobalShard, _ index: Int, _ g: GlobalNameTable.Rendered,
                              _ query: inout Query, source: IPAddress, ownerPos: Int, ownerLen: Int,
                              writer w: inout Writer) -> Rcode {
        let qtype = query.qtype
        let plan = shard.plans[index]
        outcome.policy = plan.policyIndex
        var v4: Bool
        if qtype == RRType.a.rawValue {
            v4 = true
        } else if qtype == RRType.aaaa.rawValue {
            v4 = false
        } else if qtype == RRType.any.rawValue {
            v4 = g.v4Count > 0
        } else {
            return noData(zone, ownerPos: ownerPos, ownerLen: ownerLen, writer: &w)
        }
        let count = v4 ? Int(g.v4Count) : Int(g.v6Count)
        guard count > 0 else { return noData(zone, ownerPos: ownerPos, ownerLen: ownerLen, writer: &w) }
        let decision = pick(plan, v4: v4, query, source: source)
        if query.hasClientSubnet { query.ecsScope = decision.ecsScopePrefixLength }
        guard decision.answerCount > 0 else { return noData(zone, ownerPos: ownerPos, ownerLen: ownerLen, writer: &w) }

        let size = v4 ? GlobalNameTable.ipv4RecordSize : GlobalNameTable.ipv6RecordSize
        let records = shard.table.blobPointer + (v4 ? Int(g.v4Offset) : Int(g.v6Offset))
        // Whole RRset or nothing: what does not fit truncates (the client retries over TCP).
        guard decision.answerCount * size <= w.remaining else {
            w.truncated = true
            return .noError
        }
        let before = w.answerCount
        for k in 0..<decision.answerCount {
            let i = Int(picks[k])
            guard i >= 0, i < count else { continue }
            _ = w.records(records + i * size, count: 1, size: size, ownerPos: ownerPos)
        }
        // Never an empty NOERROR without SOA: the plan and the table render the same addresses, but
        // if nothing picked had a record, say NODATA properly.
        if w.answerCount == before { return noData(zone, ownerPos: ownerPos, ownerLen: ownerLen, writer: &w) }
        return .noError
    }

    /// Runs the plan's policy for the family, leaving the chosen indices in `picks`.
    @inline(__always)
    private func pick(_ plan: NamePlan, v4: Bool, _ query: Query, source: IPAddress) -> PolicyDecision {
        rotation &+= 1
        let client = plan.usesClient ? clientContext(query, source: source) : QueryResponder.anonymous
        return plan.policy.pick(from: v4 ? plan.ipv4 : plan.ipv6, client: client, rotation: rotation,
                                random: &random, into: picks, scratch: pickScratch)
    }

    /// The Locality policy's view of the client: ECS when the query carries it with a source
    /// prefix > 0, else the packet's source.
    private func clientContext(_ query: Query, source: IPAddress) -> ClientContext {
        var ecs: IPAddress?
        if query.hasClientSubnet && query.ecsSourcePrefix > 0 {
            ecs = query.ecsFamily == 1
                ? .v4(IPv4Address(value: UInt32(truncatingIfNeeded: query.ecsAddress.0 >> 32)))
                : .v6(IPv6Address(high: query.ecsAddress.0, low: query.ecsAddress.1))
        }
        return state.clients.client(packetSource: source, ecsAddress: ecs, ecsSourcePrefix: query.ecsSourcePrefix)
    }

    /// What RoundRobin and Ratio are handed: they do not look at the client.
    static let anonymous = ClientContext(address: .v4(IPv4Address(value: 0)), source: .packetSource, locality: nil,
                                         localitySource: .none, localityScopePrefixLength: 0)

    private func noData(_ zone: Zone, ownerPos: Int, ownerLen: Int, writer w: inout Writer) -> Rcode {
        if !w.authority(zone, zone.negativeSOA, ownerPos: ownerPos, ownerLen: ownerLen, ownerSuffix: zone.originLength) {
            w.truncated = true
        }
        return .noError
    }

    /// Class CH:
    /// - `id.server.` / `hostname.bind.` TXT → the identity, AA clear (as Knot: CH is no zone we are
    ///   an authority for); any other type at these names is REFUSED (as Knot, ANY included);
    /// - a global name, TXT or ANY → the explain answer: what the policy decides for this client, one TXT
    ///   record per address family the name has candidates of, for clients in the explain
    ///   allow-list (checked against the packet's source, never the ECS address a client claims);
    /// - anything else, or a client not allowed: REFUSED.
    private func answerChaos(_ query: inout Query, source: IPAddress, _ w: inout Writer, _ flags: inout UInt16) -> Rcode {
        guard query.qtype == RRType.txt.rawValue || query.qtype == RRType.any.rawValue else { return .refused }
        if isName(QueryResponder.idServer, query) || isName(QueryResponder.hostnameBind, query) {
            guard !identityBytes.isEmpty, query.qtype == RRType.txt.rawValue else { return .refused }
            _ = writeChaosTXT(identityBytes, &w)
            return .noError
        }
        return explain(&query, source: source, &w, &flags)
    }

    /// The explain answer (allocates: it is a debugging query, not the serving path).
    private func explain(_ query: inout Query, source: IPAddress, _ w: inout Writer, _ flags: inout UInt16) -> Rcode {
        let globals = state.globals
        let shard = globals.shards[globals.shardIndex(UnsafePointer(name), query.qnameLength)]
        let index = shard.table.find(UnsafePointer(name), query.qnameLength)
        guard index >= 0, index < shard.plans.count else { return .refused }
        guard state.explainAllow.contains(source) else {
            counters.countExplainRefused()
            return .refused
        }
        flags |= 0x0400
        let plan = shard.plans[index]
        let client = clientContext(query, source: source)
        for v4 in [true, false] {
            let candidates = v4 ? plan.ipv4 : plan.ipv6
            guard !candidates.targets.isEmpty else { continue }
            let decision = pick(plan, v4: v4, query, source: source)
            if query.hasClientSubnet { query.ecsScope = decision.ecsScopePrefixLength }
            let strings = decision.explanationStrings(
                family: v4 ? "A" : "AAAA", client: client, candidates: candidates,
                chosen: UnsafeBufferPointer(start: picks.baseAddress, count: decision.answerCount))
            guard writeChaosTXT(strings.map { Array($0.utf8.prefix(255)) }, &w) else { return .noError }
        }
        if w.answerCount == 0 {
            _ = writeChaosTXT(Array("no target has an address".utf8), &w)
        }
        return .noError
    }

    /// One CH TXT record owned by the question name, TTL 0, holding `strings` (each at most 255
    /// bytes); false (and TC) when it does not fit.
    private func writeChaosTXT(_ strings: [[UInt8]], _ w: inout Writer) -> Bool {
        let rdlen = strings.reduce(0) { $0 + 1 + $1.count }
        guard beginChaosTXT(rdlength: rdlen, &w) else { return false }
        for s in strings {
            w.u8(UInt8(s.count))
            w.bytes(s)
        }
        return true
    }

    /// The same with one string, without building an array (the CH identity answer is on the
    /// allocation-free path).
    private func writeChaosTXT(_ string: [UInt8], _ w: inout Writer) -> Bool {
        guard beginChaosTXT(rdlength: string.count + 1, &w) else { return false }
        w.u8(UInt8(string.count))
        w.bytes(string)
        return true
    }

    /// Writes a CH TXT record's fixed part and counts it; false (and TC) when `rdlength` bytes of
    /// RDATA would not fit.
    private func beginChaosTXT(rdlength: Int, _ w: inout Writer) -> Bool {
        guard rdlength <= 65535, w.remaining >= 12 + rdlength else {
            w.truncated = true
            return false
        }
        w.u16(0xC00C)
        w.u16(RRType.txt.rawValue)
        w.u16(RRClass.ch.rawValue)
        w.u32(0)
        w.u16(UInt16(rdlength))
        w.answerCount += 1
        return true
    }

    /// Whether the (lowercased) question name is `wire`.
    @inline(__always)
    private func isName(_ wire: [UInt8], _ query: Query) -> Bool {
        guard wire.count == query.qnameLength else { return false }
        return wire.withUnsafeBufferPointer { w in
            for i in 0..<w.count where w[i] != name[i] { return false }
            return true
        }
    }

    static let idServer: [UInt8] = DNSName("id.server.").lowercased().wire
    static let hostnameBind: [UInt8] = DNSName("hostname.bind.").lowercased().wire

    // MARK: - end

    private func optLength(_ query: Query) -> Int {
        guard query.hasEDNS else { return 0 }
        var n = 11
        if query.wantsNSID && !identityBytes.isEmpty { n += 4 + identityBytes.count }
        if query.hasClientSubnet { n += 8 + (Int(query.ecsSourcePrefix) + 7) / 8 }
        return n
    }

    private func finish(_ query: Query, flags: UInt16, rcode: Rcode, writer w: inout Writer, optSize: Int) -> Int {
        var f = flags
        if w.truncated { f |= 0x0200 }
        outcome.truncated = w.truncated
        outcome.rcode = rcode
        f |= rcode.rawValue & 0xF
        w.limit += optSize
        if query.hasEDNS { writeOPT(query, rcode: rcode, &w) }
        let o = w.base
        o[2] = UInt8(f >> 8)
        o[3] = UInt8(f & 0xFF)
        o[6] = UInt8(w.answerCount >> 8); o[7] = UInt8(w.answerCount & 0xFF)
        o[8] = UInt8(w.authorityCount >> 8); o[9] = UInt8(w.authorityCount & 0xFF)
        o[10] = UInt8(w.additionalCount >> 8); o[11] = UInt8(w.additionalCount & 0xFF)
        return w.position
    }

    private func writeOPT(_ query: Query, rcode: Rcode, _ w: inout Writer) {
        w.u8(0)
        w.u16(RRType.opt.rawValue)
        w.u16(UInt16(max(512, min(configuration.maxUDPPayload, 65535))))
        w.u8(UInt8((rcode.rawValue >> 4) & 0xFF))
        w.u8(0)  // version 0
        w.u16(query.dnssecOK ? 0x8000 : 0)
        let rdlenAt = w.position
        w.u16(0)
        let start = w.position
        if query.wantsNSID && !identityBytes.isEmpty {
            w.u16(EDNSOptionCode.nsid)
            w.u16(UInt16(identityBytes.count))
            w.bytes(identityBytes)
        }
        if query.hasClientSubnet {
            let n = (Int(query.ecsSourcePrefix) + 7) / 8
            w.u16(EDNSOptionCode.clientSubnet)
            w.u16(UInt16(4 + n))
            w.u16(query.ecsFamily)
            w.u8(query.ecsSourcePrefix)
            w.u8(query.ecsScope)
            for k in 0..<n {
                let word = k < 8 ? query.ecsAddress.0 : query.ecsAddress.1
                w.u8(UInt8((word >> UInt64(56 - 8 * (k % 8))) & 0xFF))
            }
        }
        let len = w.position - start
        w.base[rdlenAt] = UInt8(len >> 8)
        w.base[rdlenAt + 1] = UInt8(len & 0xFF)
        w.additionalCount += 1
    }

    /// A reply with no records: FORMERR, NOTIMP, BADVERS. The question is echoed when it parsed.
    private func finishError(_ q: UnsafeBufferPointer<UInt8>, _ query: Query, rcode: Rcode, writer w: inout Writer) -> Int {
        guard w.limit >= 12 + query.questionLength else { return 0 }
        w.base[0] = UInt8(query.id >> 8)
        w.base[1] = UInt8(query.id & 0xFF)
        w.base[4] = 0
        w.base[5] = query.questionLength > 0 ? 1 : 0
        w.position = 12
        if query.questionLength > 0 {
            for k in 0..<query.questionLength { w.base[12 + k] = q[12 + k] }
            w.position = 12 + query.questionLength
        }
        let flags: UInt16 = 0x8000 | (query.flags & 0x7900)  // QR, opcode, RD; CD cleared as above
        // EDNS in the reply only when the OPT itself was understood (BADVERS must carry it).
        var q = query
        if rcode != .badVers { q.hasEDNS = false }
        q.wantsNSID = false
        q.hasClientSubnet = q.hasClientSubnet && rcode == .badVers
        return finish(q, flags: flags, rcode: rcode, writer: &w, optSize: 0)
    }

    // MARK: - query log

    /// The draw threshold for a sample rate: 0 for 0 (never draw), `.max` for 1 and above.
    static func sampleThreshold(rate: Double) -> UInt64 {
        guard rate > 0 else { return 0 }
        let t = rate * 18_446_744_073_709_551_616.0  // 2^64
        return t >= 18_446_744_073_709_549_568.0 ? .max : UInt64(t)  // the largest Double below 2^64
    }

    /// Logs one sampled query at info level (allocates: only sampled queries get here).
    @inline(never)
    private func logQuery(_ packet: UnsafeRawBufferPointer, _ query: Query, transport: Transport, source: IPAddress,
                          reply: UnsafeMutableRawBufferPointer, length n: Int) {
        guard let logger = queryLogger else { return }
        var qname = "-"
        if query.questionLength > 0 {
            // The question as the client sent it (parsed and bounded by begin: no compression).
            qname = DNSName(trustedWire: Array(packet[12 ..< 12 + query.qnameLength])).description
        }
        let answers = n >= 12 ? Int(reply[6]) << 8 | Int(reply[7]) : 0
        var metadata: Logger.Metadata = [
            "client": "\(source)",
            "protocol": "\(ResponderStats.transports[transport.index])",
            "qname": "\(qname)",
            "qtype": "\(RRType(query.qtype))",
            "rcode": "\(outcome.rcode.map(\.description) ?? "dropped")",
            "answers": "\(answers)",
            "policy": "\(outcome.policy >= 0 ? ResponderStats.policies[outcome.policy] : "-")",
            "size": "\(n)",
        ]
        if query.qclass != RRClass.in.rawValue && query.questionLength > 0 {
            metadata["qclass"] = "\(RRClass(query.qclass))"
        }
        if query.hasClientSubnet {
            let address: IPAddress = query.ecsFamily == 1
                ? .v4(IPv4Address(value: UInt32(truncatingIfNeeded: query.ecsAddress.0 >> 32)))
                : .v6(IPv6Address(high: query.ecsAddress.0, low: query.ecsAddress.1))
            metadata["ecs"] = "\(address)/\(query.ecsSourcePrefix)/\(query.ecsScope)"
        }
        logger.info("query", metadata: metadata)
    }
}

@testable import DNSServer
import DNSWire
import DNSZone
import Foundation
import GSLB
import Logging
import Testing

/// The responder's per-query counters and its sampled query log.
@Suite struct ResponderStatsTests {
    typealias S = ResponderStats

    static func index(_ labels: [String], _ label: String) throws -> Int {
        try #require(labels.firstIndex(of: label), "no label \(label)")
    }

    static func count(_ s: ResponderStats, _ transport: String, _ qtype: String, _ rcode: String) throws -> UInt64 {
        s.queries(transport: try index(S.transports, transport), qtype: try index(S.qtypes, qtype),
                  rcode: try index(S.rcodes, rcode))
    }

    /// Every (transport, qtype, rcode) with a nonzero count, as "udp A NOERROR" → count.
    static func nonzero(_ s: ResponderStats) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (t, tn) in S.transports.enumerated() {
            for (q, qn) in S.qtypes.enumerated() {
                for (r, rn) in S.rcodes.enumerated() where s.queries(transport: t, qtype: q, rcode: r) > 0 {
                    out["\(tn) \(qn) \(rn)"] = s.queries(transport: t, qtype: q, rcode: r)
                }
            }
        }
        return out
    }

    @Test func qtypeIndicesFollowTheLabelNames() throws {
        for (i, name) in S.qtypes.enumerated() where name != "other" {
            let type = try #require(RRType(mnemonic: name))
            #expect(S.qtypeIndex(type.rawValue) == i, "\(name)")
        }
        for other: UInt16 in [0, 3, 43, 46, 99, 252, 256, 65535] {
            #expect(S.qtypeIndex(other) == S.qtypes.count - 1)
        }
        #expect(S.rcodes[S.rcodeIndex(.nxDomain)] == "NXDOMAIN")
        #expect(S.rcodes[S.rcodeIndex(.refused)] == "REFUSED")
        #expect(S.rcodes[S.rcodeIndex(.badVers)] == "other")
        #expect(S.rcodes[S.rcodeIndex(.notAuth)] == "other")
        for code: UInt16 in 0...5 { #expect(S.rcodes[S.rcodeIndex(Rcode(code))] == Rcode(code).description) }
    }

    @Test func sizeBucketsFollowTheBounds() {
        for (i, bound) in S.responseSizeBounds.enumerated() {
            #expect(S.sizeBucket(bound) == i, "\(bound)")
            #expect(S.sizeBucket(bound + 1) == i + 1, "\(bound + 1)")
        }
        #expect(S.sizeBucket(12) == 0)
        #expect(S().responseSizes(transport: 0).count == S.responseSizeBounds.count + 1)
        #expect(S().queries.count == S.transports.count * S.qtypes.count * S.rcodes.count)
    }

    @Test func countsEachQueryByTransportQtypeAndRcode() throws {
        let r = try ServerZone.responder()
        var notify = DNSMessage.query("www.example.com.", .a).encode()
        notify[2] |= 4 << 3  // opcode NOTIFY
        var response = DNSMessage.query("www.example.com.", .a).encode()
        response[2] |= 0x80
        let sent: [([UInt8], Transport)] = [
            (DNSMessage.query("www.example.com.", .a).encode(), .udp),
            (DNSMessage.query("www.example.com.", .a).encode(), .udp),
            (DNSMessage.query("nope.example.com.", .aaaa).encode(), .udp),
            (DNSMessage.query("example.com.", .mx).encode(), .tcp),
            (DNSMessage.query("www.example.org.", .txt).encode(), .udp),
            (DNSMessage.query("big.example.com.", .a).encode(), .udp),
            (Array(DNSMessage.query("www.example.com.", .a).encode().dropLast()), .tcp),
            (notify, .udp),
            (response, .udp),
            ([0x12, 0x34], .udp),
        ]
        var lengths: [Transport: [Int]] = [:]
        for (packet, transport) in sent {
            let n = r.respond(to: packet, transport: transport)?.count ?? 0
            if n > 0 { lengths[transport, default: []].append(n) }
        }
        let s = r.stats
        #expect(Self.nonzero(s) == [
            "udp A NOERROR": 3,        // www twice, big (truncated)
            "udp AAAA NXDOMAIN": 1,
            "tcp MX NOERROR": 1,
            "udp TXT REFUSED": 1,
            "tcp other FORMERR": 1,    // the question is cut short, so its type is unknown
            "udp A NOTIMP": 1,
            "udp other dropped": 2,    // a response, and a packet shorter than a header
        ])
        #expect(s.totalQueries == UInt64(sent.count))
        #expect(s.dropped == 2)
        #expect(s.truncated == [1, 0])
        #expect(s.answers == [5, 0, 0, 0], "www twice, nope, MX and big are answered from the zone")
        for transport in [Transport.udp, .tcp] {
            let sizes = lengths[transport] ?? []
            var buckets = Array(repeating: UInt64(0), count: S.responseSizeBounds.count + 1)
            for n in sizes { buckets[S.sizeBucket(n)] += 1 }
            #expect(Array(s.responseSizes(transport: transport.index)) == buckets)
            #expect(s.responseBytes[transport.index] == UInt64(sizes.reduce(0, +)))
        }
    }

    @Test func countsAnswersByPolicy() throws {
        let r = try GSLBAnsweringTests.responder()
        for name: DNSName in ["rr.example.com.", "capped.example.com.", "canary.example.com.", "geo.example.com.", "www.example.com."] {
            _ = try r.ask(.query(name, .a))
        }
        _ = try r.ask(.query("rr.example.com.", .aaaa))  // NODATA from a RoundRobin name still counts
        #expect(r.stats.answers == [1, 3, 1, 1])
        #expect(try Self.count(r.stats, "udp", "A", "NOERROR") == 5)
    }

    @Test func nothingIsCountedWhenCountingIsOff() throws {
        let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: [try ServerZone.zone()]), generation: 1))
        let r = QueryResponder(holder: holder, configuration: ResponderConfiguration(countsQueries: false))
        _ = try r.ask(.query("www.example.com.", .a))
        _ = r.respond(to: [0, 1, 2], transport: .tcp)
        #expect(r.stats == ResponderStats())
    }

    @Test func statsAddUp() throws {
        let a = try ServerZone.responder(), b = try ServerZone.responder()
        _ = try a.ask(.query("www.example.com.", .a))
        _ = try b.ask(.query("www.example.com.", .a))
        _ = try b.ask(.query("nope.example.com.", .a), transport: .tcp)
        var total = a.stats
        total += b.stats
        #expect(Self.nonzero(total) == ["udp A NOERROR": 2, "tcp A NXDOMAIN": 1])
        #expect(total.answers[0] == 3)
        #expect(total.responseBytes[0] == a.stats.responseBytes[0] + b.stats.responseBytes[0])
    }

    // MARK: query log

    @Test func sampleThresholds() {
        #expect(QueryResponder.sampleThreshold(rate: 0) == 0)
        #expect(QueryResponder.sampleThreshold(rate: -1) == 0)
        #expect(QueryResponder.sampleThreshold(rate: 1) == .max)
        #expect(QueryResponder.sampleThreshold(rate: 0.999_999_999_999_999_9) == .max)
        #expect(QueryResponder.sampleThreshold(rate: 0.5) == 1 << 63)
    }

    static func logged(rate: Double, _ body: (QueryResponder) throws -> Void) throws -> [CapturedLog.Entry] {
        let log = CapturedLog()
        let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: [try ServerZone.zone()]), generation: 1))
        let r = QueryResponder(holder: holder, configuration: ResponderConfiguration(queryLogSampleRate: rate),
                               queryLogger: Logger(label: "test") { _ in CapturingLogHandler(log: log) })
        try body(r)
        return log.entries
    }

    @Test func rateOneLogsEveryQueryWithItsOutcome() throws {
        let ecs = EDNS(options: [EDNSOption(code: EDNSOptionCode.clientSubnet,
                                            data: ClientSubnet(address: IPAddress("10.1.2.0")!, sourcePrefix: 24).optionData)])
        let entries = try Self.logged(rate: 1) { r in
            _ = r.respond(to: DNSMessage.query("WWW.example.com.", .a, edns: ecs).encode(), transport: .tcp,
                          source: .v4(IPv4Address(192, 0, 2, 7)))
            _ = r.respond(to: DNSMessage.query("nope.example.com.", .aaaa).encode())
            _ = r.respond(to: [1, 2, 3])
        }
        #expect(entries.count == 3)
        let first = try #require(entries.first)
        #expect(first.level == .info && first.message == "query")
        #expect(first.metadata == ["client": "192.0.2.7", "protocol": "tcp", "qname": "WWW.example.com.", "qtype": "A",
                                   "rcode": "NOERROR", "answers": "2", "policy": "static", "size": "\(first.metadata["size"] ?? "?")",
                                   "ecs": "10.1.2.0/24/0"])
        #expect(Int(first.metadata["size"] ?? "") ?? 0 > 12)
        #expect(entries[1].metadata["rcode"] == "NXDOMAIN" && entries[1].metadata["answers"] == "0")
        #expect(entries[1].metadata["ecs"] == nil)
        #expect(entries[2].metadata["rcode"] == "dropped" && entries[2].metadata["qname"] == "-")
    }

    @Test func rateZeroLogsNothingAndAHalfAboutHalf() throws {
        let query = DNSMessage.query("www.example.com.", .a).encode()
        #expect(try Self.logged(rate: 0) { r in for _ in 0..<100 { _ = r.respond(to: query) } }.isEmpty)
        let half = try Self.logged(rate: 0.5) { r in for _ in 0..<4000 { _ = r.respond(to: query) } }
        // Binomial(4000, 0.5): sigma about 32; 200 is over six sigma.
        #expect(abs(half.count - 2000) < 200, "\(half.count) of 4000 logged")
    }
}

/// Log entries kept in memory.
final class CapturedLog: @unchecked Sendable {
    struct Entry {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lock = NSLock()
    private var stored: [Entry] = []

    var entries: [Entry] { lock.withLock { stored } }

    func append(_ e: Entry) { lock.withLock { stored.append(e) } }
}

struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        log.append(.init(level: event.level, message: event.message.description, metadata: all.mapValues { "\($0)" }))
    }
}

import Foundation
import Testing

/// `/metrics` and the query log of the real server: queries of known type and outcome sent with
/// dig and raw sockets over UDP and TCP, then the exposition scraped over HTTP and parsed.
extension IntegrationSuite {
    @Suite("Metrics and query log") struct Metrics {
        static let roundRobin = """
            apiVersion: globaldns.io/v1alpha1
            kind: NameService
            metadata: {name: metrics-rr}
            spec:
              fqdn: metrics-rr.g.example.com
              policy: RoundRobin
              targets:
              - {name: a, addresses: [192.0.2.41]}
              - {name: b, addresses: [192.0.2.42]}

            """

        static func scrape(_ server: RunningServer) throws -> Exposition {
            let r = try httpRequest(port: server.apiPort, method: "GET", path: "/metrics")
            guard r.status == 200 else { throw HarnessError("GET /metrics: \(r.status) \(r.body)") }
            #expect(r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            return try Exposition(parsing: r.body)
        }

        /// Polls dig until `name` answers with `count` addresses (bounded).
        static func waitForAnswers(_ server: RunningServer, _ name: String, count: Int) async throws {
            for _ in 0..<100 {
                let m = try await server.querier.query(name, "A")
                if m.answer.count == count { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw HarnessError("\(name) did not answer with \(count) addresses\n\(server.log)")
        }

        @Test("after UDP and TCP queries of known qtype and rcode, /metrics counts each exactly; the size histogram counts every reply")
        func countsAfterQueries() async throws {
            try await withGlobalDNS { server in
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/metrics-rr", yaml: Self.roundRobin) == 201)
                try await Self.waitForAnswers(server, "metrics-rr.g.example.com", count: 2)
                let before = try Self.scrape(server)

                let q = server.querier
                for _ in 0..<3 { #expect(try await q.query("www.g.example.com", "A").status == "NOERROR") }
                for _ in 0..<2 { #expect(try await q.query("nope.g.example.com", "AAAA").status == "NXDOMAIN") }
                #expect(try await q.query("www.example.org", "TXT").status == "REFUSED")
                #expect(try await q.query("g.example.com", "MX").status == "NOERROR")
                // The big TXT RRset does not fit 512 bytes: TC, and +ignore keeps dig from retrying.
                let big = try await q.query("big.g.example.com", "TXT", ["+bufsize=512", "+ignore"])
                #expect(big.tc)
                for _ in 0..<2 { #expect(try await q.query("metrics-rr.g.example.com", "A").answer.count == 2) }
                for _ in 0..<2 { #expect(try await q.query("www.g.example.com", "A", transport: .tcp).status == "NOERROR") }
                #expect(try await q.query("nope.g.example.com", "TXT", transport: .tcp).status == "NXDOMAIN")
                // Two questions in one query: FORMERR over UDP and TCP; three bytes: dropped.
                var twoQuestions = WireQuery.make(id: 0x4d31, name: "www.g.example.com.", type: 1)
                twoQuestions[5] = 2
                let udpReply = try #require(try udpExchange(port: server.address.port, twoQuestions))
                #expect(udpReply[3] & 0x0F == 1, "FORMERR over UDP")
                let tcp = try RawTCPClient(port: server.address.port)
                try tcp.send(WireQuery.framed(twoQuestions))
                let tcpReply = try #require(try tcp.readMessages(1, timeout: .seconds(5)).first)
                #expect(tcpReply[3] & 0x0F == 1, "FORMERR over TCP")
                tcp.close()
                #expect(try udpExchange(port: server.address.port, [1, 2, 3], timeout: .milliseconds(300)) == nil)

                let after = try Self.scrape(server)
                func delta(_ name: String, _ labels: [String: String] = [:]) -> Double {
                    (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0)
                }
                func queries(_ p: String, _ t: String, _ r: String) -> Double {
                    delta("globaldns_dns_queries_total", ["protocol": p, "qtype": t, "rcode": r])
                }
                #expect(after.types["globaldns_dns_queries_total"] == "counter")
                #expect(queries("udp", "A", "NOERROR") == 5, "www x3, metrics-rr x2")
                #expect(queries("udp", "AAAA", "NXDOMAIN") == 2)
                #expect(queries("udp", "TXT", "REFUSED") == 1)
                #expect(queries("udp", "MX", "NOERROR") == 1)
                #expect(queries("udp", "TXT", "NOERROR") == 1)
                #expect(queries("udp", "other", "FORMERR") == 1)
                #expect(queries("udp", "other", "dropped") == 1)
                #expect(queries("tcp", "A", "NOERROR") == 2)
                #expect(queries("tcp", "TXT", "NXDOMAIN") == 1)
                #expect(queries("tcp", "other", "FORMERR") == 1)
                let all = after.sum("globaldns_dns_queries_total") - before.sum("globaldns_dns_queries_total")
                #expect(all == 16, "no query counted that was not sent: \(all)")
                #expect(delta("globaldns_dns_answers_total", ["policy": "static"]) == 10)
                #expect(delta("globaldns_dns_answers_total", ["policy": "RoundRobin"]) == 2)
                #expect(delta("globaldns_dns_truncated_total", ["protocol": "udp"]) == 1)

                // The reply-size histogram counts every reply sent, per protocol: its _count equals
                // the answered queries (everything but dropped), in this scrape and in the deltas.
                let size = "globaldns_dns_response_size_bytes"
                #expect(after.types[size] == "histogram")
                for p in ["udp", "tcp"] {
                    let answered = after.sum("globaldns_dns_queries_total") { $0["protocol"] == p && $0["rcode"] != "dropped" }
                    #expect(after.value("\(size)_count", ["protocol": p]) == answered, "\(p)")
                    #expect(after.value("\(size)_bucket", ["protocol": p, "le": "+Inf"]) == answered, "\(p)")
                }
                #expect(delta("\(size)_count", ["protocol": "udp"]) == 11)
                #expect(delta("\(size)_count", ["protocol": "tcp"]) == 4)
                #expect(delta("\(size)_bucket", ["protocol": "udp", "le": "512"]) == 11, "UDP replies fit 512 bytes")

                // The control plane, the store, the probes and the build.
                #expect(after.value("globaldns_build_info", ["version": after.labels("globaldns_build_info").first?["version"] ?? "",
                                                             "swift": after.labels("globaldns_build_info").first?["swift"] ?? ""]) == 1)
                #expect((after.value("globaldns_plan_generation") ?? 0) >= 2)
                #expect(after.value("globaldns_plan_names") == 1)
                #expect(after.value("globaldns_reconcile_queue_depth") == 0)
                #expect((after.value("globaldns_plan_compile_duration_seconds_count") ?? 0) >= 1)
                #expect(after.types["globaldns_plan_compile_duration_seconds"] == "histogram")
                #expect((after.value("globaldns_store_operation_duration_seconds_count", ["operation": "put"]) ?? 0) >= 1)
                #expect((after.value("globaldns_store_operation_duration_seconds_count", ["operation": "list_page"]) ?? 0) >= 1)
                #expect((after.value("globaldns_store_operation_duration_seconds_count", ["operation": "update_statuses"]) ?? 0) >= 1)
                #expect(after.value("globaldns_probes_total", ["result": "success"]) != nil)
                #expect(after.value("globaldns_probe_duration_seconds_count") != nil)
                #expect(after.value("globaldns_targets", ["state": "down"]) == 0)
            }
        }

        @Test("metrics.enabled: false answers 404 at /metrics and the server still answers")
        func disabled() async throws {
            var options = try GlobalDNSOptions()
            options.extraConfig = "metrics:\n  enabled: false\n"
            try await withGlobalDNS(options) { server in
                let r = try httpRequest(port: server.apiPort, method: "GET", path: "/metrics")
                #expect(r.status == 404)
                #expect(r.body.contains("metrics.enabled"))
                #expect(try await server.querier.query("www.g.example.com", "A").status == "NOERROR")
            }
        }

        @Test("queryLog.sampleRate 1 logs each query with client, protocol, qname, qtype, rcode, answers, policy, size and ECS")
        func queryLog() async throws {
            var options = try GlobalDNSOptions()
            options.extraConfig = """
                queryLog:
                  sampleRate: 1
                localities:
                  - {cidr: 10.30.0.0/16, locality: eu-central/eu-central-1a}

                """
            try await withGlobalDNS(options) { server in
                let geo = """
                    apiVersion: globaldns.io/v1alpha1
                    kind: NameService
                    metadata: {name: geo}
                    spec:
                      fqdn: geo.g.example.com
                      policy: Locality
                      targets:
                      - {name: eu, addresses: [192.0.2.30], locality: eu-central/eu-central-1a}
                      - {name: us, addresses: [192.0.2.20], locality: us-east/us-east-1a}

                    """
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/geo", yaml: geo) == 201)
                try await Self.waitForAnswers(server, "geo.g.example.com", count: 2)
                let m = try await server.querier.query("Geo.g.example.com", "A", ["+subnet=10.30.0.0/24"], transport: .tcp)
                #expect(m.answer.map(\.rdata) == ["192.0.2.30"])
                var line: Substring?
                for _ in 0..<50 {
                    line = server.log.split(separator: "\n").last { $0.contains("msg=query") && $0.contains("qname=Geo.g.example.com.") }
                    if line != nil { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                let logged = try #require(line, "no query log line for Geo.g.example.com.\n\(server.log)")
                for field in ["level=info", "client=127.0.0.1", "protocol=tcp", "qtype=A", "rcode=NOERROR", "answers=1",
                              "policy=Locality", "ecs=10.30.0.0/24/16"] {
                    #expect(logged.contains(field), "\(field) missing in: \(logged)")
                }
                #expect(logged.contains(" size="))
                print("query log line: \(logged)")
            }
        }
    }
}

/// A Prometheus text exposition (format 0.0.4), parsed strictly: every sample line must parse, and
/// every sample must belong to a family with a `# TYPE` line.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    var types: [String: String] = [:]

    init(parsing text: String) throws {
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = Substring(raw)
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4 else { throw HarnessError("bad TYPE line: \(line)") }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            samples.append(try Self.sample(line))
        }
        for s in samples {
            var family = s.name
            for suffix in ["_bucket", "_sum", "_count"] where types[family] == nil && family.hasSuffix(suffix) {
                family = String(family.dropLast(suffix.count))
            }
            guard types[family] != nil else { throw HarnessError("\(s.name) has no # TYPE line") }
        }
    }

    /// `name{a="x",b="y \"q\""} 1.5` (a timestamp after the value is ignored).
    static func sample(_ line: Substring) throws -> Sample {
        var i = line.startIndex
        while i < line.endIndex, line[i] != "{", line[i] != " " { i = line.index(after: i) }
        let name = String(line[..<i])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else {
            throw HarnessError("bad metric name in: \(line)")
        }
        var labels: [String: String] = [:]
        if i < line.endIndex, line[i] == "{" {
            i = line.index(after: i)
            while i < line.endIndex, line[i] != "}" {
                guard let eq = line[i...].firstIndex(of: "=") else { throw HarnessError("bad labels in: \(line)") }
                let key = String(line[i..<eq])
                i = line.index(after: eq)
                guard i < line.endIndex, line[i] == "\"" else { throw HarnessError("unquoted label value in: \(line)") }
                i = line.index(after: i)
                var value = ""
                while i < line.endIndex, line[i] != "\"" {
                    if line[i] == "\\" {
                        i = line.index(after: i)
                        guard i < line.endIndex else { break }
                        value.append(line[i] == "n" ? "\n" : line[i])
                    } else {
                        value.append(line[i])
                    }
                    i = line.index(after: i)
                }
                guard i < line.endIndex else { throw HarnessError("unterminated label value in: \(line)") }
                labels[key] = value
                i = line.index(after: i)
                if i < line.endIndex, line[i] == "," { i = line.index(after: i) }
            }
            guard i < line.endIndex else { throw HarnessError("unterminated labels in: \(line)") }
            i = line.index(after: i)
        }
        let fields = line[i...].split(separator: " ")
        guard let text = fields.first, let value = Double(text == "+Inf" ? "inf" : text == "-Inf" ? "-inf" : String(text)) else {
            throw HarnessError("bad value in: \(line)")
        }
        return Sample(name: name, labels: labels, value: value)
    }

    /// The sample of `name` with exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum over the samples of `name` whose labels pass `filter`.
    func sum(_ name: String, where filter: ([String: String]) -> Bool = { _ in true }) -> Double {
        samples.filter { $0.name == name && filter($0.labels) }.reduce(0) { $0 + $1.value }
    }

    func labels(_ name: String) -> [[String: String]] {
        samples.filter { $0.name == name }.map(\.labels)
    }
}

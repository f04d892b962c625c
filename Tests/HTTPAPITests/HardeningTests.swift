import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GSLB
@testable import HTTPAPI
import Hummingbird
import HummingbirdTesting
import NameServiceStore
import NameServiceStoreTesting
import NIOCore
import Testing

/// Issue 12 through the router: input that used to trap, hostile bodies, future resourceVersions.
@Suite struct HardeningRouterTests {
    /// `Int64(s * 1000)` trapped on these (unauthenticated): each is now a 400 naming the parameter.
    @Test(arguments: ["1e300", "inf", "-inf", "nan", "infinity", "-0", "0", "-1", "86401", "1e20", "abc", "1e-400"])
    func watchTimeoutSecondsOutOfRangeIs400(_ value: String) async throws {
        try await routerApp(makeAPI()).test(.router) { client in
            let r = try await client.execute(uri: "/v1/nameservices?watch=true&timeoutSeconds=\(value)", method: .get)
            #expect(r.status == .badRequest, "\(value)")
            #expect(try decode(APIStatus.self, r).message.contains("timeoutSeconds"))
        }
    }

    /// A `durationSeconds` that is no Int64 is a 400 from the decoder; one that is, but out of
    /// range, a 422 on the field: nothing converts or adds out of range.
    @Test(arguments: [
        (#"{"reason":"r","durationSeconds":1e300}"#, "application/json", 400),
        (#"{"reason":"r","durationSeconds":-1e300}"#, "application/json", 400),
        (#"{"reason":"r","durationSeconds":1e19}"#, "application/json", 400),
        (#"{"reason":"r","durationSeconds":1.5}"#, "application/json", 400),
        ("reason: r\ndurationSeconds: 1e300\n", "application/yaml", 400),
        ("reason: r\ndurationSeconds: .inf\n", "application/yaml", 400),
        ("reason: r\ndurationSeconds: .nan\n", "application/yaml", 400),
        (#"{"reason":"r","durationSeconds":9223372036854775807}"#, "application/json", 422),
        (#"{"reason":"r","until":"9999-12-31T23:59:59Z"}"#, "application/json", 422),
    ])
    func drainDurationsOutOfRange(_ body: String, _ type: String, _ code: Int) async throws {
        let store = InMemoryNameServiceStore()
        _ = try await store.put(NameService.sample("checkout"), ifVersion: nil)
        try await routerApp(makeAPI(store)).test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = type
            let r = try await client.execute(uri: "/v1/nameservices/checkout/targets/t/drain", method: .put, headers: headers,
                                             body: buffer(body))
            #expect(Int(r.status.code) == code, "\(body): \(bodyText(r))")
            if code == 422 {
                #expect(try decode(APIStatus.self, r).details?.causes?.map(\.field).first.map { ["durationSeconds", "until"].contains($0) } == true)
            }
        }
        #expect(try await store.get("checkout")?.drains.isEmpty == true)
    }

    /// RFC 8259 §4: a repeated member is refused wherever it is, named by its path, and nothing is
    /// stored (Go, Python and JavaScript keep the last one, JSONDecoder the first).
    @Test(arguments: [
        (#"{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"checkout"},"spec":{"fqdn":"a.g.example.com","targets":[{"name":"a","addresses":["10.0.0.1"]}]},"spec":{"fqdn":"b.g.example.com","targets":[{"name":"b","addresses":["10.0.0.2"]}]}}"#, "spec"),
        (#"{"kind":"NameService","metadata":{"name":"checkout","labels":{"team":"a","team":"b"}},"spec":{}}"#, "metadata.labels.team"),
        (#"{"kind":"NameService","metadata":{"name":"checkout","na\u006de":"other"},"spec":{}}"#, "metadata.name"),
        (#"{"spec":{"targets":[{"name":"a"},{"name":"b","addresses":[],"name":"c"}]}}"#, "spec.targets[1].name"),
    ])
    func duplicateJSONMembersAre400(_ body: String, _ path: String) async throws {
        let store = InMemoryNameServiceStore()
        try await routerApp(makeAPI(store)).test(.router) { client in
            let r = try await put(client, "checkout", body)
            #expect(r.status == .badRequest)
            let message = try decode(APIStatus.self, r).message
            #expect(message.contains("member \(path) appears more than once"), "\(message)")
        }
        #expect(try await store.list(selector: nil).items.isEmpty)
    }

    @Test func deepJSONIs400() async throws {
        try await routerApp(makeAPI()).test(.router) { client in
            let nested = #"{"metadata":{"name":"checkout","labels":{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}}}"
            let r = try await put(client, "checkout", nested)
            #expect(r.status == .badRequest)
            #expect(try decode(APIStatus.self, r).message.contains("nesting deeper than 64"))
            // half a megabyte of brackets: refused at the 65th, never recursed into
            let flood = try await put(client, "checkout", "{\"a\":" + String(repeating: "[", count: 500_000))
            #expect(flood.status == .badRequest)
            #expect(try decode(APIStatus.self, flood).message.contains("nesting deeper than 64"))
        }
    }

    /// Hostile YAML: aliases expanding exponentially, aliases as mapping keys (the decoder hashes
    /// the expanded tree), an undefined alias, deep nesting. Each is a 400 before Yams builds
    /// anything, so these return at once.
    @Test(arguments: [
        ("anchors", Self.laughs),
        ("anchors", Self.aliasKeys),
        ("anchors", "kind: NameService\nmetadata: &m {name: checkout}\n"),
        ("aliases", "kind: NameService\nmetadata: *nothing\n"),
        ("nesting deeper than 64", "metadata:\n  labels:\n    a: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "\n"),
    ])
    func hostileYAMLIs400(_ fragment: String, _ body: String) async throws {
        let store = InMemoryNameServiceStore()
        try await routerApp(makeAPI(store)).test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = "application/yaml"
            let r = try await put(client, "checkout", body, headers: headers)
            #expect(r.status == .badRequest)
            let message = try decode(APIStatus.self, r).message
            #expect(message.contains(fragment), "\(message)")
        }
        #expect(try await store.list(selector: nil).items.isEmpty)
    }

    /// `*` and `&` inside scalars are text, not aliases: a drain reason with both is read.
    @Test func starsAndAmpersandsInYAMLScalarsAreText() async throws {
        let store = InMemoryNameServiceStore()
        _ = try await store.put(NameService.sample("checkout"), ifVersion: nil)
        try await routerApp(makeAPI(store)).test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = "application/yaml"
            let r = try await client.execute(uri: "/v1/nameservices/checkout/targets/t/drain", method: .put, headers: headers,
                                             body: buffer("reason: R&D *maintenance* & more # a comment with *x and &y\n"))
            #expect(r.status == .ok, "\(bodyText(r))")
        }
        #expect(try await store.get("checkout")?.drains.first?.reason == "R&D *maintenance* & more")
        // and the YAML NameService of the docs still goes in
        try await routerApp(makeAPI(store)).test(.router) { client in
            var headers = authHeaders
            headers[.contentType] = "application/yaml"
            let r = try await put(client, "checkout", checkoutYAML, headers: headers)
            #expect(r.status == .ok, "\(bodyText(r))")
        }
    }

    /// A watch from a revision the store has not reached: 504 `ResourceVersionTooLarge` with a
    /// retry hint, as Kubernetes answers, after a short wait for the revision.
    @Test func watchFromAFutureResourceVersionIs504() async throws {
        let store = CountingStore()
        _ = try await store.put(NameService.sample("a"), ifVersion: nil)
        let current = try await store.revision()
        var limits = APILimits()
        limits.futureRevisionWait = .milliseconds(300)
        try await routerApp(makeAPI(store, limits: limits)).test(.router) { client in
            for rv in [Int64.max, current + 1] {
                let r = try await client.execute(uri: "/v1/nameservices?watch=true&resourceVersion=\(rv)", method: .get)
                #expect(r.status == .gatewayTimeout)
                #expect(r.headers[.retryAfter] == "1")
                let status = try decode(APIStatus.self, r)
                #expect(status.reason == "Timeout")
                #expect(status.message == "Too large resource version: \(rv), current: \(current)")
                #expect(status.details?.causes?.map(\.reason) == ["ResourceVersionTooLarge"])
                #expect(status.details?.retryAfterSeconds == 1)
            }
            #expect(store.openWatches == 0)
        }
    }

    /// A revision that the store reaches while the request waits is followed normally.
    @Test func watchFromTheNextRevisionWaitsForIt() async throws {
        let store = CountingStore()
        _ = try await store.put(NameService.sample("a"), ifVersion: nil)
        let next = try await store.revision() + 1
        try await routerApp(makeAPI(store)).test(.router) { client in
            async let response = client.execute(uri: "/v1/nameservices?watch=true&resourceVersion=\(next - 1)&timeoutSeconds=1.5",
                                                method: .get)
            try await Task.sleep(for: .milliseconds(200))
            _ = try await store.put(NameService.sample("b"), ifVersion: nil)
            let r = try await response
            #expect(r.status == .ok)
            #expect(try watchLines(bodyText(r)).map(\.name) == ["b"])
        }
    }

    /// The rate limiter's table never holds more than `maxClients` buckets, and a limited client
    /// is told when to come back.
    @Test func rateLimiterTableIsBounded() {
        let limiter = ClientRateLimiter(requestsPerSecond: 1, burst: 2, maxClients: 100)
        let t0: UInt64 = 1_000_000_000
        let me = ClientRateLimiter.Key(high: 0, low: 1)
        #expect(limiter.take(me, now: t0) == nil)
        #expect(limiter.take(me, now: t0) == nil)
        #expect(limiter.take(me, now: t0) == 1)
        #expect(limiter.take(me, now: t0 + 1_000_000_000) == nil)  // refilled one token
        for i in 0..<10_000 {
            _ = limiter.take(.init(high: 1, low: UInt64(i)), now: t0 + UInt64(i))
            #expect(limiter.trackedClients <= 100)
        }
        // IPv4-mapped IPv6 is the IPv4 client; an IPv6 client is keyed by its /64
        let v4 = try? SocketAddress(ipAddress: "192.0.2.7", port: 1)
        let mapped = try? SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 2)
        #expect(ClientRateLimiter.key(v4) == ClientRateLimiter.key(mapped))
        let a = try? SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1)
        let b = try? SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 1)
        let c = try? SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        #expect(ClientRateLimiter.key(a) == ClientRateLimiter.key(b))
        #expect(ClientRateLimiter.key(a) != ClientRateLimiter.key(c))
    }

    static let laughs: String = {
        var lines = ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]")
            previous = name
        }
        return lines.joined(separator: "\n") + "\nspec: {targets: *i}\n"
    }()

    /// Nested aliases used as mapping keys: Yams hashes each expanded key.
    static let aliasKeys: String = {
        var lines = ["x0: &k0 [a, b, c, d]"]
        for i in 1..<12 {
            lines.append("x\(i): &k\(i) {? *k\(i - 1) : 1, ? [*k\(i - 1), *k\(i - 1)] : 2}")
        }
        return lines.joined(separator: "\n") + "\n"
    }()
}

/// Issue 12 on a real server (`APIServer`, raw sockets on loopback).
@Suite struct HardeningLiveTests {
    /// Cap N: N connections are served; more wait in the backlog (or are answered 503 and closed)
    /// and never get a server-side socket; once connections close, requests are served again.
    @Test func connectionCapHoldsAtAccept() async throws {
        var limits = APILimits()
        limits.maxConnections = 4
        let api = makeAPI(limits: limits)
        try await withLiveServer(api) { port, _ in
            var held: [RawHTTPClient] = []
            for _ in 0..<4 {
                let c = try RawHTTPClient(port: port)
                #expect(try await c.get("/healthz") == 200)
                held.append(c)
            }
            #expect(api.connections.openConnections == 4)
            var extra: [RawHTTPClient] = []
            for _ in 0..<6 {
                let c = try RawHTTPClient(port: port)  // the kernel completes the handshake into the backlog
                try c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                extra.append(c)
            }
            for c in extra {
                _ = try await c.read(within: 0.3) { _ in false }
                #expect(c.statusCode == nil || c.statusCode == 503, "a connection over the cap was served")
            }
            #expect(api.connections.openConnections == 4)
            #if os(Linux)
            #expect(try await eventually { acceptedSockets(port: port) <= 4 }, "server-side sockets: \(acceptedSockets(port: port))")
            #endif
            for c in held { c.hangUp() }
            for c in extra { c.hangUp() }
            // served again once the connections are gone
            #expect(try await eventually(within: 10) {
                guard let c = try? RawHTTPClient(port: port) else { return false }
                defer { c.hangUp() }
                return try await c.get("/healthz", within: 1) == 200
            })
            #expect(try await eventually { api.connections.openConnections == 0 })
        }
    }

    @Test func idleConnectionsAreClosedButNotWatches() async throws {
        var limits = APILimits()
        limits.idleTimeout = .milliseconds(400)
        let store = CountingStore()
        try await withLiveServer(makeAPI(store, limits: limits)) { port, _ in
            let kept = try RawHTTPClient(port: port)
            defer { kept.hangUp() }
            #expect(try await kept.get("/healthz") == 200)
            let silent = try RawHTTPClient(port: port)  // never sends a byte
            defer { silent.hangUp() }
            let watcher = try RawHTTPClient(port: port)
            defer { watcher.hangUp() }
            try watcher.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await watcher.read(within: 5) { _ in watcher.headText != nil })

            #expect(try await kept.waitForClose(within: 5))
            #expect(try await silent.waitForClose(within: 5))
            // the watch outlives several idle timeouts and still streams
            _ = try await watcher.read(within: 1.5) { _ in false }
            #expect(!watcher.peerClosed)
            #expect(store.openWatches == 1)
            _ = try await store.put(NameService.sample("late"), ifVersion: nil)
            #expect(try await watcher.read(within: 5) { _ in watcher.bodyLines.count == 1 })
            // and a fresh request is served
            let fresh = try RawHTTPClient(port: port)
            defer { fresh.hangUp() }
            #expect(try await fresh.get("/healthz") == 200)
        }
    }

    /// Slowloris: a head trickling in a header line at a time is closed at the header timeout even
    /// though bytes keep coming; a body that stops is closed at the body timeout.
    @Test func slowHeadsAndBodiesAreClosed() async throws {
        var limits = APILimits()
        limits.headerTimeout = .milliseconds(500)
        limits.bodyTimeout = .milliseconds(500)
        let store = InMemoryNameServiceStore()
        try await withLiveServer(makeAPI(store, limits: limits)) { port, _ in
            let slow = try RawHTTPClient(port: port)
            defer { slow.hangUp() }
            try slow.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            let started = ContinuousClock.now
            var closed = false
            while !closed && ContinuousClock.now - started < .seconds(10) {
                try? slow.send("X-Slow: \(Int.random(in: 0..<1000))\r\n")
                closed = try await slow.waitForClose(within: 0.1)
            }
            #expect(closed, "a trickling head was never closed")
            #expect(slow.statusCode == nil)

            let body = try RawHTTPClient(port: port)
            defer { body.hangUp() }
            try body.send("PUT /v1/nameservices/checkout HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(writerToken)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"kind\":")
            #expect(try await body.waitForClose(within: 10))
            #expect(try await store.list(selector: nil).items.isEmpty)

            let normal = try RawHTTPClient(port: port)
            defer { normal.hangUp() }
            #expect(try await normal.get("/healthz") == 200)
        }
    }

    @Test func oversizedHeadersAre431() async throws {
        var limits = APILimits()
        limits.maxHeaderBytes = 4096
        try await withLiveServer(makeAPI(limits: limits)) { port, _ in
            for request in ["GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: \(String(repeating: "a", count: 8000))\r\n\r\n",
                            "GET /healthz?\(String(repeating: "q", count: 8000)) HTTP/1.1\r\nHost: localhost\r\n\r\n",
                            "GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + String(repeating: "X-Many: 0123456789\r\n", count: 400) + "\r\n"] {
                let c = try RawHTTPClient(port: port)
                defer { c.hangUp() }
                try? c.send(request)  // the server may close before it has read it all
                #expect(try await c.waitForClose(within: 5))
                #expect(c.statusCode == 431)
                let text = String(decoding: c.received, as: UTF8.self)
                let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
                let status = try JSONDecoder().decode(APIStatus.self, from: Data(body.utf8))
                #expect(status.code == 431 && status.reason == "RequestHeaderFieldsTooLarge")
            }
            let normal = try RawHTTPClient(port: port)
            defer { normal.hangUp() }
            #expect(try await normal.get("/healthz") == 200)
        }
    }

    /// Per client address: 127.0.0.1 is limited while 127.0.0.2 is not.
    @Test func rateLimitPerClientIs429WithRetryAfter() async throws {
        var limits = APILimits()
        limits.rateLimitPerSecond = 0.2
        limits.rateLimitBurst = 3
        try await withLiveServer(makeAPI(limits: limits)) { port, _ in
            let c = try RawHTTPClient(port: port)
            defer { c.hangUp() }
            for _ in 0..<3 { #expect(try await c.get("/healthz") == 200) }
            let before = c.received.count
            #expect(try await c.get("/v1/nameservices") == 429)
            let text = String(decoding: c.received[before...], as: UTF8.self)
            // 0.2 tokens/s: the next token is at most 5 s away (less when the three requests took a
            // while on a loaded machine, so slow enough that none refills meanwhile); Retry-After
            // rounds up to whole seconds.
            #expect((1...5).contains { text.lowercased().contains("retry-after: \($0)\r") }, "\(text)")
            let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
            let status = try JSONDecoder().decode(APIStatus.self, from: Data(body.utf8))
            #expect(status.code == 429 && status.reason == "TooManyRequests" && (1...5).contains(status.details?.retryAfterSeconds ?? 0))

            let other = try RawHTTPClient(port: port, source: "127.0.0.2")
            defer { other.hangUp() }
            #expect(try await other.get("/healthz") == 200)
        }
    }

    /// The handlers run on the API's own threads, at its nice value, not on the cooperative pool.
    @Test func requestsRunOnTheAPIThreadsAtTheirNiceValue() async throws {
        var limits = APILimits()
        limits.niceness = 7
        let api = makeAPI(metrics: {
            #if os(Linux)
            let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            #else
            let nice = getpriority(PRIO_PROCESS, 0)
            #endif
            #if os(Linux)
            let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            #else
            let name = "NIO-ELT-(not Linux)"
            #endif
            return "nice=\(nice) thread=\(name)\n"
        }, limits: limits)
        try await withLiveServer(api) { port, _ in
            let c = try RawHTTPClient(port: port)
            defer { c.hangUp() }
            #expect(try await c.get("/metrics") == 200)
            let text = String(decoding: c.received, as: UTF8.self)
            #expect(text.contains("thread=NIO-ELT-"), "\(text)")
            #if os(Linux)
            #expect(text.contains("nice=7"), "\(text)")
            #endif
        }
    }

    /// A watcher that stops reading while large objects are written: its buffer stays within the
    /// limit, the stream ends (ERROR 410 or a closed connection), and everything is released.
    @Test func aWatcherThatStopsReadingIsCutOffAndReleased() async throws {
        var limits = APILimits()
        limits.watchMaxBufferBytes = 64 << 10
        let store = CountingStore()
        let api = makeAPI(store, limits: limits)
        var template = NameService.sample("big")
        template.spec.targets = (0..<300).map { Target(name: "target-\($0)", addresses: ["10.0.\($0 / 256).\($0 % 256)", "2001:db8::\($0)"]) }
        let big = template
        let eventSize = JSONCoding.encode(WatchEvent(type: "MODIFIED", object: big)).count
        let maxBuffer = limits.watchMaxBufferBytes
        try await withLiveServer(api) { port, _ in
            let watcher = try RawHTTPClient(port: port, receiveBuffer: 4096)
            defer { watcher.hangUp() }
            try watcher.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await watcher.read(within: 5) { _ in watcher.headText != nil })
            #expect(try await eventually { store.openWatches == 1 })
            for i in 0..<400 {
                var next = big
                next.spec.ttl = 30 + i
                _ = try await store.put(next, ifVersion: nil)
                if api.watches.overflows > 0 { break }
            }
            #expect(try await eventually(within: 10) { api.watches.overflows == 1 })
            #expect(api.watches.peakStreamBytes <= maxBuffer + eventSize)
            // released: the stream, its buffer and the store's watch
            #expect(try await eventually(within: 10) { api.watches.openStreams == 0 && api.watches.bufferedBytes == 0 })
            #expect(try await eventually { store.openWatches == 0 })
            // the client sees the end: the ERROR 410 line or the connection closed
            _ = try await watcher.read(within: 10) { _ in watcher.chunkedBody.complete }
            let ended = watcher.peerClosed || watcher.chunkedBody.complete
            #expect(ended)
            if watcher.chunkedBody.complete, let last = watcher.bodyLines.last {
                let event = try JSONDecoder().decode(WatchEvent<APIStatus>.self, from: Data(last.utf8))
                #expect(event.type == "ERROR" && event.object.code == 410)
            }
            // the server goes on serving
            let fresh = try RawHTTPClient(port: port)
            defer { fresh.hangUp() }
            #expect(try await fresh.get("/healthz") == 200)
        }
    }

    @Test func watchFromAFutureResourceVersionIs504OverHTTP() async throws {
        let store = CountingStore()
        _ = try await store.put(NameService.sample("a"), ifVersion: nil)
        try await withLiveServer(makeAPI(store)) { port, _ in
            let c = try RawHTTPClient(port: port)
            defer { c.hangUp() }
            #expect(try await c.get("/v1/nameservices?watch=true&resourceVersion=9223372036854775807", within: 10) == 504)
            #expect(store.openWatches == 0)
        }
    }

    /// A replay from revision 1 stops when its client hangs up at once.
    @Test func replayStopsWhenTheClientHangsUp() async throws {
        let store = CountingStore()
        for i in 0..<200 { _ = try await store.put(NameService.sample("n\(i % 20)", ttl: 30 + i), ifVersion: nil) }
        try await withLiveServer(makeAPI(store)) { port, _ in
            for _ in 0..<10 {
                let c = try RawHTTPClient(port: port)
                try c.send("GET /v1/nameservices?watch=true&resourceVersion=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
                c.hangUp()
            }
            #expect(try await eventually(within: 10) { store.openWatches == 0 })
            let fresh = try RawHTTPClient(port: port)
            defer { fresh.hangUp() }
            #expect(try await fresh.get("/v1/nameservices") == 200)
        }
    }
}

/// One client cannot take what every other client needs (issue 12): its connections, its requests in
/// flight and its watches are capped per client address, while another address is served.
@Suite struct PerClientCapTests {
    @Test func connectionsPerClientAreCapped() async throws {
        var limits = APILimits()
        limits.maxConnectionsPerClient = 3
        let api = makeAPI(limits: limits)
        try await withLiveServer(api) { port, _ in
            var held: [RawHTTPClient] = []
            for _ in 0..<3 {
                let c = try RawHTTPClient(port: port)
                #expect(try await c.get("/healthz") == 200)
                held.append(c)
            }
            let over = try RawHTTPClient(port: port)
            defer { over.hangUp() }
            #expect(try await over.waitForClose(within: 5))
            #expect(over.statusCode == 503)
            #expect(String(decoding: over.received, as: UTF8.self).contains("api.maxConnectionsPerClient"))
            let other = try RawHTTPClient(port: port, source: "127.0.0.2")
            defer { other.hangUp() }
            #expect(try await other.get("/healthz") == 200)
            #expect(api.connections.perClient.clients == 2)
            // a connection that closes gives its slot back
            held.removeFirst().hangUp()
            #expect(try await eventually(within: 10) {
                guard let c = try? RawHTTPClient(port: port) else { return false }
                defer { c.hangUp() }
                return try await c.get("/healthz", within: 1) == 200
            })
            for c in held { c.hangUp() }
            other.hangUp()
            #expect(try await eventually { api.connections.perClient.total == 0 })
        }
    }

    @Test func requestsInFlightPerClientAreCapped() async throws {
        var limits = APILimits()
        limits.maxRequestsInFlightPerClient = 2
        limits.rateLimitPerSecond = 0
        let gate = Gate()
        let api = gatedMetricsAPI(gate, limits: limits)
        try await withLiveServer(api) { port, _ in
            var slow: [RawHTTPClient] = []
            for _ in 0..<2 {
                let c = try RawHTTPClient(port: port)
                try c.send("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
                slow.append(c)
            }
            #expect(try await eventually { api.requestsInFlight.total == 2 })
            let third = try RawHTTPClient(port: port)
            defer { third.hangUp() }
            #expect(try await third.get("/v1/nameservices/checkout") == 429)
            let text = String(decoding: third.received, as: UTF8.self)
            #expect(text.lowercased().contains("retry-after: 1\r") && text.contains("api.maxRequestsInFlightPerClient"), "\(text)")
            // lists have a cap of their own; another client is answered meanwhile
            #expect(try await third.get("/v1/nameservices") == 200)
            let other = try RawHTTPClient(port: port, source: "127.0.0.2")
            defer { other.hangUp() }
            #expect(try await other.get("/v1/nameservices/checkout") == 404)
            gate.open()
            for c in slow {
                #expect(try await c.read(within: 5) { _ in c.statusCode != nil })
                #expect(c.statusCode == 200)
                c.hangUp()
            }
            #expect(try await eventually { api.requestsInFlight.total == 0 })
            #expect(try await third.get("/v1/nameservices/checkout") == 404)
        }
    }

    /// Over the cap a request waits for room (`overloadWait`) and is served when room comes in
    /// time: queued, not refused at once (a flood then runs at the pace it is served at).
    @Test func aRequestOverTheCapWaitsForRoom() async throws {
        var limits = APILimits()
        limits.maxRequestsInFlightPerClient = 1
        limits.overloadWait = .seconds(5)
        limits.rateLimitPerSecond = 0
        let gate = Gate()
        let api = gatedMetricsAPI(gate, limits: limits)
        try await withLiveServer(api) { port, _ in
            let slow = try RawHTTPClient(port: port)
            defer { slow.hangUp() }
            try slow.send("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await eventually { api.requestsInFlight.total == 1 })
            let queued = try RawHTTPClient(port: port)
            defer { queued.hangUp() }
            try queued.send("GET /v1/nameservices/checkout HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await queued.read(within: 0.3) { _ in queued.statusCode != nil } == false, "answered before room came")
            gate.open()
            #expect(try await queued.read(within: 5) { _ in queued.statusCode != nil })
            #expect(queued.statusCode == 404)  // served (no such object), not refused
        }
    }

    /// A list counts until its response is written: a client with `maxListsInFlightPerClient`
    /// lists running gets 429 for the next, while its gets and another client's lists are served.
    @Test func listsInFlightPerClientAreCapped() async throws {
        var limits = APILimits()
        limits.maxListsInFlightPerClient = 1
        limits.rateLimitPerSecond = 0
        let gate = Gate()
        let api = makeAPI(CountingStore(listGate: gate), limits: limits)
        try await withLiveServer(api) { port, _ in
            let slow = try RawHTTPClient(port: port)
            defer { slow.hangUp() }
            try slow.send("GET /v1/nameservices HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await eventually { api.listsInFlight.total == 1 })
            let second = try RawHTTPClient(port: port)
            defer { second.hangUp() }
            #expect(try await second.get("/v1/nameservices?labelSelector=team%3Dpay") == 429)
            #expect(String(decoding: second.received, as: UTF8.self).contains("api.maxListsInFlightPerClient"))
            #expect(try await second.get("/v1/nameservices/checkout") == 404)
            let other = try RawHTTPClient(port: port, source: "127.0.0.2")
            defer { other.hangUp() }
            try other.send("GET /v1/nameservices HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await eventually { api.listsInFlight.total == 2 && api.listsInFlight.clients == 2 })
            gate.open()
            #expect(try await slow.read(within: 5) { _ in slow.chunkedBody.complete })
            #expect(slow.statusCode == 200)
            #expect(try await other.read(within: 5) { _ in other.chunkedBody.complete })
            #expect(try await eventually { api.listsInFlight.total == 0 })
            #expect(try await second.get("/v1/nameservices") == 200)
        }
    }

    @Test func watchesPerClientAreCapped() async throws {
        var limits = APILimits()
        limits.watchMaxPerClient = 2
        let api = makeAPI(limits: limits)
        try await withLiveServer(api) { port, _ in
            var watchers: [RawHTTPClient] = []
            for _ in 0..<2 {
                let c = try RawHTTPClient(port: port)
                try c.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(try await c.read(within: 5) { _ in c.headText != nil })
                #expect(c.statusCode == 200)
                watchers.append(c)
            }
            let third = try RawHTTPClient(port: port)
            defer { third.hangUp() }
            #expect(try await third.get("/v1/nameservices?watch=1") == 429)
            #expect(String(decoding: third.received, as: UTF8.self).contains("api.watch.maxPerClient"))
            // plain requests of the same client are not watches
            #expect(try await third.get("/v1/nameservices") == 200)
            let other = try RawHTTPClient(port: port, source: "127.0.0.2")
            defer { other.hangUp() }
            try other.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await other.read(within: 5) { _ in other.headText != nil })
            #expect(other.statusCode == 200)
            // a watch that ends gives its slot back
            watchers.removeFirst().hangUp()
            #expect(try await eventually(within: 10) { api.watchesPerClient.total == 2 })
            let again = try RawHTTPClient(port: port)
            defer { again.hangUp() }
            try again.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await again.read(within: 5) { _ in again.headText != nil })
            #expect(again.statusCode == 200)
            for c in watchers { c.hangUp() }
        }
    }

    @Test(arguments: [("watch=true", true), ("watch=1", true), ("a=b&watch=true", true), ("watch=false", false),
                      ("watchx=true", false), (nil, false), ("limit=5", false)] as [(String?, Bool)])
    func watchQueries(_ query: String?, _ isWatch: Bool) {
        #expect(ClientConcurrencyMiddleware.isWatch(query) == isWatch)
    }
}

/// An API whose `/metrics` answers only once `gate` is open: a request that stays in flight.
func gatedMetricsAPI(_ gate: Gate, limits: APILimits) -> NameServiceAPI {
    makeAPI(metrics: {
        while !gate.isOpen { try? await Task.sleep(for: .milliseconds(10)) }
        return "# nothing\n"
    }, limits: limits)
}

/// A flag a test opens once.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var opened = false
    var isOpen: Bool { lock.withLock { opened } }
    func open() { lock.withLock { opened = true } }
}

#if os(Linux)
/// Server-side sockets of `port` that the process has accepted (they have an inode; connections
/// still in the listen backlog do not), from /proc/self/net/tcp.
func acceptedSockets(port: Int) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/net/tcp", encoding: .utf8) else { return -1 }
    let hexPort = String(format: "%04X", port)
    var count = 0
    for line in text.split(separator: "\n").dropFirst() {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count > 9, f[1].hasSuffix(":" + hexPort), f[3] == "01", f[9] != "0" else { continue }
        count += 1
    }
    return count
}
#endif

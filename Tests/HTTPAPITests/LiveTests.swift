import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// The API on a real HTTP server on loopback.
@Suite struct LiveTests {
    @Test func crudOverRealHTTP() async throws {
        let store = InMemoryNameServiceStore()
        let api = makeAPI(store)
        let app = api.makeApplication(address: .hostname("127.0.0.1", port: 0))
        try await app.test(.live) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let denied = try await put(client, "checkout", checkoutJSON(), headers: [.contentType: "application/json"])
            #expect(denied.status == .unauthorized)
            #expect(denied.headers[.wwwAuthenticate] != nil)
            var yaml = authHeaders
            yaml[.contentType] = "application/yaml"
            let created = try await put(client, "checkout", checkoutYAML, headers: yaml)
            #expect(created.status == .created)
            let got = try await client.execute(uri: "/v1/nameservices/checkout", method: .get)
            #expect(try decode(NameService.self, got).spec.policy == .locality)
            let list = try await client.execute(uri: "/v1/nameservices?labelSelector=team%3Dpayments", method: .get)
            #expect(try decode(NameServiceList.self, list).items.map(\.metadata.name) == ["checkout"])
            let invalid = try await put(client, "checkout", checkoutJSON(fqdn: "bad..name", ttl: -1))
            #expect(invalid.status == .unprocessableContent)
            #expect(try decode(APIStatus.self, invalid).details?.causes?.map(\.field) == ["spec.fqdn", "spec.ttl"])
            #expect(try await client.execute(uri: "/v1/nameservices/checkout", method: .delete, headers: authHeaders).status == .ok)
            #expect(try await client.execute(uri: "/v1/nameservices/checkout", method: .get).status == .notFound)
        }
    }

    @Test func watchStreamsEventsAsTheyHappen() async throws {
        let store = CountingStore()
        _ = try await store.put(NameService.sample("existing"), ifVersion: nil)
        try await withLiveServer(makeAPI(store)) { port, _ in
            let client = try RawHTTPClient(port: port)
            defer { client.hangUp() }
            try client.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await client.read(within: 5) { _ in client.bodyLines.count >= 1 })
            #expect(client.statusCode == 200)
            #expect(client.headText?.lowercased().contains("transfer-encoding: chunked") == true)
            #expect(try watchLines(client.bodyLines.joined(separator: "\n")).map(\.type) == ["ADDED"])

            // each change arrives while the stream stays open
            _ = try await store.put(NameService.sample("checkout"), ifVersion: nil)
            #expect(try await client.read(within: 5) { _ in client.bodyLines.count >= 2 })
            _ = try await store.updateStatus("checkout", status: NameServiceStatus(observedGeneration: 1), ifGeneration: 1)
            #expect(try await client.read(within: 5) { _ in client.bodyLines.count >= 3 })
            _ = try await store.delete("checkout", ifVersion: nil)
            #expect(try await client.read(within: 5) { _ in client.bodyLines.count >= 4 })
            let lines = try watchLines(client.bodyLines.joined(separator: "\n"))
            #expect(lines.map { "\($0.type) \($0.name)" } == ["ADDED existing", "ADDED checkout", "MODIFIED checkout", "DELETED checkout"])
            #expect(client.chunkedBody.complete == false)

            // resume from the second event's version: the rest again, in order
            let resume = try RawHTTPClient(port: port)
            defer { resume.hangUp() }
            try resume.send("GET /v1/nameservices?watch=true&resourceVersion=\(lines[1].resourceVersion!) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await resume.read(within: 5) { _ in resume.bodyLines.count >= 2 })
            #expect(try watchLines(resume.bodyLines.joined(separator: "\n")).map(\.type) == ["MODIFIED", "DELETED"])
        }
    }

    @Test func watchEndsWhenTheClientHangsUp() async throws {
        let store = CountingStore()
        try await withLiveServer(makeAPI(store)) { port, _ in
            let client = try RawHTTPClient(port: port)
            try client.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await client.read(within: 5) { _ in client.headText != nil })
            #expect(try await eventually { store.openWatches == 1 })
            client.hangUp()
            // no event is needed for the server to notice
            #expect(try await eventually { store.openWatches == 0 })
        }
    }

    @Test func watchEndsCleanlyOnGracefulShutdown() async throws {
        let store = CountingStore()
        try await withLiveServer(makeAPI(store)) { port, shutdown in
            let client = try RawHTTPClient(port: port)
            defer { client.hangUp() }
            try client.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await client.read(within: 5) { _ in client.headText != nil })
            #expect(try await eventually { store.openWatches == 1 })
            await shutdown()
            // the stream is finished with its last chunk, not cut off
            #expect(try await client.read(within: 5) { _ in client.chunkedBody.complete })
            #expect(try await eventually { store.openWatches == 0 })
        }
    }

    @Test func compactedWatchOverRealHTTP() async throws {
        let store = InMemoryNameServiceStore(eventHistoryLimit: 1)
        for n in ["a", "b", "c"] { _ = try await store.put(NameService.sample(n), ifVersion: nil) }
        try await withLiveServer(makeAPI(store)) { port, _ in
            let client = try RawHTTPClient(port: port)
            defer { client.hangUp() }
            try client.send("GET /v1/nameservices?watch=true&resourceVersion=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await client.read(within: 5) { _ in client.chunkedBody.complete })
            let lines = client.bodyLines
            try #require(lines.count == 1)
            let event = try JSONDecoder().decode(WatchEvent<APIStatus>.self, from: Data(lines[0].utf8))
            #expect(event.type == "ERROR" && event.object.code == 410)
        }
    }

    @Test func chunkedBodyOverTheLimitIs413() async throws {
        let store = InMemoryNameServiceStore()
        try await withLiveServer(makeAPI(store, maxBodyBytes: 1024)) { port, _ in
            let client = try RawHTTPClient(port: port)
            defer { client.hangUp() }
            // no Content-Length: the streamed size is what counts
            let chunk = String(repeating: " ", count: 600)
            try client.send("PUT /v1/nameservices/checkout HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(writerToken)\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in 0..<3 { try client.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n") }
            try client.send("0\r\n\r\n")
            #expect(try await client.read(within: 5) { _ in client.statusCode != nil })
            #expect(client.statusCode == 413)

            let declared = try RawHTTPClient(port: port)
            defer { declared.hangUp() }
            try declared.send("PUT /v1/nameservices/checkout HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(writerToken)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{")
            #expect(try await declared.read(within: 5) { _ in declared.statusCode != nil })
            #expect(declared.statusCode == 413)
            #expect(try await store.list(selector: nil).items.isEmpty)
        }
    }
}

import GlobalDNSClient
import NIOCore
import Testing

@Suite struct ClientPartsTests {
    @Test func linesSurviveAnyChunkBoundary() {
        var splitter = LineSplitter()
        #expect(splitter.append(ByteBuffer(string: "{\"a\":")) == [])
        #expect(splitter.append(ByteBuffer(string: "1}\n\n{\"b\"")) == ["{\"a\":1}"])
        #expect(splitter.append(ByteBuffer(string: ":2}\r\n{\"c\":3}\n{\"d\"")) == ["{\"b\":2}", "{\"c\":3}"])
        #expect(splitter.finish() == "{\"d\"")
        #expect(splitter.finish() == nil)
    }

    @Test func serverURLs() throws {
        #expect(try ServerAddress(parsing: "http://127.0.0.1:8080") == ServerAddress(host: "127.0.0.1", port: 8080))
        #expect(try ServerAddress(parsing: "http://[::1]:9000/api/") == ServerAddress(host: "::1", port: 9000, pathPrefix: "/api"))
        #expect(try ServerAddress(parsing: "http://localhost") == ServerAddress(host: "localhost", port: 80))
        #expect(try ServerAddress(parsing: "http://[::1]:9000").hostHeader == "[::1]:9000")
        for bad in ["127.0.0.1:8080", "https://x", "http://:80", "http://h:0", "http://h:x", "http://[::1"] {
            let error = #expect(throws: ClientError.self) { try ServerAddress(parsing: bad) }
            #expect(error?.code == .invalidServerURL)
        }
    }
}

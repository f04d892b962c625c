import Foundation
import GlobalDNSClient
import GSLB
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// The client against a real NIO HTTP server on 127.0.0.1:0 answering the way the API does.
@Suite struct HTTPClientLiveTests {
    static let token = "s3cret"

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func status(_ code: Int, _ reason: String, _ message: String, causes: [APIStatus.Cause] = []) -> String {
        json(APIStatus(code: code, reason: reason, message: message,
                       details: causes.isEmpty ? nil : APIStatus.Details(name: "checkout", kind: "NameService", causes: causes)))
    }

    static func client(_ server: TestHTTPServer, token: String? = HTTPClientLiveTests.token,
                       requestTimeout: TimeAmount = .seconds(5)) -> NameServiceClient {
        NameServiceClient(http: HTTPClient(server: ServerAddress(host: "127.0.0.1", port: server.port),
                                           connectTimeout: .seconds(2), requestTimeout: requestTimeout),
                          token: token)
    }

    /// Routes shared by several tests: fixed objects, a 422 for an invalid spec, bearer auth on writes.
    static func fixedRoutes(_ request: RecordedRequest) -> TestReply {
        if request.method == .PUT || request.method == .DELETE, request.headers.first(name: "Authorization") != "Bearer \(token)" {
            return .full(.unauthorized, status(401, "Unauthorized", "writes need Authorization: Bearer TOKEN"))
        }
        switch (request.method, request.path) {
        case (.GET, "/v1/nameservices/checkout"):
            return .full(.ok, json(Fixtures.checkout))
        case (.GET, "/v1/nameservices/checkout/status"):
            return .full(.ok, json(Fixtures.checkout.status!))
        case (.GET, "/v1/nameservices"):
            guard request.query == "labelSelector=team%3Dpayments%2Cenv%20in%20%28prod%29" else {
                return .full(.badRequest, status(400, "BadRequest", "unexpected query \(request.query)"))
            }
            return .full(.ok, json(NameServiceList(items: [Fixtures.checkout], resourceVersion: "1042")))
        case (.PUT, "/v1/nameservices/bad"):
            return .full(.unprocessableEntity, status(422, "Invalid", "NameService \"bad\" is invalid", causes: [
                APIStatus.Cause(field: "spec.targets[0].addresses[0]", reason: "FieldValueInvalid", message: "\"10.0.0.300\" is not an IPv4 or IPv6 address"),
                APIStatus.Cause(field: "spec.fqdn", reason: "FieldValueInvalid", message: "is required"),
            ]))
        case (.PUT, let path) where path.hasPrefix("/v1/nameservices/"):
            // Echo the body back as the stored object, as the API does.
            guard request.headers.first(name: "Content-Type") == "application/json",
                  var object = try? JSONDecoder().decode(NameService.self, from: Data(request.body.utf8)) else {
                return .full(.badRequest, status(400, "BadRequest", "body is not a NameService"))
            }
            object.metadata.generation = 1
            object.metadata.resourceVersion = "43"
            return .full(.created, json(object))
        case (.DELETE, "/v1/nameservices/checkout"):
            return .full(.ok, status(200, "", "deleted"))
        default:
            return .full(.notFound, status(404, "NotFound", "nameservices \"\(request.path.split(separator: "/").last ?? "")\" not found"))
        }
    }

    @Test func getListStatusAndDeleteDecodeTheServersObjects() async throws {
        let server = try await TestHTTPServer.start(route: Self.fixedRoutes)
        let client = Self.client(server)
        try await withTimeout(seconds: 20) {
            let one = try await client.get("checkout")
            #expect(one == Fixtures.checkout)
            let list = try await client.list(labelSelector: "team=payments,env in (prod)")
            #expect(list.items == [Fixtures.checkout])
            #expect(list.metadata.resourceVersion == "1042")
            #expect(try await client.status("checkout") == Fixtures.checkout.status!)
            try await client.delete("checkout")
            #expect(try await client.getIfPresent("nothing") == nil)
            let missing = await #expect(throws: APIError.self) { try await client.get("nothing") }
            #expect(missing?.description == "Error from server (NotFound): nameservices \"nothing\" not found")
        }
        try await server.stop()
    }

    @Test func putSendsTheBodyAndTheBearerToken() async throws {
        let server = try await TestHTTPServer.start(route: Self.fixedRoutes)
        try await withTimeout(seconds: 20) {
            var object = Fixtures.fresh
            object.metadata.resourceVersion = nil
            let (stored, created) = try await Self.client(server).put(object)
            #expect(created)
            #expect(stored.spec == object.spec)
            #expect(stored.metadata.resourceVersion == "43")
            #expect(stored.status == nil)

            let unauthorized = await #expect(throws: APIError.self) { try await Self.client(server, token: nil).put(object) }
            #expect(unauthorized?.httpStatus == 401)
            #expect(unauthorized?.status.reason == "Unauthorized")
        }
        try await server.stop()
    }

    @Test func unprocessableEntityCarriesEveryCause() async throws {
        let server = try await TestHTTPServer.start(route: Self.fixedRoutes)
        try await withTimeout(seconds: 20) {
            var bad = Fixtures.fresh
            bad.metadata.name = "bad"
            let error = await #expect(throws: APIError.self) { try await Self.client(server).put(bad) }
            #expect(error?.httpStatus == 422)
            #expect(error?.description == """
                Error from server (Invalid): NameService "bad" is invalid
                  spec.targets[0].addresses[0]: "10.0.0.300" is not an IPv4 or IPv6 address
                  spec.fqdn: is required
                """)
        }
        try await server.stop()
    }

    @Test func watchDeliversEventsLineByLineAcrossChunks() async throws {
        func event(_ type: String, _ name: String, ready: String) -> String {
            #"{"type":"\#(type)","object":{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"\#(name)","resourceVersion":"5"},"spec":{"fqdn":"\#(name).g.example.com","targets":[]},"status":{"conditions":[{"type":"Ready","status":"\#(ready)","reason":"X","lastTransitionTime":"2026-01-31T12:00:00Z"}]}}}"#
        }
        let stream = event("ADDED", "a", ready: "Unknown") + "\n" + event("MODIFIED", "a", ready: "True") + "\n" + event("DELETED", "a", ready: "True") + "\n"
        let cut1 = stream.index(stream.startIndex, offsetBy: 40)
        let cut2 = stream.index(stream.startIndex, offsetBy: stream.count / 2)
        let pieces = [String(stream[..<cut1]), String(stream[cut1..<cut2]), String(stream[cut2...])]
        let server = try await TestHTTPServer.start { request in
            guard request.method == .GET, request.path == "/v1/nameservices",
                  request.query == "watch=true&labelSelector=team%3Dweb&resourceVersion=4" else {
                return .full(.badRequest, HTTPClientLiveTests.status(400, "BadRequest", "unexpected \(request.uri)"))
            }
            return .stream(pieces, interval: .milliseconds(30), keepOpen: false)
        }
        let summaries = try await withTimeout(seconds: 20) {
            var seen: [String] = []
            try await Self.client(server).watch(labelSelector: "team=web", resourceVersion: "4") { event in
                seen.append(event.summary)
            }
            return seen
        }
        #expect(summaries == ["ADDED a fqdn=a.g.example.com ready=Unknown",
                              "MODIFIED a fqdn=a.g.example.com ready=True",
                              "DELETED a fqdn=a.g.example.com ready=True"])
        try await server.stop()
    }

    @Test func watchEndsCleanlyWhenCancelled() async throws {
        let line = #"{"type":"ADDED","object":{"apiVersion":"globaldns.io/v1alpha1","kind":"NameService","metadata":{"name":"a"},"spec":{"fqdn":"a.g.example.com"}}}"# + "\n"
        let server = try await TestHTTPServer.start { _ in .stream([line], interval: .milliseconds(10), keepOpen: true) }
        let client = Self.client(server, requestTimeout: .milliseconds(500))
        let (events, continuation) = AsyncStream.makeStream(of: String.self)
        let watching = Task {
            try await client.watch { event in continuation.yield(event.summary) }
        }
        let first = try await withTimeout(seconds: 10) { await events.first { _ in true } }
        #expect(first == "ADDED a fqdn=a.g.example.com ready=Unknown")
        // Quiet for longer than the request timeout: a started watch is not cut by it.
        try await Task.sleep(for: .milliseconds(800))
        watching.cancel()
        try await withTimeout(seconds: 10) { try await watching.value }
        continuation.finish()
        try await server.stop()
    }

    @Test func watchErrorAnswerIsAnAPIError() async throws {
        let server = try await TestHTTPServer.start { _ in
            .full(HTTPResponseStatus(statusCode: 410), HTTPClientLiveTests.status(410, "Expired", "resourceVersion 1 is too old; list again"))
        }
        try await withTimeout(seconds: 20) {
            let error = await #expect(throws: APIError.self) {
                try await Self.client(server).watch(resourceVersion: "1") { _ in Issue.record("no event expected") }
            }
            #expect(error?.description == "Error from server (Expired): resourceVersion 1 is too old; list again")
        }
        try await server.stop()
    }

    @Test func aSilentServerTimesOut() async throws {
        let server = try await TestHTTPServer.start { _ in .silence }
        let started = ContinuousClock.now
        try await withTimeout(seconds: 10) {
            let error = await #expect(throws: ClientError.self) {
                try await Self.client(server, requestTimeout: .milliseconds(300)).get("checkout")
            }
            #expect(error?.code == .timedOut)
            #expect(error?.message == "The server http://127.0.0.1:\(server.port) did not answer within 300ms")
        }
        // The 300 ms timeout, not the 30 s default (generous: the suite shares two cores).
        #expect(ContinuousClock.now - started < .seconds(10))
        try await server.stop()
    }

    @Test func connectionRefusedNamesTheServer() async throws {
        let server = try await TestHTTPServer.start { _ in .silence }
        let port = server.port
        try await server.stop()
        let client = NameServiceClient(http: HTTPClient(server: ServerAddress(host: "127.0.0.1", port: port),
                                                        connectTimeout: .seconds(2), requestTimeout: .seconds(2)))
        try await withTimeout(seconds: 10) {
            let error = await #expect(throws: ClientError.self) { try await client.list() }
            #expect(error?.code == .connectionRefused)
            #expect(error?.message.hasPrefix("The connection to the server http://127.0.0.1:\(port) was refused") == true)
        }
    }
}

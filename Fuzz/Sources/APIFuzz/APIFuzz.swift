// libFuzzer entry point for the NameService HTTP API's request decoding (issue 12): every input is
// one request as a client would send it, served by the real router (`NameServiceAPI.makeRouter()`,
// the same middleware, routes, body and query decoding) over an in-memory store.
//
// Input layout (see `FuzzRequest`): byte 0 picks the method, the Content-Type and whether a valid
// bearer token is sent; the bytes up to the first newline are the request target (path and query
// string, e.g. `/v1/nameservices?watch=true&timeoutSeconds=1e300`); the rest is the body.
//
// Invariants, checked for every input (a violation is a `precondition` failure, which libFuzzer
// reports as a crash; a trap inside the server is one too):
//   - the request is answered (no trap, no hang: watch bodies are not drained);
//   - the status is one the API documents (docs/openapi.yaml);
//   - every error (4xx/5xx) carries a Kubernetes `Status` body whose `code` is the HTTP status;
//   - a write that succeeded stored an object that validates again.

import Dispatch
import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import Logging
import NameServiceStore
import NameServiceStoreTesting
import NIOCore
import NIOEmbedded

private let token = "fuzz-token-0123456789"
private let documented: Set<Int> = [200, 201, 400, 401, 403, 404, 405, 409, 410, 411, 413, 415, 422, 429, 431, 500, 503, 504]

/// The request an input stands for.
struct FuzzRequest {
    var method: HTTPRequest.Method
    var contentType: String?
    var authorized: Bool
    var target: String
    var body: [UInt8]

    init(_ bytes: UnsafeRawBufferPointer) {
        let first = bytes.first ?? 0
        method = [.get, .put, .delete, .put][Int(first & 0x03)]
        contentType = [nil, "application/json", "application/yaml", "text/plain; charset=utf-8"][Int((first >> 2) & 0x03)]
        authorized = first & 0x10 == 0
        let rest = bytes.dropFirst()
        let newline = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
        var target = String(decoding: rest[rest.startIndex..<newline], as: UTF8.self)
        if !target.hasPrefix("/") { target = "/v1/nameservices/" + target }
        self.target = target
        body = newline < rest.endIndex ? Array(rest[(newline + 1)...]) : []
    }
}

/// One router and store for a while; replaced every 2,000 inputs so the store stays small.
private final class Harness: @unchecked Sendable {
    var store = InMemoryNameServiceStore()
    var responder: RouterResponder<APIRequestContext>
    var runs = 0
    let logger: Logger

    init() {
        var logger = Logger(label: "api-fuzz")
        logger.logLevel = .critical
        self.logger = logger
        responder = Harness.makeResponder(store, logger)
    }

    static func makeResponder(_ store: InMemoryNameServiceStore, _ logger: Logger) -> RouterResponder<APIRequestContext> {
        NameServiceAPI(store: store, configuration: APIConfiguration(tokens: ["fuzz": token]), logger: logger)
            .makeRouter().buildResponder()
    }

    func run(_ input: FuzzRequest) async {
        runs += 1
        if runs % 2000 == 0 {
            store = InMemoryNameServiceStore()
            responder = Harness.makeResponder(store, logger)
        }
        var fields = HTTPFields()
        if let ct = input.contentType { fields[.contentType] = ct }
        if input.authorized { fields[.authorization] = "Bearer \(token)" }
        let head = HTTPRequest(method: input.method, scheme: "http", authority: "127.0.0.1", path: input.target,
                               headerFields: fields)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: input.body)))
        // NIOAsyncTestingChannel, not EmbeddedChannel: this task may resume on another thread.
        let channel = NIOAsyncTestingChannel()
        let context = APIRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        // An unclosed channel keeps its pipeline alive (a reference cycle): close it every run.
        defer { Task { _ = try? await channel.finish() } }
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch let error as HTTPResponseError {
            // Errors the router throws itself (e.g. no route): rendered by Hummingbird.
            precondition(documented.contains(Int(error.status.code)), "undocumented status \(error.status.code) for \(input.target)")
            return
        } catch {
            preconditionFailure("the API threw a non-HTTP error for \(input.method) \(input.target): \(error)")
        }
        let code = Int(response.status.code)
        precondition(documented.contains(code), "undocumented status \(code) for \(input.method) \(input.target)")
        let isWatch = response.headers[.contentType]?.hasPrefix("application/json;stream=watch") ?? false
        guard !isWatch else { return }  // a watch streams until its client goes away
        let body = await collect(response)
        if code >= 400 {
            let status = try? JSONDecoder().decode(APIStatus.self, from: Data(body))
            precondition(status?.code == code, "error \(code) for \(input.method) \(input.target) without a matching Status body")
        } else if input.method == .put, code == 200 || code == 201, input.target.split(separator: "/").count == 3 {
            let name = String(input.target.split(separator: "/")[2].split(separator: "?")[0])
            if let stored = try? await store.get(name) {
                precondition(stored.validate().isEmpty, "stored an invalid NameService \(name): \(stored.validate())")
            }
        }
    }

    private func collect(_ response: Response) async -> [UInt8] {
        let writer = CollectingWriter()
        do {
            try await response.body.write(writer)
        } catch {
            preconditionFailure("writing the response body failed: \(error)")
        }
        return writer.bytes
    }
}

private final class CollectingWriter: ResponseBodyWriter, @unchecked Sendable {
    var bytes: [UInt8] = []
    func write(_ buffer: ByteBuffer) async throws { bytes += buffer.readableBytesView }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

private let harness = Harness()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzRequest(UnsafeRawBufferPointer(start: data, count: size))
    let done = DispatchSemaphore(value: 0)
    Task {
        await harness.run(input)
        done.signal()
    }
    done.wait()
    return 0
}

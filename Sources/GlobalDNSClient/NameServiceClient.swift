import Foundation
import GSLB
import NIOCore
import NIOHTTP1

/// The typed NameService API on top of `HTTPClient`: one method per route, errors as `APIError`.
public struct NameServiceClient: Sendable {
    public let http: HTTPClient
    /// Sent as `Authorization: Bearer TOKEN` when set.
    public var token: String?

    public init(http: HTTPClient, token: String? = nil) {
        self.http = http
        self.token = token
    }

    /// `GET /v1/nameservices/{name}`.
    public func get(_ name: String) async throws -> NameService {
        let response = try await send(.GET, try Self.itemPath(name))
        return try Self.decode(NameService.self, response)
    }

    /// Like `get`, but nil when the server answers 404.
    public func getIfPresent(_ name: String) async throws -> NameService? {
        let response = try await http.execute(request(.GET, try Self.itemPath(name)))
        if response.status == .notFound { return nil }
        guard response.isSuccess else { throw APIError(response: response) }
        return try Self.decode(NameService.self, response)
    }

    /// `GET /v1/nameservices[?labelSelector=…]`.
    public func list(labelSelector: String? = nil) async throws -> NameServiceList {
        var query: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        let response = try await send(.GET, "/v1/nameservices" + Self.queryString(query))
        return try Self.decode(NameServiceList.self, response)
    }

    /// `GET /v1/nameservices?limit=N[&continue=…]` page by page (Kubernetes chunking, as
    /// `kubectl get --chunk-size`): calls `onPage` with each page as it arrives, so a list of any
    /// size is held one page at a time. Every page has the first page's `metadata.resourceVersion`.
    /// A continue token that expired between pages throws the server's 410 `APIError`
    /// (`isExpired`): list again from the start. `chunkSize` 0 asks for everything in one response.
    public func listPages(labelSelector: String? = nil, chunkSize: Int = 500,
                          onPage: (NameServiceList) async throws -> Void) async throws {
        var token: String?
        repeat {
            var query: [(String, String)] = []
            if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
            if chunkSize > 0 { query.append(("limit", String(chunkSize))) }
            if let token { query.append(("continue", token)) }
            let response = try await send(.GET, "/v1/nameservices" + Self.queryString(query))
            let page = try Self.decode(NameServiceList.self, response)
            try await onPage(page)
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
    }

    /// `PUT /v1/nameservices/{name}` with the object as JSON (its status left out: the server
    /// owns it). Returns the stored object and whether it was created (201) rather than replaced.
    public func put(_ object: NameService) async throws -> (object: NameService, created: Bool) {
        let (stored, result) = try await put(object, over: nil)
        return (stored, result == .created)
    }

    /// As `put(_:)`, on `connection` when given (kept alive for the next request) or a connection
    /// of its own; says what the write did: `created`, `configured` or `unchanged` (the server's
    /// `GlobalDNS-Write-Result` header; from the status code when a server does not send it).
    public func put(_ object: NameService, over connection: HTTPConnection?) async throws -> (object: NameService, result: ApplyAction) {
        let request = try putRequest(object)
        let response = try await executeRetryingThrottled(request, over: connection)
        guard response.isSuccess else { throw APIError(response: response) }
        let stored = try Self.decode(NameService.self, response)
        let result: ApplyAction = switch response.headers.first(name: "GlobalDNS-Write-Result") {
        case "unchanged": .unchanged
        case "created": .created
        case "configured": .configured
        default: response.status == .created ? .created : .configured
        }
        return (stored, result)
    }

    private func putRequest(_ object: NameService) throws -> HTTPClientRequest {
        var body = object
        body.status = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(body)
        } catch {
            throw ClientError(.invalidManifest, "cannot encode nameservice \"\(object.metadata.name)\": \(error)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return request(.PUT, try Self.itemPath(object.metadata.name), headers: headers, body: ByteBuffer(bytes: data))
    }

    /// `DELETE /v1/nameservices/{name}`.
    public func delete(_ name: String) async throws {
        _ = try await send(.DELETE, try Self.itemPath(name))
    }

    /// `PUT /v1/nameservices/{name}/targets/{target}/drain`: the target is not answered until
    /// undrained or until `until` (RFC 3339) / `durationSeconds` from now. Returns the NameService.
    public func drain(_ name: String, target: String, reason: String, until: String? = nil,
                      durationSeconds: Int64? = nil) async throws -> NameService {
        struct Body: Encodable {
            var reason: String
            var until: String?
            var durationSeconds: Int64?
        }
        let data = try JSONEncoder().encode(Body(reason: reason, until: until, durationSeconds: durationSeconds))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let response = try await send(.PUT, try Self.drainPath(name, target), headers: headers, body: ByteBuffer(bytes: data))
        return try Self.decode(NameService.self, response)
    }

    /// `DELETE /v1/nameservices/{name}/targets/{target}/drain`. Returns the NameService.
    public func undrain(_ name: String, target: String) async throws -> NameService {
        let response = try await send(.DELETE, try Self.drainPath(name, target))
        return try Self.decode(NameService.self, response)
    }

    static func drainPath(_ name: String, _ target: String) throws(ClientError) -> String {
        guard !target.isEmpty else { throw ClientError(.invalidArgument, "a target name is required") }
        return try itemPath(name) + "/targets/" + percentEncode(target) + "/drain"
    }

    /// `GET /v1/nameservices/{name}/status`.
    public func status(_ name: String) async throws -> NameServiceStatus {
        let response = try await send(.GET, try Self.itemPath(name) + "/status")
        return try Self.decode(NameServiceStatus.self, response)
    }

    /// `GET /v1/nameservices?watch=true`: calls `onEvent` for every event until the server ends the
    /// stream or the calling task is cancelled. A non-2xx answer throws its `APIError`.
    public func watch(labelSelector: String? = nil, resourceVersion: String? = nil,
                      onEvent: (WatchEvent) async throws -> Void) async throws {
        var query: [(String, String)] = [("watch", "true")]
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let resourceVersion, !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        let response = try await http.stream(request(.GET, "/v1/nameservices" + Self.queryString(query))) { line in
            try await onEvent(try WatchEvent(line: line))
        }
        guard response.isSuccess else { throw APIError(response: response) }
    }

    /// `GET /readyz`: true when the server answers 200; otherwise false with what it said (503:
    /// "not ready: …", naming a failed component or the store). Transport errors throw.
    public func readiness() async throws -> (ready: Bool, message: String) {
        let response = try await http.execute(request(.GET, "/readyz"))
        if response.isSuccess { return (true, "ready") }
        return (false, APIError(response: response).status.message)
    }

    // MARK: - Plumbing

    private func request(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) -> HTTPClientRequest {
        var headers = headers
        headers.add(name: "Accept", value: "application/json")
        if let token, !token.isEmpty { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return HTTPClientRequest(method: method, path: path, headers: headers, body: body)
    }

    private func send(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) async throws -> HTTPClientResponse {
        let response = try await executeRetryingThrottled(request(method, path, headers: headers, body: body), over: nil)
        guard response.isSuccess else { throw APIError(response: response) }
        return response
    }

    /// Retries of a request answered 429 (the server's per-client rate limit, `api.rateLimit`) at
    /// most: a 429 means the server did nothing with it, so sending it again is safe whatever the
    /// method. Each retry waits the server's `Retry-After` (1 s when absent, at most 30 s).
    public static let maxThrottledRetries = 10

    /// Sends `request` (on `connection` when given), waiting out and retrying a 429 as
    /// `maxThrottledRetries` says; returns the last response.
    func executeRetryingThrottled(_ request: HTTPClientRequest, over connection: HTTPConnection?) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            let response: HTTPClientResponse
            if let connection, connection.isReusable {
                response = try await connection.execute(request)
            } else {
                response = try await http.execute(request)
            }
            guard response.status == .tooManyRequests, attempt < Self.maxThrottledRetries else { return response }
            attempt += 1
            let seconds = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 1
            try await Task.sleep(for: .seconds(min(max(seconds, 1), 30)))
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: HTTPClientResponse) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(response.body.readableBytesView))
        } catch {
            throw ClientError(.invalidResponse, "cannot read the server's \(T.self) answer: \(error)")
        }
    }

    static func itemPath(_ name: String) throws(ClientError) -> String {
        guard !name.isEmpty else { throw ClientError(.invalidArgument, "a nameservice name is required") }
        return "/v1/nameservices/" + percentEncode(name)
    }

    static func queryString(_ items: [(String, String)]) -> String {
        items.isEmpty ? "" : "?" + items.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// Encodes everything but RFC 3986 unreserved characters, so selectors such as
    /// `env in (a,b),team!=x` survive any server's query parser.
    static func percentEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

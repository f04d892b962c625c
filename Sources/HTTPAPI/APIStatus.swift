import Foundation
import Hummingbird
import GSLB
import NameServiceStore

/// The error body of every failed request: a Kubernetes `metav1.Status`, so kubectl-style clients
/// and controllers read it unchanged.
///
/// ```json
/// {"kind":"Status","apiVersion":"v1","status":"Failure","code":422,"reason":"Invalid",
///  "message":"…","details":{"name":"checkout","kind":"NameService",
///  "causes":[{"field":"spec.ttl","reason":"FieldValueInvalid","message":"…"}]}}
/// ```
public struct APIStatus: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public struct Cause: Sendable, Hashable, Codable {
        /// Field path, as `NameService.validate()` spells it (`spec.targets[0].addresses[0]`).
        public var field: String
        /// `FieldValueRequired`, `FieldValueInvalid` or `FieldValueDuplicate`.
        public var reason: String
        public var message: String

        public init(field: String, reason: String, message: String) {
            self.field = field
            self.reason = reason
            self.message = message
        }
    }

    public struct Details: Sendable, Hashable, Codable {
        public var name: String?
        public var kind: String?
        public var causes: [Cause]?
        /// When the client should retry (429, 504), as the Retry-After header also says.
        public var retryAfterSeconds: Int?

        public init(name: String? = nil, kind: String? = nil, causes: [Cause]? = nil, retryAfterSeconds: Int? = nil) {
            self.name = name
            self.kind = kind
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    public var kind: String = "Status"
    public var apiVersion: String = "v1"
    public var status: String = "Failure"
    public var code: Int
    /// Kubernetes `StatusReason`: `BadRequest`, `Unauthorized`, `NotFound`, `Conflict`, `Expired`,
    /// `RequestEntityTooLarge`, `Invalid`, `InternalError`, `ServiceUnavailable`, ….
    public var reason: String
    public var message: String
    public var details: Details?

    public init(code: Int, reason: String, message: String, details: Details? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { "\(code) \(reason): \(message)" }

    static func badRequest(_ message: String, name: String? = nil) -> APIStatus {
        APIStatus(code: 400, reason: "BadRequest", message: message, details: name.map { .init(name: $0, kind: NameService.kindName) })
    }

    static let unauthorized = APIStatus(code: 401, reason: "Unauthorized",
                                        message: "writes need an Authorization: Bearer <token> header with a configured token")

    static func notFound(_ name: String) -> APIStatus {
        APIStatus(code: 404, reason: "NotFound", message: "nameservice \"\(name)\" not found",
                  details: .init(name: name, kind: NameService.kindName))
    }

    static func tooLarge(limit: Int) -> APIStatus {
        APIStatus(code: 413, reason: "RequestEntityTooLarge", message: "request body is larger than the limit of \(limit) bytes")
    }

    /// 422 with one cause per problem.
    static func invalid(_ name: String, _ problems: [ValidationProblem], what: String? = nil) -> APIStatus {
        let causes = problems.map { p in
            Cause(field: p.field, reason: causeReason(p.message), message: p.message)
        }
        let summary = problems.map(\.description).joined(separator: "; ")
        return APIStatus(code: 422, reason: "Invalid", message: "\(what ?? "NameService \"\(name)\"") is invalid: \(summary)",
                         details: .init(name: name, kind: NameService.kindName, causes: causes))
    }

    /// The Kubernetes cause type for a validation message.
    static func causeReason(_ message: String) -> String {
        if message.hasPrefix("unknown field") { return "FieldValueUnknown" }
        if message.hasPrefix("is required") || message.hasPrefix("at least one") { return "FieldValueRequired" }
        if message.contains("duplicates") || message.contains("repeats") { return "FieldValueDuplicate" }
        return "FieldValueInvalid"
    }

    /// The Status for a store failure (409, 404, 503, 500, 400, 410, 504).
    static func from(_ error: StoreError, name: String?) -> APIStatus {
        let details = name.map { Details(name: $0, kind: NameService.kindName) }
        switch error.code {
        case .conflict: return APIStatus(code: 409, reason: "Conflict", message: error.message, details: details)
        case .notFound: return APIStatus(code: 404, reason: "NotFound", message: error.message, details: details)
        case .unavailable:
            return APIStatus(code: 503, reason: "ServiceUnavailable", message: "the NameService store is unavailable, retry later: \(error.message)", details: details)
        case .compacted:
            return APIStatus(code: 410, reason: "Expired", message: "too old resource version: \(error.message)"
                + (error.oldestRevision.map { " (oldest available: \($0))" } ?? ""), details: details)
        case .invalid: return APIStatus(code: 400, reason: "BadRequest", message: error.message, details: details)
        case .expired:
            // Kubernetes' words for an expired continue token (410 Expired): the client lists again.
            return APIStatus(code: 410, reason: "Expired",
                             message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter. (\(error.message))",
                             details: details)
        case .timedOut: return APIStatus(code: 503, reason: "ServiceUnavailable", message: "the NameService store did not answer in time, retry later: \(error.message)", details: details)
        case .tooLargeResourceVersion:
            return APIStatus(code: 504, reason: "Timeout", message: error.message, details: Details(name: name, kind: name.map { _ in NameService.kindName },
                             causes: [Cause(field: "metadata.resourceVersion", reason: "ResourceVersionTooLarge", message: "Too large resource version")]))
        default: return APIStatus(code: 500, reason: "InternalError", message: "stored data could not be read: \(error.message)", details: details)
        }
    }

    static func reason(for code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 409: "Conflict"
        case 410: "Expired"
        case 413: "RequestEntityTooLarge"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 431: "RequestHeaderFieldsTooLarge"
        case 503: "ServiceUnavailable"
        case 504: "Timeout"
        default: code >= 500 ? "InternalError" : "BadRequest"
        }
    }

    /// The JSON body.
    func jsonBuffer() -> ByteBuffer {
        ByteBuffer(bytes: JSONCoding.encode(self))
    }

    func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if code == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"globaldns\"" }
        if let retry = details?.retryAfterSeconds { headers[.retryAfter] = String(retry) }
        return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: jsonBuffer()))
    }
}

import Foundation
import NIOCore
import NIOHTTP1

/// An error the API answered, carrying its `Status` body as the server gave it.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status of the response (or the `code` of a watch ERROR event).
    public var httpStatus: Int
    public var status: APIStatus

    public init(httpStatus: Int, status: APIStatus) {
        self.httpStatus = httpStatus
        self.status = status
    }

    /// Reads a failed response. A body that is not a `Status` (a proxy's HTML page, plain text) is
    /// kept as the message so nothing the server said is lost.
    public init(response: HTTPClientResponse) {
        let data = Data(response.body.readableBytesView)
        if let decoded = try? JSONDecoder().decode(APIStatus.self, from: data), decoded.kind == "Status" {
            self.init(httpStatus: Int(response.status.code), status: decoded)
            return
        }
        let text = response.bodyString.trimmingCharacters(in: .whitespacesAndNewlines)
        let phrase = response.status.reasonPhrase
        self.init(httpStatus: Int(response.status.code), status: APIStatus(
            code: Int(response.status.code),
            reason: phrase.replacingOccurrences(of: " ", with: ""),
            message: text.isEmpty ? "the server responded with \(response.status.code) \(phrase)" : text))
    }

    /// 410 Expired: a continue token (or watch resourceVersion) the server no longer serves; list
    /// again from the start.
    public var isExpired: Bool { httpStatus == 410 }

    /// kubectl's shape: `Error from server (Invalid): <message>`, then one indented line per cause.
    public var description: String {
        let reason = status.reason.isEmpty ? "\(httpStatus)" : status.reason
        let causes = status.details?.causes ?? []
        // The server's message lists every cause too (for curl users); the lines below show them,
        // so the message is cut where the first cause starts rather than printed twice.
        var message = status.message
        if let first = causes.first {
            let text = (first.field.map { $0.isEmpty ? "" : "\($0): " } ?? "") + first.message
            if let range = message.range(of: text), range.lowerBound > message.startIndex {
                message = String(message[..<range.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
        }
        var lines = ["Error from server (\(reason)): \(message)"]
        for cause in causes {
            if let field = cause.field, !field.isEmpty {
                lines.append("  \(field): \(cause.message)")
            } else {
                lines.append("  \(cause.message)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

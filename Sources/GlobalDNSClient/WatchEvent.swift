import Foundation
import GSLB

/// One line of the watch stream: `{"type":"ADDED|MODIFIED|DELETED|ERROR","object":{…}}`. For
/// `ERROR` the object is a `Status`; otherwise a NameService. `line` keeps the raw text for `-o json`.
public struct WatchEvent: Sendable, Hashable {
    public var type: String
    public var object: NameService?
    public var error: APIStatus?
    public var line: String

    /// Parses one line of the stream.
    public init(line: String) throws(ClientError) {
        struct Envelope: Decodable { var type: String }
        struct WithObject<T: Decodable>: Decodable { var object: T }
        let data = Data(line.utf8)
        let decoder = JSONDecoder()
        do {
            type = try decoder.decode(Envelope.self, from: data).type
            if type == "ERROR" {
                error = try decoder.decode(WithObject<APIStatus>.self, from: data).object
                object = nil
            } else {
                object = try decoder.decode(WithObject<NameService>.self, from: data).object
                error = nil
            }
        } catch {
            throw ClientError(.invalidResponse, "unreadable watch event \(line.prefix(200)): \(error)")
        }
        self.line = line
    }

    /// `TYPE NAME fqdn=… ready=…`; an ERROR event reads like any error from the server.
    public var summary: String {
        if let error { return "ERROR \(APIError(httpStatus: error.code, status: error).description)" }
        guard let object else { return type }
        let ready = object.status?.condition(.ready)?.status.rawValue ?? "Unknown"
        return "\(type) \(object.metadata.name) fqdn=\(object.spec.fqdn) ready=\(ready)"
    }
}

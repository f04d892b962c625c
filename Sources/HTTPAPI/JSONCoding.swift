import Foundation
import GSLB

/// The API's one JSON encoder setup: sorted keys (stable output for diffs and tests) and `/` left
/// unescaped (`globaldns.io/v1alpha1`).
enum JSONCoding {
    /// A NameService, or a watch event of one, through `NameServiceJSON.write` (several times
    /// cheaper; the same bytes, or nil and `JSONEncoder` writes it): what lists and watches
    /// encode a million times.
    static func fastEncode(_ value: some Encodable) -> [UInt8]? {
        if let ns = value as? NameService { return NameServiceJSON.write(ns) }
        if let event = value as? WatchEvent<NameService> { return NameServiceJSON.writeEvent(type: event.type, object: event.object) }
        return nil
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Encodes `value`. The API's types are plain structs of strings and numbers, so encoding does
    /// not fail in practice; if it ever does, the bytes are a 500 Status saying why rather than an
    /// empty body.
    static func encode(_ value: some Encodable) -> [UInt8] {
        if let fast = fastEncode(value) { return fast }
        do {
            return Array(try encoder().encode(value))
        } catch {
            let message = "\(error)".replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return Array(#"{"apiVersion":"v1","code":500,"kind":"Status","message":"response encoding failed: \#(message)","reason":"InternalError","status":"Failure"}"#.utf8)
        }
    }
}

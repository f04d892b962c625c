import Foundation

/// The API's one JSON encoder setup: sorted keys (stable output for diffs and tests) and `/` left
/// unescaped (`globaldns.io/v1alpha1`).
enum JSONCoding {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Encodes `value`. The API's types are plain structs of strings and numbers, so encoding does
    /// not fail in practice; if it ever does, the bytes are a 500 Status saying why rather than an
    /// empty body.
    static func encode(_ value: some Encodable) -> [UInt8] {
        do {
            return Array(try encoder().encode(value))
        } catch {
            let message = "\(error)".replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return Array(#"{"apiVersion":"v1","code":500,"kind":"Status","message":"response encoding failed: \#(message)","reason":"InternalError","status":"Failure"}"#.utf8)
        }
    }
}

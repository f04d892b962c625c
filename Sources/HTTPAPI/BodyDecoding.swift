import Foundation
import GSLB
import HTTPTypes
import Hummingbird
import Yams

/// Turns a request body into a `NameService`: JSON or YAML by `Content-Type`, sniffed when the
/// header is absent (a body whose first non-blank byte is `{` is JSON, anything else YAML).
/// A malformed document is a 400 whose message carries the decoder's position or field path.
enum BodyDecoding {
    enum Format: String { case json = "JSON", yaml = "YAML" }

    /// The format for a `Content-Type` value, nil for a type this API does not read (415).
    static func format(contentType: String?, body: [UInt8]) -> Format? {
        guard let contentType, !contentType.isEmpty else { return sniff(body) }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch mediaType {
        case "application/json", "application/merge-patch+json": return .json
        case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml": return .yaml
        case "text/plain", "application/octet-stream", "*/*": return sniff(body)
        default: return nil
        }
    }

    static func sniff(_ body: [UInt8]) -> Format {
        let first = body.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }
        return first == UInt8(ascii: "{") ? .json : .yaml
    }

    /// Decodes `body` as `T`; with a `schema`, also returns the fields the schema does not know
    /// (strict field validation: the caller reports them as it is asked to).
    static func decode<T: Decodable>(_ body: [UInt8], as format: Format, _ type: T.Type = NameService.self,
                                     what: String = "a NameService",
                                     schema: FieldSchema? = nil) throws(APIStatus) -> (value: T, unknown: [UnknownField]) {
        guard !body.isEmpty else { throw APIStatus.badRequest("request body is empty; send \(what) as JSON or YAML") }
        // duplicates, aliases, depth: before the decoder builds its own tree
        let tree = try BodyLimits.check(body, as: format)
        let unknown = schema.flatMap { s in tree.map { s.unknownFields(in: $0) } } ?? []
        do {
            switch format {
            case .json:
                if T.self == NameService.self, unknown.isEmpty, let fast = NameServiceJSON.read(body) as? T { return (fast, unknown) }
                return (try JSONDecoder().decode(T.self, from: Data(body)), unknown)
            case .yaml:
                guard let text = String(validating: body, as: UTF8.self) else {
                    throw APIStatus.badRequest("malformed YAML: the body is not UTF-8")
                }
                return (try YAMLDecoder().decode(T.self, from: text), unknown)
            }
        } catch let status as APIStatus {
            throw status
        } catch let error as DecodingError {
            if format == .json, case .dataCorrupted(let c) = error, c.codingPath.isEmpty {
                throw APIStatus.badRequest("malformed JSON: \(syntaxError(body))")
            }
            throw APIStatus.badRequest("malformed \(format.rawValue): \(describe(error))")
        } catch {
            throw APIStatus.badRequest("malformed \(format.rawValue): \(error)")
        }
    }

    /// `?fieldValidation=` (Kubernetes' spelling: Strict, Warn, Ignore; any case): Strict when absent.
    static func fieldValidation(_ query: Substring?) throws(APIStatus) -> FieldValidation {
        guard let query, !query.isEmpty else { return .strict }
        guard let v = FieldValidation.allCases.first(where: { $0.rawValue.lowercased() == query.lowercased() }) else {
            throw APIStatus(code: 400, reason: "BadRequest", message: "fieldValidation must be Strict, Warn or Ignore, not \"\(query)\"",
                            details: .init(causes: [APIStatus.Cause(field: "fieldValidation", reason: "FieldValueNotSupported",
                                                                    message: "must be Strict, Warn or Ignore")]))
        }
        return v
    }

    /// Unknown fields as validation problems (Strict), or nothing (Warn, Ignore: the caller adds
    /// warnings for Warn).
    static func problems(_ unknown: [UnknownField], _ validation: FieldValidation) -> [ValidationProblem] {
        guard validation == .strict else { return [] }
        return unknown.map { u in
            ValidationProblem(field: u.path, message: "unknown field" + (u.suggestion.map { " (did you mean \"\($0)\"?)" } ?? "")
                + "; ?fieldValidation=Warn accepts it with a warning")
        }
    }

    /// Kubernetes' `Warning: 299 - "unknown field \"spec.polcy\""` headers, one per field (Warn).
    static func warnings(_ unknown: [UnknownField], _ validation: FieldValidation, into response: inout Response) {
        guard validation == .warn, let name = HTTPField.Name("Warning") else { return }
        for u in unknown {
            let text = u.description.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            response.headers.append(HTTPField(name: name, value: "299 - \"\(text)\""))
        }
    }

    /// Where the JSON syntax breaks. `JSONDecoder` on Linux says only "not valid JSON", so the
    /// parser's own message (`Invalid value around character 8.`) is taken from `JSONSerialization`
    /// and the offset turned into a line and column.
    static func syntaxError(_ body: [UInt8]) -> String {
        let text: String
        do {
            _ = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
            return "the data is not valid JSON"
        } catch {
            text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
        }
        guard let r = text.range(of: "character "),
              let offset = Int(text[r.upperBound...].prefix { $0.isNumber }), offset <= body.count else { return text }
        var line = 1, column = 1
        for b in body[..<offset] {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        let sentence = text.hasSuffix(".") ? String(text.dropLast()) : text
        return "\(sentence) (line \(line), column \(column))"
    }

    /// `at spec.targets[0].ratio: expected Int, …` plus the parser's own position when it gave one.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue {
                    s += "[\(i)]"
                } else {
                    s += (s.isEmpty ? "" : ".") + k.stringValue
                }
            }
            return s.isEmpty ? "the document root" : s
        }
        func detail(_ c: DecodingError.Context) -> String {
            var d = c.debugDescription
            if let u = c.underlyingError {
                let text = (u as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(u)"
                if !d.contains(text) { d += " (\(text))" }
            }
            return d
        }
        switch error {
        case .typeMismatch(let type, let c):
            return "at \(path(c.codingPath)): expected \(type): \(detail(c))"
        case .valueNotFound(let type, let c):
            return "at \(path(c.codingPath)): missing \(type) value: \(detail(c))"
        case .keyNotFound(let key, let c):
            return "at \(path(c.codingPath + [key])): required key is missing: \(detail(c))"
        case .dataCorrupted(let c):
            return "at \(path(c.codingPath)): \(detail(c))"
        @unknown default:
            return "\(error)"
        }
    }
}

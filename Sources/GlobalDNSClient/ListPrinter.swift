import Foundation
import GSLB
import Yams

/// Renders a list page by page as it arrives (`globaldnsctl get` with `--chunk-size`): each call
/// returns the text for one page, so nothing but the page in hand is kept.
///
/// - table: the header with the first page; columns as wide as the widest cell seen so far
///   (a later, wider page widens the columns from there on, as kubectl's chunked tables do).
/// - json: one `NameServiceList` document (indented as `NameServiceRendering.json`), the items
///   written as they come, closed by `finish()`.
/// - yaml: one `NameServiceList` document: apiVersion, kind, metadata, then the items.
public struct ListPrinter {
    public enum Format: Sendable { case table, json, yaml }

    public let format: Format
    private var widths: [Int] = []
    private var started = false
    private var items = 0
    private var resourceVersion: String?

    public init(format: Format) { self.format = format }

    /// Objects printed so far.
    public var count: Int { items }

    static let header = ["NAME", "FQDN", "POLICY", "TARGETS", "READY"]

    /// The text for `page` (nil when there is nothing to print for it). Separate pages' texts
    /// join with a newline, as `Terminal.print` does.
    public mutating func page(_ page: NameServiceList) throws -> String? {
        defer { items += page.items.count }
        if resourceVersion == nil { resourceVersion = page.metadata.resourceVersion }
        switch format {
        case .table:
            guard !page.items.isEmpty else { return nil }
            let rows = page.items.map { ns in
                [ns.metadata.name, ns.spec.fqdn, ns.spec.policy.rawValue, NameServiceRendering.targetsColumn(ns),
                 NameServiceRendering.readyColumn(ns)]
            }
            let all = (started ? [] : [Self.header]) + rows
            if widths.isEmpty { widths = Array(repeating: 0, count: Self.header.count) }
            for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
            started = true
            return all.map { row in
                var line = ""
                for (i, cell) in row.enumerated() {
                    line += i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 3)
                }
                while line.hasSuffix(" ") { line.removeLast() }
                return line
            }.joined(separator: "\n")
        case .json:
            var parts: [String] = []
            if !started {
                parts.append("{\n  \"apiVersion\" : \(try Self.jsonValue(NameService.currentAPIVersion)),\n  \"items\" : [")
                started = true
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            var texts: [String] = []
            for ns in page.items {
                let text = String(decoding: try encoder.encode(ns), as: UTF8.self)
                texts.append(text.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"))
            }
            if !texts.isEmpty { parts.append((items > 0 ? "," : "") + texts.joined(separator: ",\n")) }
            return parts.isEmpty ? nil : parts.joined(separator: "\n")
        case .yaml:
            var parts: [String] = []
            if !started {
                var head = "apiVersion: \(NameService.currentAPIVersion)\nkind: NameServiceList\nmetadata:"
                if let rv = resourceVersion {
                    head += "\n  resourceVersion: " + (try Self.yamlScalar(rv))
                } else {
                    head += " {}"
                }
                parts.append(head)
                started = true
            }
            if items == 0 && !page.items.isEmpty { parts.append("items:") }
            for ns in page.items {
                var text = try YAMLEncoder().encode(ns)
                while text.hasSuffix("\n") { text.removeLast() }
                parts.append(text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                    .map { ($0.offset == 0 ? "- " : "  ") + $0.element }.joined(separator: "\n"))
            }
            return parts.isEmpty ? nil : parts.joined(separator: "\n")
        }
    }

    /// The text that ends the list (nil when nothing is left to print). For a table with no
    /// rows, nil: the caller says "No resources found." on stderr as kubectl does.
    public mutating func finish() -> String? {
        switch format {
        case .table:
            return nil
        case .json:
            var text = started ? "" : "{\n  \"apiVersion\" : \"\(NameService.currentAPIVersion)\",\n  \"items\" : ["
            text += (items == 0 ? "" : "\n") + "  ],\n  \"kind\" : \"NameServiceList\",\n  \"metadata\" : {"
            if let rv = resourceVersion, let value = try? Self.jsonValue(rv) {
                text += "\n    \"resourceVersion\" : \(value)\n  }\n}"
            } else {
                text += "\n\n  }\n}"
            }
            return text
        case .yaml:
            if !started { return "apiVersion: \(NameService.currentAPIVersion)\nkind: NameServiceList\nmetadata: {}\nitems: []" }
            return items == 0 ? "items: []" : nil
        }
    }

    private static func jsonValue(_ s: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(s), as: UTF8.self)
    }

    private static func yamlScalar(_ s: String) throws -> String {
        var text = try YAMLEncoder().encode(s)
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

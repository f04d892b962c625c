import Foundation
import GSLB

/// The continue token of a paged list (`ListPage.continueToken`), shared by the stores: opaque to
/// clients (base64url), it carries the revision the whole list is read at (the first page's) and
/// the last name served, as Kubernetes' token carries `rv` and `start`. A token that does not
/// decode, is of another format version or names a revision the store has not reached is
/// rejected with `.invalid` (it was not made by this store).
package enum ContinueToken {
    private static let tag = "gdns-list-v1"

    package static func encode(revision: Int64, after name: String) -> String {
        let raw = Array("\(tag)\n\(revision)\n\(name)".utf8)
        return Data(raw).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The revision and the last name of `token`; `current`, when given, is the store's revision
    /// (a token from beyond it is foreign).
    package static func decode(_ token: String, current: Int64? = nil) throws(StoreError) -> (revision: Int64, after: String) {
        let foreign = StoreError(.invalid, "continue token '\(token.prefix(64))' was not issued by this store (malformed, or from another server); list again without it")
        guard token.utf8.count <= 4096 else { throw foreign }
        var b64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.utf8.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let text = String(data: data, encoding: .utf8) else { throw foreign }
        let parts = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == tag, let revision = Int64(parts[1]), revision >= 0, !parts[2].isEmpty else { throw foreign }
        if let current, revision > current { throw foreign }
        return (revision, String(parts[2]))
    }
}

/// Names in the order every store lists them: by their UTF-8 bytes (SQLite's BINARY collation,
/// etcd's key order).
@inline(__always)
package func nameOrder(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

extension StoreError {
    /// A continue token whose revision is older than the history reaches (Kubernetes 410 Expired).
    package static func expiredToken(revision: Int64, oldest: Int64?) -> StoreError {
        StoreError(.expired,
                   "the continue token's list revision \(revision) is older than the change history reaches"
                       + (oldest.map { " (oldest kept change: \($0))" } ?? "") + "; list again from the start",
                   oldestRevision: oldest)
    }
}

/// A label map as a short canonical text (`key=value` pairs sorted by key, one per line, `%`, `=`
/// and newlines escaped), as the SQLite store keeps it in its own column: a list filters and the
/// index is built at open without decoding a document, and identical label sets share one text.
package enum LabelText {
    package static func encode(_ labels: [String: String]) -> String {
        guard !labels.isEmpty else { return "" }
        return labels.sorted { nameOrder($0.key, $1.key) }.map { escape($0.key) + "=" + escape($0.value) }.joined(separator: "\n")
    }

    /// Nil when `text` is not one `encode` makes.
    package static func decode(_ text: String) -> [String: String]? {
        guard !text.isEmpty else { return [:] }
        var labels: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, let k = unescape(kv[0]), let v = unescape(kv[1]) else { return nil }
            labels[k] = v
        }
        return labels
    }

    private static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\n") }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "=": out += "%3D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    private static func unescape(_ s: Substring) -> String? {
        guard s.contains("%") else { return String(s) }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "%" {
                let end = s.index(i, offsetBy: 3, limitedBy: s.endIndex) ?? s.endIndex
                switch s[i..<end] {
                case "%25": out += "%"
                case "%3D": out += "="
                case "%0A": out += "\n"
                default: return nil
                }
                i = end
            } else {
                out.append(s[i])
                i = s.index(after: i)
            }
        }
        return out
    }
}

extension LabelSelector {
    /// The `key=value` requirements (the ones a label index answers).
    package var equalities: [(key: String, value: String)] {
        requirements.compactMap { r in
            if case .equals(let k, let v) = r { return (k, v) }
            return nil
        }
    }
}

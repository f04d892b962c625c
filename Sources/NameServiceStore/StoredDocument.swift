import Foundation
import GSLB

extension NameService {
    /// A stored document (a row, an event, an etcd value) as a NameService: read by
    /// `NameServiceJSON`, and by `decoder` when that leaves it (so the value, or the error, is
    /// `JSONDecoder`'s either way). Every store decodes its documents here.
    public static func decodeStored(_ bytes: some ContiguousBytes, decoder: JSONDecoder) throws -> NameService {
        try bytes.withUnsafeBytes { raw in
            if let fast = NameServiceJSON.read(raw) { return fast }
            return try decoder.decode(NameService.self, from: Data(raw))
        }
    }
}

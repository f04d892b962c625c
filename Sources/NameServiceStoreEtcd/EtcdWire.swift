import Foundation

/// The etcd v3 JSON gateway's messages (etcd's `rpc.proto` as grpc-gateway renders it): field
/// names in snake_case, keys and values base64 (Foundation's `Data` coding), int64 as strings, and
/// fields at their zero value left out. Only the fields this store uses.
enum EtcdWire {
    /// An int64 the gateway writes as a JSON string (and accepts as one).
    struct Int64String: Codable, Sendable, Hashable {
        var value: Int64
        init(_ value: Int64) { self.value = value }
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int64.self) {
                value = n
            } else {
                let s = try c.decode(String.self)
                guard let n = Int64(s) else {
                    throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not an int64")
                }
                value = n
            }
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(String(value))
        }
    }

    struct ResponseHeader: Decodable, Sendable {
        var revision: Int64String?
        var rev: Int64 { revision?.value ?? 0 }
    }

    struct KeyValue: Decodable, Sendable {
        var key: Data
        var createRevision: Int64String?
        var modRevision: Int64String?
        var version: Int64String?
        var value: Data?
    }

    struct RangeRequest: Encodable {
        var key: Data
        var rangeEnd: Data?
        var limit: Int64String?
        /// Read as of this revision (0: the latest).
        var revision: Int64String?
        var countOnly: Bool?
    }

    struct RangeResponse: Decodable, Sendable {
        var header: ResponseHeader?
        var kvs: [KeyValue]?
        var more: Bool?
        var count: Int64String?
    }

    struct PutRequest: Encodable {
        var key: Data
        var value: Data
    }

    struct DeleteRangeRequest: Encodable {
        var key: Data
        var prevKv: Bool?
    }

    struct DeleteRangeResponse: Decodable, Sendable {
        var header: ResponseHeader?
        var deleted: Int64String?
        var prevKvs: [KeyValue]?
    }

    struct Compare: Encodable {
        var key: Data
        /// `MOD` or `CREATE`.
        var target: String
        var result = "EQUAL"
        var modRevision: Int64String?
        var createRevision: Int64String?

        /// The key was last written at `revision`.
        static func modified(_ key: Data, at revision: Int64) -> Compare {
            Compare(key: key, target: "MOD", modRevision: Int64String(revision))
        }

        /// The key does not exist (etcd: create_revision == 0).
        static func absent(_ key: Data) -> Compare {
            Compare(key: key, target: "CREATE", createRevision: Int64String(0))
        }
    }

    struct RequestOp: Encodable {
        var requestRange: RangeRequest?
        var requestPut: PutRequest?
        var requestDeleteRange: DeleteRangeRequest?
    }

    struct TxnRequest: Encodable {
        var compare: [Compare]
        var success: [RequestOp]
        var failure: [RequestOp]
    }

    struct ResponseOp: Decodable, Sendable {
        var responseRange: RangeResponse?
        var responseDeleteRange: DeleteRangeResponse?
    }

    struct TxnResponse: Decodable, Sendable {
        var header: ResponseHeader?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct CompactionRequest: Encodable {
        var revision: Int64String
        var physical: Bool?
    }

    struct Empty: Codable {}

    struct AuthenticateRequest: Encodable {
        var name: String
        var password: String
    }

    struct AuthenticateResponse: Decodable {
        var token: String?
    }

    struct WatchCreateRequest: Encodable {
        var key: Data
        var rangeEnd: Data?
        var startRevision: Int64String?
        var progressNotify: Bool?
        var prevKv: Bool?
    }

    struct WatchRequest: Encodable {
        var createRequest: WatchCreateRequest
    }

    struct Event: Decodable, Sendable {
        /// `DELETE`, or absent for a put (the enum's zero value).
        var type: String?
        var kv: KeyValue
        var prevKv: KeyValue?
    }

    struct WatchResult: Decodable, Sendable {
        var header: ResponseHeader?
        var created: Bool?
        var canceled: Bool?
        var compactRevision: Int64String?
        var cancelReason: String?
        var events: [Event]?
    }

    /// One line of the watch stream: a result, or the gateway's error.
    struct WatchLine: Decodable, Sendable {
        var result: WatchResult?
        var error: ErrorBody?
    }

    /// The gateway's error body (gRPC status code and message).
    struct ErrorBody: Decodable, Sendable {
        var error: String?
        var message: String?
        var code: Int?
        var text: String { message ?? error ?? "unknown error" }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    /// The first key after every key starting with `prefix` (etcd's range_end for a prefix).
    static func prefixEnd(_ prefix: Data) -> Data {
        var bytes = [UInt8](prefix)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes)
            }
            bytes.removeLast()
        }
        return Data([0])  // every key
    }
}

import Foundation
import NameServiceStore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// etcd's KV, watch, auth and maintenance calls over the JSON gateway, with fail-over between
/// members and every failure mapped to a `StoreError`:
///
/// - A member that refuses, times out, closes, or answers "unavailable" (no leader, no quorum,
///   request timed out) is left for the next one; when none answers the call fails with
///   `.unavailable` "etcd unreachable at <endpoints>: <why, per member>". The member that answered
///   last is tried first next time.
/// - "required revision has been compacted" → `.compacted`; a rejected request → `.invalid`.
/// - With a user configured, a token is fetched from `/v3/auth/authenticate` and sent as the
///   `Authorization` header; an expired or invalid token is renewed once per call.
/// - `reachability` remembers whether the last call (or watch connect) reached etcd, for `/readyz`.
final class EtcdClient: Sendable {
    let endpoints: [EtcdEndpoint]
    let configuration: EtcdConfiguration
    let http: EtcdHTTP

    private struct State {
        var preferred = 0
        var token: String?
        var lastFailure: String?
    }
    private let state = NIOLockedValueBox(State())

    init(configuration: EtcdConfiguration, group: any EventLoopGroup) throws(StoreError) {
        guard !configuration.endpoints.isEmpty else { throw StoreError(.invalid, "etcd: no endpoints configured") }
        var endpoints: [EtcdEndpoint] = []
        for text in configuration.endpoints {
            guard let e = EtcdEndpoint(parsing: text, tlsByDefault: configuration.tls != nil) else {
                throw StoreError(.invalid, "etcd endpoint '\(text)' is not http(s)://HOST:PORT or HOST:PORT")
            }
            endpoints.append(e)
        }
        var ssl: NIOSSLContext?
        // An https:// endpoint without a `tls` section: the system's roots, no client certificate.
        if let tls = configuration.tls ?? (endpoints.contains(where: \.tls) ? EtcdConfiguration.TLS() : nil) {
            if let name = tls.serverName, name.isEmpty || EtcdEndpoint.isIPAddress(name) {
                throw StoreError(.invalid, "etcd TLS: serverName '\(name)' must be a DNS name (an IP endpoint is checked against "
                                 + "the certificate's IP addresses without it)")
            }
            if (tls.certFile == nil) != (tls.keyFile == nil) {
                throw StoreError(.invalid, "etcd TLS: certFile and keyFile go together")
            }
            do {
                var c = TLSConfiguration.makeClientConfiguration()
                if let ca = tls.caFile { c.trustRoots = .file(ca) }
                if let cert = tls.certFile {
                    c.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                }
                if let key = tls.keyFile { c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)) }
                ssl = try NIOSSLContext(configuration: c)
            } catch {
                throw StoreError(.invalid, "etcd TLS: cannot load the CA, certificate or key: \(error)")
            }
        }
        self.endpoints = endpoints
        self.configuration = configuration
        http = EtcdHTTP(group: group, sslContext: ssl, serverName: configuration.tls?.serverName,
                        clientCertificate: configuration.tls?.certFile != nil,
                        dialTimeout: .nanoseconds(Int64(configuration.dialTimeoutSeconds * 1e9)),
                        requestTimeout: .nanoseconds(Int64(configuration.requestTimeoutSeconds * 1e9)))
    }

    var endpointList: String { endpoints.map(\.description).joined(separator: ",") }

    /// Whether etcd answered the last call; the reason when it did not.
    var reachability: (reachable: Bool, reason: String) {
        state.withLockedValue { s in
            s.lastFailure.map { (false, $0) } ?? (true, "etcd reachable at \(endpoints[s.preferred])")
        }
    }

    func noteReached(_ index: Int) {
        state.withLockedValue { $0.preferred = index; $0.lastFailure = nil }
    }

    func noteUnreachable(_ message: String) {
        state.withLockedValue { $0.lastFailure = message }
    }

    /// The endpoint indices in the order to try them: the last good one first.
    func order() -> [Int] {
        let first = state.withLockedValue { $0.preferred }
        return (0..<endpoints.count).map { (first + $0) % endpoints.count }
    }

    // MARK: Calls

    func range(_ r: EtcdWire.RangeRequest) async throws(StoreError) -> EtcdWire.RangeResponse {
        try await call("/v3/kv/range", r)
    }

    func txn(_ t: EtcdWire.TxnRequest) async throws(StoreError) -> EtcdWire.TxnResponse {
        try await call("/v3/kv/txn", t)
    }

    func compact(_ revision: Int64) async throws(StoreError) {
        let _: EtcdWire.Empty = try await call("/v3/kv/compaction", EtcdWire.CompactionRequest(revision: .init(revision), physical: true))
    }

    /// POSTs `request` to `path` on the first member that answers, and decodes its answer.
    func call<Request: Encodable, Response: Decodable>(_ path: String, _ request: Request) async throws(StoreError) -> Response {
        let body: [UInt8]
        do { body = Array(try EtcdWire.encoder.encode(request)) } catch {
            throw StoreError(.invalid, "etcd \(path): cannot encode the request: \(error)")
        }
        var failures: [String] = []
        for index in order() {
            let endpoint = endpoints[index]
            do {
                let answer = try await postAuthenticated(endpoint, path, body)
                if answer.status == 200 {
                    noteReached(index)
                    return try decode(Response.self, answer.body, what: "\(endpoint)\(path)")
                }
                let error = Self.errorBody(answer)
                if Self.isTransient(answer.status, error) {
                    failures.append("\(endpoint): \(error.text)")
                    continue
                }
                noteReached(index)  // it answered; the request itself failed
                throw Self.storeError(error, path: path, endpoint: endpoint)
            } catch let error as StoreError {
                throw error
            } catch {
                failures.append("\(endpoint): \(error)")
            }
        }
        let message = "etcd unreachable at \(endpointList): \(failures.joined(separator: "; "))"
        noteUnreachable(message)
        throw StoreError(.unavailable, message)
    }

    /// One POST with the current token; renews the token once when etcd says it is not valid.
    func postAuthenticated(_ endpoint: EtcdEndpoint, _ path: String, _ body: [UInt8]) async throws -> EtcdHTTPAnswer {
        let token = try await token(endpoint, renew: false)
        let answer = try await http.post(endpoint, path, body: body, token: token)
        if token != nil, answer.status == 401 || Self.errorBody(answer).code == 16 {
            return try await http.post(endpoint, path, body: body, token: try await self.token(endpoint, renew: true))
        }
        return answer
    }

    /// The auth token (nil without a user), fetched from `endpoint` when missing or `renew`.
    func token(_ endpoint: EtcdEndpoint, renew: Bool) async throws -> String? {
        guard let user = configuration.username else { return nil }
        if !renew, let t = state.withLockedValue({ $0.token }) { return t }
        let body = Array(try EtcdWire.encoder.encode(EtcdWire.AuthenticateRequest(name: user, password: configuration.password ?? "")))
        let answer = try await http.post(endpoint, "/v3/auth/authenticate", body: body, token: nil)
        guard answer.status == 200 else {
            let error = Self.errorBody(answer)
            if Self.isTransient(answer.status, error) { throw EtcdTransportError(description: error.text) }
            throw StoreError(.unavailable, "etcd at \(endpoint) refused user \(user): \(error.text)")
        }
        let response = try decode(EtcdWire.AuthenticateResponse.self, answer.body, what: "\(endpoint)/v3/auth/authenticate")
        guard let t = response.token, !t.isEmpty else {
            throw StoreError(.unavailable, "etcd at \(endpoint) gave no token to user \(user) (is authentication enabled?)")
        }
        state.withLockedValue { $0.token = t }
        return t
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(StoreError) -> T {
        do {
            return try EtcdWire.decoder.decode(T.self, from: Data(bytes))
        } catch {
            throw StoreError(.corrupt, "etcd \(what): unreadable answer (\(error)): \(String(decoding: bytes.prefix(300), as: UTF8.self))")
        }
    }

    static func errorBody(_ answer: EtcdHTTPAnswer) -> EtcdWire.ErrorBody {
        (try? EtcdWire.decoder.decode(EtcdWire.ErrorBody.self, from: Data(answer.body)))
            ?? EtcdWire.ErrorBody(error: nil, message: "HTTP \(answer.status): \(String(decoding: answer.body.prefix(200), as: UTF8.self))", code: nil)
    }

    /// Worth another member: gRPC Unavailable / DeadlineExceeded, or a member without a leader.
    static func isTransient(_ status: Int, _ error: EtcdWire.ErrorBody) -> Bool {
        if error.code == 14 || error.code == 4 || status == 503 || status == 504 { return true }
        let text = error.text
        return ["no leader", "timed out", "leader changed", "not capable", "too many requests", "stopped"]
            .contains { text.contains($0) }
    }

    static func storeError(_ error: EtcdWire.ErrorBody, path: String, endpoint: EtcdEndpoint) -> StoreError {
        let text = error.text
        if text.contains("compacted") { return StoreError(.compacted, "etcd: \(text)") }
        if error.code == 16 || error.code == 7 || text.contains("user name is empty") || text.contains("auth") {
            return StoreError(.unavailable, "etcd at \(endpoint) refused access: \(text) (check store.etcd.username and its password)")
        }
        switch error.code {
        case 3, 11: return StoreError(.invalid, "etcd \(path) at \(endpoint) refused the request: \(text)")
        default: return StoreError(.unavailable, "etcd \(path) at \(endpoint) failed: \(text)")
        }
    }
}

import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Logging
import NameServiceStore
import NameServiceStoreTesting
import Testing

let writerToken = "s3cret-writer-token"
let authHeaders: HTTPFields = [.authorization: "Bearer \(writerToken)", .contentType: "application/json"]

func testLogger() -> Logger {
    var logger = Logger(label: "HTTPAPITests")
    logger.logLevel = .warning
    return logger
}

/// An API over `store` with one token (`ci` → `writerToken`) unless `tokens` says otherwise.
func makeAPI(_ store: any NameServiceStore = InMemoryNameServiceStore(), tokens: [String: String] = ["ci": writerToken],
             maxBodyBytes: Int = APIConfiguration.defaultMaxBodyBytes,
             readiness: @escaping @Sendable () -> (ready: Bool, reason: String) = { (true, "ready") },
             metrics: (@Sendable () async -> String)? = nil, limits: APILimits = APILimits()) -> NameServiceAPI {
    NameServiceAPI(store: store, configuration: APIConfiguration(tokens: tokens, maxBodyBytes: maxBodyBytes, readiness: readiness,
                                                                 metrics: metrics, limits: limits),
                   logger: testLogger())
}

func routerApp(_ api: NameServiceAPI) -> some ApplicationProtocol {
    Application(router: api.makeRouter(), logger: testLogger())
}

/// A valid NameService document as JSON.
func checkoutJSON(name: String = "checkout", fqdn: String = "checkout.g.example.com", labels: [String: String] = ["team": "payments"],
                  ttl: Int = 30, resourceVersion: String? = nil) -> String {
    let labelText = labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
    let rv = resourceVersion.map { ",\"resourceVersion\":\"\($0)\"" } ?? ""
    return """
    {"apiVersion":"globaldns.io/v1alpha1","kind":"NameService",
     "metadata":{"name":"\(name)","labels":{\(labelText)}\(rv)},
     "spec":{"fqdn":"\(fqdn)","ttl":\(ttl),"policy":"RoundRobin",
             "targets":[{"name":"lvs-a","addresses":["10.10.1.7","2001:db8::7"]}]}}
    """
}

let checkoutYAML = """
apiVersion: globaldns.io/v1alpha1
kind: NameService
metadata:
  name: checkout
  labels: {team: payments}
spec:
  fqdn: checkout.g.example.com
  ttl: 60
  policy: Locality
  healthCheck: {port: 443, intervalSeconds: 4, timeoutSeconds: 3}
  targets:
  - name: lvs-us-west-1a
    addresses: [10.10.1.7, "2001:db8::7"]
    locality: us-west/us-west-1a
    ratio: 99
"""

func buffer(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
}

func bodyText(_ response: TestResponse) -> String { String(buffer: response.body) }

/// PUTs `body` as JSON with the writer token; returns the response.
@discardableResult
func put(_ client: some TestClientProtocol, _ name: String, _ body: String, headers: HTTPFields = authHeaders) async throws -> TestResponse {
    try await client.execute(uri: "/v1/nameservices/\(name)", method: .put, headers: headers, body: buffer(body))
}

/// Watch lines of a finished stream body: `(type, name)`.
func watchLines(_ text: String) throws -> [(type: String, name: String, resourceVersion: String?)] {
    try text.split(separator: "\n").map { line in
        let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        let type = obj["type"] as! String
        let object = obj["object"] as! [String: Any]
        let meta = object["metadata"] as? [String: Any]
        return (type, meta?["name"] as? String ?? "", meta?["resourceVersion"] as? String)
    }
}

/// A store whose every operation fails with `code`: for the 503/500/400 mappings.
struct FailingStore: NameServiceStore {
    let code: StoreError.Code
    var error: StoreError { StoreError(code, "simulated \(code) failure") }
    func get(_ name: String) async throws(StoreError) -> NameService? { throw error }
    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) { throw error }
    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService { throw error }
    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService { throw error }
    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService { throw error }
    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService { throw error }
    func revision() async throws(StoreError) -> Int64 { throw error }
    func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        AsyncThrowingStream { $0.finish(throwing: error) }
    }
}

/// Delegates to an in-memory store and counts watch streams still open, so tests can see a watch
/// end when its client goes away.
final class CountingStore: NameServiceStore, @unchecked Sendable {
    let inner = InMemoryNameServiceStore()
    private let lock = NSLock()
    private var open = 0
    var openWatches: Int { lock.withLock { open } }
    /// When set, lists wait until it is open (a slow list, for the per-client caps).
    let listGate: Gate?

    init(listGate: Gate? = nil) { self.listGate = listGate }

    func get(_ name: String) async throws(StoreError) -> NameService? { try await inner.get(name) }
    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) {
        while let gate = listGate, !gate.isOpen { try? await Task.sleep(for: .milliseconds(10)) }
        return try await inner.list(selector: selector)
    }
    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService { try await inner.put(nameService, ifVersion: ifVersion) }
    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await inner.updateStatus(name, status: status, ifGeneration: ifGeneration)
    }
    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await inner.updateDrains(name, drains: drains, ifVersion: ifVersion)
    }
    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService { try await inner.delete(name, ifVersion: ifVersion) }
    func revision() async throws(StoreError) -> Int64 { try await inner.revision() }
    func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        lock.withLock { open += 1 }
        let source = inner.watch(fromRevision: fromRevision)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: StoreEvent.self, throwing: (any Error).self)
        let task = Task {
            do {
                for try await e in source { continuation.yield(e) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { [weak self] _ in
            task.cancel()
            self?.lock.withLock { self?.open -= 1 }
        }
        return stream
    }
}

/// Polls `condition` every 20 ms for at most `seconds`.
func eventually(within seconds: Double = 5, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

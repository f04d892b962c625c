import Foundation
import GlobalDNSClient
import GSLB
import HTTPAPI
import Hummingbird
import Logging
import NameServiceStore
import NameServiceStoreTesting
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import Yams

/// Runs the real API (`APIServer`, every limit but the rate limit, which these bulk tests would
/// hit) over `store` on 127.0.0.1 and an ephemeral port for the duration of `body`.
func withRealAPI<T: Sendable>(_ store: any NameServiceStore, maxListLimit: Int = 500, rateLimit: (perSecond: Double, burst: Int)? = nil,
                              _ body: @Sendable (_ api: NameServiceAPI, _ port: Int) async throws -> T) async throws -> T {
    var logger = Logger(label: "GlobalDNSClientTests")
    logger.logLevel = .warning
    var limits = APILimits()
    limits.rateLimitPerSecond = rateLimit?.perSecond ?? 0
    limits.rateLimitBurst = rateLimit?.burst ?? 200
    limits.maxListLimit = maxListLimit
    let api = NameServiceAPI(store: store, configuration: APIConfiguration(limits: limits), logger: logger)
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = APIServer(api: api, address: .hostname("127.0.0.1", port: 0)) { channel in
        portContinuation.yield(channel.localAddress?.port ?? -1)
        portContinuation.finish()
    }
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(10))
            portContinuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()
        timeout.cancel()
        guard let port, port > 0 else {
            await group.triggerGracefulShutdown()
            throw ClientError(.connectFailed, "the API did not start within 10 s")
        }
        do {
            let value = try await body(api, port)
            await group.triggerGracefulShutdown()
            for try await _ in tasks {}
            return value
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }
}

func realClient(_ port: Int) throws -> NameServiceClient {
    NameServiceClient(http: HTTPClient(server: try ServerAddress(parsing: "http://127.0.0.1:\(port)")))
}

func object(_ name: String, ttl: Int = 30, labels: [String: String] = [:], fqdn: String? = nil) -> NameService {
    NameService(metadata: ObjectMeta(name: name, labels: labels),
                spec: NameServiceSpec(fqdn: fqdn ?? "\(name).g.example.com", ttl: ttl, policy: .roundRobin,
                                      targets: [Target(name: "a", addresses: ["192.0.2.1"])]))
}

func padded(_ i: Int) -> String {
    let digits = String(i)
    return "svc-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
}

/// Delegates to an in-memory store; counts PUTs in flight at once (each held a little, so
/// concurrent requests overlap) and can make list reads after the first fail `.expired`.
final class ObservedStore: NameServiceStore, @unchecked Sendable {
    let inner = InMemoryNameServiceStore()
    private let lock = NSLock()
    private var inFlight = 0
    private var peak = 0
    private var reads = 0
    var putDelay: Duration = .zero
    var expireAfterReads: Int?

    var peakPutsInFlight: Int { lock.withLock { peak } }

    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService {
        lock.withLock {
            inFlight += 1
            peak = max(peak, inFlight)
        }
        defer { lock.withLock { inFlight -= 1 } }
        if putDelay > .zero { try? await Task.sleep(for: putDelay) }
        return try await inner.put(nameService, ifVersion: ifVersion)
    }

    private func read() throws(StoreError) {
        let fail: Bool = lock.withLock {
            reads += 1
            return expireAfterReads.map { reads > $0 } ?? false
        }
        if fail { throw StoreError(.expired, "revision compacted (test)") }
    }

    func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage {
        try read()
        return try await inner.listPage(options)
    }
    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) {
        try read()
        return try await inner.list(selector: selector)
    }
    func get(_ name: String) async throws(StoreError) -> NameService? { try await inner.get(name) }
    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await inner.updateStatus(name, status: status, ifGeneration: ifGeneration)
    }
    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await inner.updateDrains(name, drains: drains, ifVersion: ifVersion)
    }
    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService { try await inner.delete(name, ifVersion: ifVersion) }
    func revision() async throws(StoreError) -> Int64 { try await inner.revision() }
    func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> { inner.watch(fromRevision: fromRevision) }
}

/// Results of `applyAll`, collected from its callback.
final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: [Result<ApplyAction, any Error>]] = [:]
    func add(_ i: Int, _ r: Result<ApplyAction, any Error>) { lock.withLock { results[i, default: []].append(r) } }
    var all: [Int: [Result<ApplyAction, any Error>]] { lock.withLock { results } }
}

/// globaldnsctl's client against the real API (issue 13): one PUT per apply, concurrent applies
/// on kept-alive connections, lists in pages.
@Suite struct RealAPITests {
    @Test func applyReportsCreatedUnchangedConfiguredWithOnePutEach() async throws {
        let store = InMemoryNameServiceStore()
        try await withRealAPI(store) { _, port in
            let client = try realClient(port)
            var ns = object("api", labels: ["team": "web"])
            #expect(try await client.apply(ns) == .created)
            let first = try await client.get("api")
            #expect(try await client.apply(ns) == .unchanged)
            #expect(try await client.get("api").metadata.resourceVersion == first.metadata.resourceVersion)  // nothing written
            ns.spec.ttl = 60
            #expect(try await client.apply(ns) == .configured)
            ns.metadata.labels["env"] = "prod"
            #expect(try await client.apply(ns) == .configured)
            #expect(try await client.apply(ns) == .unchanged)
            let stored = try await client.get("api")
            #expect(stored.spec.ttl == 60 && stored.metadata.generation == 2)
            // a manifest with a stale resourceVersion: unchanged when it says what is stored, 409 otherwise
            var stale = ns
            stale.metadata.resourceVersion = first.metadata.resourceVersion
            #expect(try await client.apply(stale) == .unchanged)
            stale.spec.ttl = 90
            await #expect(throws: APIError.self) { try await client.apply(stale) }
        }
    }

    /// Many objects, `concurrency` in flight on kept-alive connections; an invalid object fails
    /// on its own, every other one is applied; every object reported exactly once.
    @Test func applyAllRunsConcurrentlyOnKeptAliveConnectionsAndReportsEachObject() async throws {
        let store = ObservedStore()
        store.putDelay = .milliseconds(5)
        try await withRealAPI(store) { api, port in
            let client = try realClient(port)
            let count = 300
            let invalid: Set<Int> = [7, 150, 299]
            let objects = (0..<count).map { i in object(padded(i), fqdn: invalid.contains(i) ? "bad..name" : nil) }
            let outcomes = Outcomes()
            try await client.applyAll(objects, concurrency: 8) { i, r in outcomes.add(i, r) }
            let all = outcomes.all
            #expect(all.count == count && all.values.allSatisfy { $0.count == 1 })
            for (i, results) in all {
                switch results[0] {
                case .success(let action):
                    #expect(!invalid.contains(i) && action == .created)
                case .failure(let error):
                    #expect(invalid.contains(i))
                    #expect((error as? APIError)?.httpStatus == 422, "\(error)")
                }
            }
            #expect(try await store.inner.list(selector: nil).items.count == count - invalid.count)
            #expect(store.peakPutsInFlight > 1 && store.peakPutsInFlight <= 8, "peak \(store.peakPutsInFlight)")
            // kept alive: a connection per worker (and one more where the server closed one after an error)
            #expect(api.connections.admittedTotal <= 8 + invalid.count, "connections: \(api.connections.admittedTotal)")

            // again: all unchanged, nothing written
            let before = try await store.revision()
            let again = Outcomes()
            try await client.applyAll(objects.enumerated().filter { !invalid.contains($0.offset) }.map(\.element), concurrency: 16) { i, r in again.add(i, r) }
            #expect(again.all.count == count - invalid.count)
            #expect(again.all.values.allSatisfy { if case .success(.unchanged) = $0[0] { true } else { false } })
            #expect(try await store.revision() == before)
        }
    }

    /// A server's rate limit (429 with Retry-After) is waited out: every object is applied.
    @Test func applyAllWaitsOutTheRateLimit() async throws {
        let store = InMemoryNameServiceStore()
        try await withRealAPI(store, rateLimit: (perSecond: 10, burst: 5)) { _, port in
            let client = try realClient(port)
            let outcomes = Outcomes()
            try await client.applyAll((0..<25).map { object(padded($0)) }, concurrency: 8) { i, r in outcomes.add(i, r) }
            #expect(outcomes.all.count == 25)
            #expect(outcomes.all.values.allSatisfy { if case .success(.created) = $0[0] { true } else { false } })
            #expect(try await store.list(selector: nil).items.count == 25)
        }
    }

    @Test func applyAllStopsWhenTheServerCannotBeReached() async throws {
        // a port nothing listens on: bind one, close it
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress?.port ?? 1
        try await probe.close()
        let client = try realClient(port)
        let outcomes = Outcomes()
        await #expect(throws: ClientError.self) {
            try await client.applyAll((0..<50).map { object(padded($0)) }, concurrency: 4) { i, r in outcomes.add(i, r) }
        }
        #expect(outcomes.all.count < 50)
    }

    /// `get` pages: every object once, in order, at one resourceVersion; printed page by page as
    /// a table (one header), JSON and YAML that read back as the whole list.
    @Test func listPagesAndPrintsAsItGoes() async throws {
        let store = InMemoryNameServiceStore()
        let count = 1_234
        for i in 0..<count { _ = try await store.put(object(padded(i), labels: ["tier": i % 2 == 0 ? "even" : "odd"]), ifVersion: nil) }
        try await withRealAPI(store) { _, port in
            let client = try realClient(port)
            var names: [String] = []
            var sizes: [Int] = []
            var revisions: Set<String> = []
            var table = ListPrinter(format: .table), json = ListPrinter(format: .json), yaml = ListPrinter(format: .yaml)
            var tableText: [String] = [], jsonText: [String] = [], yamlText: [String] = []
            try await client.listPages(chunkSize: 100) { page in
                names += page.items.map(\.metadata.name)
                sizes.append(page.items.count)
                revisions.insert(page.metadata.resourceVersion ?? "")
                if let t = try table.page(page) { tableText.append(t) }
                if let t = try json.page(page) { jsonText.append(t) }
                if let t = try yaml.page(page) { yamlText.append(t) }
            }
            if let t = json.finish() { jsonText.append(t) }
            if let t = yaml.finish() { yamlText.append(t) }
            #expect(sizes.count == 13 && sizes.dropLast().allSatisfy { $0 == 100 } && sizes.last == 34)
            #expect(names == (0..<count).map(padded))
            #expect(revisions == [String(count)])
            #expect(tableText.count == 13)
            let rows = tableText.joined(separator: "\n").split(separator: "\n")
            #expect(rows.count == count + 1 && rows[0].hasPrefix("NAME") && rows.filter { $0.hasPrefix("NAME") }.count == 1)
            let fromJSON = try JSONDecoder().decode(GlobalDNSClient.NameServiceList.self, from: Data(jsonText.joined(separator: "\n").utf8))
            #expect(fromJSON.items.map(\.metadata.name) == names && fromJSON.metadata.resourceVersion == String(count))
            let fromYAML = try YAMLDecoder().decode(GlobalDNSClient.NameServiceList.self, from: yamlText.joined(separator: "\n"))
            #expect(fromYAML.items.map(\.metadata.name) == names && fromYAML.metadata.resourceVersion == String(count))

            // with a selector, pages count matching objects only
            var odd = 0
            try await client.listPages(labelSelector: "tier=odd", chunkSize: 250) { page in odd += page.items.count }
            #expect(odd == count / 2)
        }
    }

    @Test func emptyListsPrintValidDocuments() async throws {
        try await withRealAPI(InMemoryNameServiceStore()) { _, port in
            let client = try realClient(port)
            var json = ListPrinter(format: .json), yaml = ListPrinter(format: .yaml), table = ListPrinter(format: .table)
            var jsonText: [String] = [], yamlText: [String] = []
            try await client.listPages(chunkSize: 10) { page in
                if let t = try json.page(page) { jsonText.append(t) }
                if let t = try yaml.page(page) { yamlText.append(t) }
                #expect(try table.page(page) == nil)
            }
            if let t = json.finish() { jsonText.append(t) }
            if let t = yaml.finish() { yamlText.append(t) }
            #expect(try JSONDecoder().decode(GlobalDNSClient.NameServiceList.self, from: Data(jsonText.joined(separator: "\n").utf8)).items.isEmpty)
            #expect(try YAMLDecoder().decode(GlobalDNSClient.NameServiceList.self, from: yamlText.joined(separator: "\n")).items.isEmpty)
            #expect(table.count == 0)
        }
    }

    /// A list whose continue token expires between pages: the client gets the server's 410 after
    /// the pages it already had.
    @Test func anExpiredPageIsA410AfterThePagesSoFar() async throws {
        let store = ObservedStore()
        for i in 0..<30 { _ = try await store.inner.put(object(padded(i)), ifVersion: nil) }
        store.expireAfterReads = 1
        try await withRealAPI(store) { _, port in
            let client = try realClient(port)
            var pages = 0
            do {
                try await client.listPages(chunkSize: 10) { _ in pages += 1 }
                Issue.record("the list did not fail")
            } catch let error as APIError {
                #expect(error.isExpired && error.status.reason == "Expired")
            }
            #expect(pages == 1)
        }
    }
}

import Foundation
import GSLB
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import NameServiceStore
import NameServiceStoreTesting
import Testing

/// Delegates to an in-memory store, counts page reads and can make later pages expire (the
/// store's `.expired`), to see how lists read the store and how the API maps its errors.
final class PagingStore: NameServiceStore, @unchecked Sendable {
    let inner = InMemoryNameServiceStore()
    private let lock = NSLock()
    private var reads = 0
    private var expireAfter: Int?

    /// Store reads made for lists so far (a page, or a full list the default paging cuts from).
    var pageReads: Int { lock.withLock { reads } }
    /// Reads after the `n`th fail with `.expired` (nil: none do).
    func expire(after n: Int?) { lock.withLock { expireAfter = n } }

    private func countRead() throws(StoreError) {
        let fail: Bool = lock.withLock {
            reads += 1
            return expireAfter.map { reads > $0 } ?? false
        }
        if fail { throw StoreError(.expired, "revision compacted (test)") }
    }

    func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage {
        try countRead()
        return try await inner.listPage(options)
    }
    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) {
        try countRead()
        return try await inner.list(selector: selector)
    }
    func get(_ name: String) async throws(StoreError) -> NameService? { try await inner.get(name) }
    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService { try await inner.put(nameService, ifVersion: ifVersion) }
    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        try await inner.updateStatus(name, status: status, ifGeneration: ifGeneration)
    }
    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await inner.updateDrains(name, drains: drains, ifVersion: ifVersion)
    }
    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService { try await inner.delete(name, ifVersion: ifVersion) }
    func revision() async throws(StoreError) -> Int64 { try await inner.revision() }
    func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> { inner.watch(fromRevision: fromRevision) }

    /// Stores `count` NameServices `ns-00000`… (names sort in creation order), each with `targets`
    /// targets (100 make an object of about 7 KB of JSON).
    func fill(_ count: Int, from start: Int = 0, targets: Int = 1) async throws {
        for i in start..<(start + count) {
            var ns = NameService.sample(Self.name(i), labels: ["tier": i % 2 == 0 ? "even" : "odd"])
            if targets > 1 {
                ns.spec.targets = (0..<targets).map { Target(name: "target-\($0)", addresses: ["10.0.\($0 / 256).\($0 % 256)", "2001:db8::\($0)"]) }
            }
            _ = try await inner.put(ns, ifVersion: nil)
        }
    }

    static func name(_ i: Int) -> String {
        let digits = String(i)
        return "ns-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}

func unlimitedRate() -> APILimits {
    var limits = APILimits()
    limits.rateLimitPerSecond = 0
    return limits
}

/// `GET /v1/nameservices?limit=&continue=` (issue 13), on a real HTTP server.
@Suite struct ListPagingTests {
    @Test func pagesFollowContinueTokensAtOneRevision() async throws {
        let store = PagingStore()
        try await store.fill(25)
        let app = makeAPI(store, limits: unlimitedRate()).makeApplication(address: .hostname("127.0.0.1", port: 0))
        try await app.test(.live) { client in
            var names: [String] = []
            var revisions: Set<String> = []
            var sizes: [Int] = []
            var remaining: [Int?] = []
            var token: String?
            repeat {
                let uri = "/v1/nameservices?limit=10" + (token.map { "&continue=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? "")
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok)
                let page = try decode(NameServiceList.self, response)
                names += page.items.map(\.metadata.name)
                revisions.insert(page.metadata.resourceVersion)
                sizes.append(page.items.count)
                remaining.append(page.metadata.remainingItemCount)
                token = page.metadata.continue
            } while token != nil && sizes.count < 10
            #expect(sizes == [10, 10, 5])
            #expect(remaining == [15, 5, nil])
            #expect(revisions == ["25"])
            #expect(names == (0..<25).map(PagingStore.name))
        }
    }

    /// A write between pages: the pages stay at the first page's revision, every name not
    /// touched is listed exactly once, in order, and no name twice (with the stores' default
    /// paging a later page lists again; stores with history serve the first page's revision).
    @Test func aWriteBetweenPagesLosesAndRepeatsNothing() async throws {
        let store = PagingStore()
        try await store.fill(30)
        let app = makeAPI(store, limits: unlimitedRate()).makeApplication(address: .hostname("127.0.0.1", port: 0))
        try await app.test(.live) { client in
            let first = try decode(NameServiceList.self, try await client.execute(uri: "/v1/nameservices?limit=12", method: .get))
            #expect(first.items.count == 12)
            let token = try #require(first.metadata.continue)
            // changes after the first page: a new name in the middle of the rest, one changed, one deleted
            _ = try await store.put(NameService.sample("ns-00020a"), ifVersion: nil)
            _ = try await store.put(NameService.sample(PagingStore.name(25), ttl: 99), ifVersion: nil)
            _ = try await store.delete(PagingStore.name(28), ifVersion: nil)
            var names = first.items.map(\.metadata.name)
            var next: String? = token
            var revisions: Set<String> = [first.metadata.resourceVersion]
            while let t = next {
                let response = try await client.execute(uri: "/v1/nameservices?limit=12&continue=\(t.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? t)", method: .get)
                #expect(response.status == .ok)
                let page = try decode(NameServiceList.self, response)
                #expect(page.items.count <= 12)
                names += page.items.map(\.metadata.name)
                revisions.insert(page.metadata.resourceVersion)
                next = page.metadata.continue
            }
            #expect(revisions == [first.metadata.resourceVersion])
            #expect(names == names.sorted())
            #expect(Set(names).count == names.count)
            let untouched = (0..<30).filter { $0 != 25 && $0 != 28 }.map(PagingStore.name)
            #expect(untouched.allSatisfy(names.contains))
            #expect(names.contains(PagingStore.name(25)))
        }
    }

    @Test(arguments: ["abc", "-1", "1.5", "99999999999999999999999", "0x10"])
    func badLimitsAre400(_ limit: String) async throws {
        let store = PagingStore()
        try await store.fill(3)
        let app = makeAPI(store).makeApplication(address: .hostname("127.0.0.1", port: 0))
        try await app.test(.live) { client in
            let response = try await client.execute(uri: "/v1/nameservices?limit=\(limit)", method: .get)
            #expect(response.status == .badRequest)
            let status = try decode(APIStatus.self, response)
            #expect(status.kind == "Status" && status.reason == "BadRequest")
            #expect(status.details?.causes?.map(\.field) == ["limit"])
        }
    }

    @Test func limitZeroListsEverythingAndALargeLimitIsCappedWithAToken() async throws {
        let store = PagingStore()
        try await store.fill(9)
        var limits = unlimitedRate()
        limits.maxListLimit = 4
        let app = makeAPI(store, limits: limits).makeApplication(address: .hostname("127.0.0.1", port: 0))
        try await app.test(.live) { client in
            let all = try decode(NameServiceList.self, try await client.execute(uri: "/v1/nameservices?limit=0", method: .get))
            #expect(all.items.count == 9 && all.metadata.continue == nil)
            let capped = try decode(NameServiceList.self, try await client.execute(uri: "/v1/nameservices?limit=1000", method: .get))
            #expect(capped.items.count == 4)
            #expect(capped.metadata.continue != nil && capped.metadata.remainingItemCount == 5)
            // with a selector: the page counts matching objects only
            let odd = try decode(NameServiceList.self, try await client.execute(uri: "/v1/nameservices?limit=3&labelSelector=tier%3Dodd", method: .get))
            #expect(odd.items.map(\.metadata.name) == [1, 3, 5].map(PagingStore.name))
            #expect(odd.metadata.remainingItemCount == 1)
        }
    }

    @Test func anExpiredTokenIs410AndAForeignOneIs400() async throws {
        let store = PagingStore()
        try await store.fill(6)
        let app = makeAPI(store, limits: unlimitedRate()).makeApplication(address: .hostname("127.0.0.1", port: 0))
        try await app.test(.live) { client in
            let first = try decode(NameServiceList.self, try await client.execute(uri: "/v1/nameservices?limit=2", method: .get))
            let token = try #require(first.metadata.continue)
            store.expire(after: store.pageReads)
            let expired = try await client.execute(uri: "/v1/nameservices?limit=2&continue=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token)", method: .get)
            #expect(expired.status == .gone)
            let status = try decode(APIStatus.self, expired)
            #expect(status.code == 410 && status.reason == "Expired")
            #expect(status.message.contains("start a new list without the continue parameter"))
            store.expire(after: nil)

            let foreign = try await client.execute(uri: "/v1/nameservices?limit=2&continue=not-a-token", method: .get)
            #expect(foreign.status == .badRequest)
            #expect(try decode(APIStatus.self, foreign).details?.causes?.map(\.field) == ["continue"])
        }
    }

    /// A list of everything is read from the store page by page as the client takes it: while the
    /// client does not read, the server stops after a few pages (the writer's back-pressure), so
    /// it never holds the whole list; read to the end, the list is whole and valid.
    @Test func aFullListIsStreamedPageByPage() async throws {
        let store = PagingStore()
        let count = 2_000  // about 14 MB of JSON: far more than the socket buffers hold
        try await store.fill(count, targets: 100)
        var limits = unlimitedRate()
        limits.maxListLimit = 100
        let api = makeAPI(store, limits: limits)
        try await withLiveServer(api) { port, _ in
            let client = try RawHTTPClient(port: port, receiveBuffer: 16 << 10)
            defer { client.hangUp() }
            try client.send("GET /v1/nameservices HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(try await client.read(within: 10) { _ in client.chunkedBody.body.count > 1000 })
            #expect(client.statusCode == 200)
            #expect(client.headText?.lowercased().contains("transfer-encoding: chunked") == true)
            #expect(client.chunkedBody.complete == false)
            // The client stops reading: the server stops too, far from the end of the list (it
            // holds what the socket buffers take, a page and a chunk).
            let totalPages = count / 100
            var previous = -1
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let reads = store.pageReads
                if reads == previous { break }
                previous = reads
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(store.pageReads == previous, "the server kept reading pages while the client did not read")
            #expect(store.pageReads <= totalPages / 2, "pages read while the client did not read: \(store.pageReads) of \(totalPages)")
            #expect(api.lists.openStreams == 1)
            // Read the rest (the server closes after it: Connection: close): the whole list, in order.
            client.setReceiveBuffer(1 << 20)
            #expect(try await client.waitForClose(within: 120))
            #expect(client.chunkedBody.complete)
            let list = try JSONDecoder().decode(NameServiceList.self, from: Data(client.chunkedBody.body))
            #expect(list.items.count == count)
            #expect(list.items.first?.metadata.name == PagingStore.name(0) && list.items.last?.metadata.name == PagingStore.name(count - 1))
            #expect(list.metadata.resourceVersion == String(count) && list.metadata.continue == nil)
            #expect(store.pageReads >= totalPages)
            #expect(try await eventually { api.lists.openStreams == 0 })
        }
    }

    /// A client that stops reading a list is cut off after the write timeout, and its list released.
    @Test func aListReaderThatStopsIsCutOff() async throws {
        let store = PagingStore()
        try await store.fill(1_000, targets: 100)  // about 7 MB: more than the socket buffers hold
        var limits = unlimitedRate()
        limits.writeTimeout = .milliseconds(500)
        let api = makeAPI(store, limits: limits)
        try await withLiveServer(api) { port, _ in
            let client = try RawHTTPClient(port: port, receiveBuffer: 4096)
            defer { client.hangUp() }
            try client.send("GET /v1/nameservices HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await client.read(within: 10) { _ in client.headText != nil })
            #expect(try await eventually(within: 20) { api.lists.stalledClients == 1 })
            #expect(try await eventually(within: 10) { api.lists.openStreams == 0 })
            #expect(try await client.waitForClose(within: 30))
            #expect(client.chunkedBody.complete == false)
            let fresh = try RawHTTPClient(port: port)
            defer { fresh.hangUp() }
            #expect(try await fresh.get("/healthz") == 200)
        }
    }

    /// A page that expires while a full list is being streamed: the response is cut short (the
    /// connection closed before the end of the chunked body), never a short list that looks whole.
    @Test func aFullListWhosePageExpiresIsTruncatedNotShort() async throws {
        let store = PagingStore()
        try await store.fill(50)
        var limits = unlimitedRate()
        limits.maxListLimit = 10
        let api = makeAPI(store, limits: limits)
        try await withLiveServer(api) { port, _ in
            store.expire(after: 2)
            let client = try RawHTTPClient(port: port)
            defer { client.hangUp() }
            try client.send("GET /v1/nameservices HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await client.waitForClose(within: 10))
            #expect(client.statusCode == 200)
            #expect(client.chunkedBody.complete == false)
            #expect(api.lists.failedStreams == 1)
        }
    }

    /// A watch from scratch reads its initial list in pages, then follows live changes.
    @Test func watchFromScratchListsInPages() async throws {
        let store = PagingStore()
        try await store.fill(3_000)
        var limits = unlimitedRate()
        limits.maxListLimit = 200
        let api = makeAPI(store, limits: limits)
        try await withLiveServer(api) { port, _ in
            let watcher = try RawHTTPClient(port: port)
            defer { watcher.hangUp() }
            try watcher.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await watcher.read(within: 30) { _ in watcher.bodyLines.count >= 3_000 })
            #expect(store.pageReads >= 3_000 / 200)
            _ = try await store.put(NameService.sample("zz-live"), ifVersion: nil)
            #expect(try await watcher.read(within: 10) { _ in watcher.bodyLines.count >= 3_001 })
            let lines = try watchLines(watcher.bodyLines.joined(separator: "\n"))
            #expect(lines.prefix(3_000).allSatisfy { $0.type == "ADDED" })
            #expect(Set(lines.prefix(3_000).map(\.name)).count == 3_000)
            #expect(lines.last.map { "\($0.type) \($0.name)" } == "ADDED zz-live")
        }
    }

    /// A page of a watch's initial list that expires: the ADDED events so far, then one ERROR
    /// event with a 410 Expired Status, and the end of the stream (the client lists again).
    @Test func aWatchWhoseInitialListExpiresEndsWith410() async throws {
        let store = PagingStore()
        try await store.fill(30)
        var limits = unlimitedRate()
        limits.maxListLimit = 10
        let api = makeAPI(store, limits: limits)
        try await withLiveServer(api) { port, _ in
            store.expire(after: 1)
            let watcher = try RawHTTPClient(port: port)
            defer { watcher.hangUp() }
            try watcher.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await watcher.read(within: 10) { _ in watcher.chunkedBody.complete })
            let lines = watcher.bodyLines
            #expect(lines.count == 11)
            #expect(try watchLines(lines.dropLast().joined(separator: "\n")).allSatisfy { $0.type == "ADDED" })
            let last = try JSONDecoder().decode(WatchEvent<APIStatus>.self, from: Data((lines.last ?? "").utf8))
            #expect(last.type == "ERROR" && last.object.code == 410 && last.object.reason == "Expired")
            #expect(api.watches.openStreams == 0)
        }
    }

    /// A watcher that stops reading during the initial list is cut off after the write timeout:
    /// the server holds a page and a chunk for it meanwhile, not the list.
    @Test func aWatcherThatStopsReadingTheInitialListIsCutOff() async throws {
        let store = PagingStore()
        try await store.fill(1_000, targets: 100)  // about 7 MB of ADDED events
        var limits = unlimitedRate()
        limits.maxListLimit = 50
        limits.writeTimeout = .milliseconds(500)
        let api = makeAPI(store, limits: limits)
        try await withLiveServer(api) { port, _ in
            let stopped = try RawHTTPClient(port: port, receiveBuffer: 4096)
            defer { stopped.hangUp() }
            try stopped.send("GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await stopped.read(within: 10) { _ in stopped.headText != nil })
            #expect(try await eventually(within: 20) { api.lists.stalledClients == 1 })
            #expect(store.pageReads < 1_000 / 50)
            #expect(api.watches.openStreams == 0)  // it never got to follow the store
            #expect(try await stopped.waitForClose(within: 30))
            #expect(stopped.chunkedBody.complete == false)
        }
    }
}

/// A PUT says what it did in `GlobalDNS-Write-Result` (globaldnsctl apply needs no GET).
@Suite struct WriteResultTests {
    @Test func putSaysCreatedConfiguredOrUnchanged() async throws {
        let app = makeAPI().makeApplication(address: .hostname("127.0.0.1", port: 0))
        try await app.test(.live) { client in
            let field = try #require(HTTPFields.Element.Name(NameServiceAPI.writeResultHeader))
            var r = try await put(client, "checkout", checkoutJSON())
            #expect(r.status == .created && r.headers[field] == "created")
            let version = try decode(NameService.self, r).metadata.resourceVersion
            r = try await put(client, "checkout", checkoutJSON())
            #expect(r.status == .ok && r.headers[field] == "unchanged")
            #expect(try decode(NameService.self, r).metadata.resourceVersion == version)
            r = try await put(client, "checkout", checkoutJSON(ttl: 90))
            #expect(r.status == .ok && r.headers[field] == "configured")
            let current = try decode(NameService.self, r).metadata.resourceVersion
            // put-if-version with the current version and the same content: unchanged
            r = try await put(client, "checkout", checkoutJSON(ttl: 90, resourceVersion: current))
            #expect(r.status == .ok && r.headers[field] == "unchanged")
            r = try await put(client, "checkout", checkoutJSON(labels: ["team": "web"], ttl: 90, resourceVersion: current))
            #expect(r.status == .ok && r.headers[field] == "configured")
        }
    }
}

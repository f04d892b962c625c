import Foundation
import GSLB
import NameServiceStore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `NameServiceStore` on an etcd v3 cluster (its JSON gateway), for many GlobalDNS replicas.
///
/// - One key per NameService: `<prefix>nameservices/<name>`, its value the NameService JSON
///   (spec, labels, generation, status, drains; sorted keys). The store revision is etcd's header
///   revision; an object's `resourceVersion` is its key's `mod_revision`.
/// - Every write is a read-modify-write through `StoreRules` (the same rules as SQLite), committed
///   by a Txn that compares the key's `mod_revision` with the one read (`create_revision == 0` to
///   create). A lost race is re-read and re-applied, so it is a conflict only when the caller's
///   `ifVersion` / `ifGeneration` really no longer matches. A write that changes nothing sends no
///   Txn, so it makes no revision and no event.
/// - `updateStatus` merges: with `replica` set, each replica writes only its own entry of
///   `status.replicas` and the conditions are aggregated over the replicas
///   (`NameServiceStatus.merging`), so replicas never overwrite each other.
/// - `watch` follows `/v3/watch` with `prev_kv` (a DELETED event carries the object as it was);
///   when the connection drops it reconnects, from the last revision it delivered, to the next
///   member with a capped backoff, without the consumer noticing. A compacted start revision ends
///   the stream with `.compacted(oldest:)`: the consumer relists. An open watch checks every
///   `keepaliveSeconds` that its member still answers a linearizable read (one needing a quorum).
/// - Durable as etcd is: a Txn returns after a quorum of members committed it.
public final class EtcdNameServiceStore: NameServiceStore {
    public let configuration: EtcdConfiguration
    /// This replica's name in `status.replicas`; nil: status is stored as written (one writer).
    public let replica: String?
    let client: EtcdClient
    private let objectPrefix: Data
    private let watchers = NIOLockedValueBox(WatchSet())

    private struct WatchSet {
        var tasks: [UUID: Task<Void, Never>] = [:]
        var closed = false
    }

    /// Checks the configuration (endpoints, TLS files); does not connect.
    public init(configuration: EtcdConfiguration, replica: String? = nil,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(StoreError) {
        var prefix = configuration.prefix
        if !prefix.hasSuffix("/") { prefix += "/" }
        self.configuration = configuration
        self.replica = replica
        client = try EtcdClient(configuration: configuration, group: group)
        objectPrefix = Data((prefix + "nameservices/").utf8)
    }

    /// Whether the last request (or watch connect) reached etcd, with the reason when not: `/readyz`.
    public var reachability: (reachable: Bool, reason: String) { client.reachability }

    /// The members' client URLs, as configured.
    public var endpointList: String { client.endpointList }

    /// Ends every watch stream (with `.unavailable`); later watches fail at once.
    public func close() {
        let tasks = watchers.withLockedValue { w in
            w.closed = true
            defer { w.tasks = [:] }
            return Array(w.tasks.values)
        }
        for t in tasks { t.cancel() }
    }

    /// How many watch streams are running (for tests: a dropped stream must not stay running).
    package func liveWatchCount() -> Int {
        watchers.withLockedValue { $0.tasks.count }
    }

    /// Compacts etcd's history up to `revision` (tests; operators use etcd's auto-compaction).
    package func compact(through revision: Int64) async throws(StoreError) {
        try await client.compact(revision)
    }

    func key(_ name: String) -> Data { objectPrefix + Data(name.utf8) }

    // MARK: Reads

    public func get(_ name: String) async throws(StoreError) -> NameService? {
        let response = try await client.range(.init(key: key(name)))
        return try response.kvs?.first.map(decodeObject)
    }

    /// Keys per range request of a list: a 1M-key prefix never comes back in one response.
    static let listChunk = 500

    public func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64) {
        // Ranges of `listChunk` keys, all read at the first range's revision: one consistent snapshot.
        var items: [NameService] = []
        var from = objectPrefix
        var revision: Int64?
        let end = EtcdWire.prefixEnd(objectPrefix)
        while true {
            let page = try await client.range(.init(key: from, rangeEnd: end, limit: .init(Int64(Self.listChunk)),
                                                    revision: revision.map { .init($0) }))
            if revision == nil { revision = page.header?.rev ?? 0 }
            let kvs = page.kvs ?? []
            for kv in kvs {
                let object = try decodeObject(kv)
                if selector?.matches(object.metadata.labels) ?? true { items.append(object) }
            }
            guard page.more == true, let last = kvs.last else { break }
            from = last.key + Data([0])
        }
        return (items, revision ?? 0)
    }

    /// A page read with etcd's MVCC: ranges with `limit` at the revision pinned by the first page
    /// (the continue token carries it and the last name), continuing from the last key + "\0".
    /// Selectors are applied here (etcd cannot), so a page may take several ranges. A revision
    /// etcd has compacted is `.expired` (Kubernetes 410); one it has not reached is `.invalid`.
    public func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage {
        if let limit = options.limit, limit < 0 { throw StoreError(.invalid, "limit must not be negative, not \(limit)") }
        let limit = options.limit.flatMap { $0 > 0 ? $0 : nil }
        var revision: Int64?
        var from = objectPrefix
        if let token = options.continueToken, !token.isEmpty {
            let decoded = try ContinueToken.decode(token)
            revision = decoded.revision
            from = key(decoded.after) + Data([0])
        }
        let end = EtcdWire.prefixEnd(objectPrefix)
        var items: [NameService] = []
        var more = false
        scan: while true {
            // Without a selector one more key than the page tells whether more follow.
            let chunk = options.selector == nil ? min((limit ?? Self.listChunk) + 1, Self.listChunk + 1) : Self.listChunk
            let page: EtcdWire.RangeResponse
            do throws(StoreError) {
                page = try await client.range(.init(key: from, rangeEnd: end, limit: .init(Int64(chunk)),
                                                    revision: revision.map { .init($0) }))
            } catch {
                if error.code == .compacted, let r = revision { throw StoreError.expiredToken(revision: r, oldest: nil) }
                if error.message.contains("future revision") {
                    throw StoreError(.invalid, "continue token of revision \(revision ?? 0) is ahead of etcd: not issued by this store")
                }
                throw error
            }
            if revision == nil { revision = page.header?.rev ?? 0 }
            let kvs = page.kvs ?? []
            for kv in kvs {
                let object = try decodeObject(kv)
                guard options.selector?.matches(object.metadata.labels) ?? true else { continue }
                if let limit, items.count == limit {
                    more = true
                    break scan
                }
                items.append(object)
            }
            guard page.more == true, let last = kvs.last else { break }
            from = last.key + Data([0])
        }
        let at = revision ?? 0
        let token = more ? items.last.map { ContinueToken.encode(revision: at, after: $0.metadata.name) } : nil
        return ListPage(items: items, revision: at, continueToken: token)
    }

    public func revision() async throws(StoreError) -> Int64 {
        try await client.range(.init(key: objectPrefix, countOnly: true)).header?.rev ?? 0
    }

    // MARK: Writes

    public func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService {
        let incoming = nameService
        return try await readModifyWrite(nameService.metadata.name) { existing throws(StoreError) in
            try StoreRules.applyPut(incoming, to: existing, ifVersion: ifVersion)
        }
    }

    public func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService {
        let replica = self.replica
        return try await readModifyWrite(name) { existing throws(StoreError) in
            var written = status
            if let replica, let existing {
                written = NameServiceStatus.merging(status, from: replica, into: existing.status,
                                                    generation: existing.metadata.generation)
            }
            return try StoreRules.applyStatus(written, name: name, to: existing, ifGeneration: ifGeneration)
        }
    }

    /// Ops per Txn at most (etcd's `--max-txn-ops` default is 128; one compare and one put per update).
    static let txnChunk = 128

    /// Status writes in chunks of `txnChunk`: one Txn reads the chunk's keys, the rules (and the
    /// replica merge) decide each, and one Txn writes every change guarded by each key's
    /// `mod_revision`. When another writer won a key meanwhile, that chunk's Txn changes nothing and
    /// its updates go one by one (`updateStatus`, which re-reads and re-applies). One result per
    /// update, in order.
    public func updateStatuses(_ updates: [StatusUpdate]) async -> [Result<NameService, StoreError>] {
        var results: [Result<NameService, StoreError>] = []
        results.reserveCapacity(updates.count)
        var start = 0
        while start < updates.count {
            let chunk = Array(updates[start..<min(start + Self.txnChunk, updates.count)])
            start += chunk.count
            results += await updateChunk(chunk)
        }
        return results
    }

    private func updateChunk(_ chunk: [StatusUpdate]) async -> [Result<NameService, StoreError>] {
        func oneByOne() async -> [Result<NameService, StoreError>] {
            var out: [Result<NameService, StoreError>] = []
            for u in chunk {
                do throws(StoreError) {
                    out.append(.success(try await updateStatus(u.name, status: u.status, ifGeneration: u.ifGeneration)))
                } catch {
                    out.append(.failure(error))
                }
            }
            return out
        }
        // The same name twice in a chunk: the later one must see the earlier one's write.
        guard Set(chunk.map(\.name)).count == chunk.count, chunk.allSatisfy({ !$0.name.isEmpty }) else { return await oneByOne() }
        let read: EtcdWire.TxnResponse
        do throws(StoreError) {
            read = try await client.txn(.init(compare: [], success: chunk.map { .init(requestRange: .init(key: key($0.name))) }, failure: []))
        } catch {
            return chunk.map { _ in .failure(error) }
        }
        let current = (read.responses ?? []).map { $0.responseRange?.kvs?.first }
        guard current.count == chunk.count else { return await oneByOne() }
        var results: [Result<NameService, StoreError>?] = Array(repeating: nil, count: chunk.count)
        var compares: [EtcdWire.Compare] = []
        var puts: [EtcdWire.RequestOp] = []
        var written: [(index: Int, object: NameService)] = []
        for (i, u) in chunk.enumerated() {
            do throws(StoreError) {
                let existing = try current[i].map(decodeObject)
                var status = u.status
                if let replica, let existing {
                    status = NameServiceStatus.merging(u.status, from: replica, into: existing.status,
                                                       generation: existing.metadata.generation)
                }
                guard var object = try StoreRules.applyStatus(status, name: u.name, to: existing, ifGeneration: u.ifGeneration) else {
                    results[i] = .success(existing!)
                    continue
                }
                object.metadata.resourceVersion = nil
                let k = key(u.name)
                compares.append(.modified(k, at: current[i]?.modRevision?.value ?? 0))
                puts.append(.init(requestPut: .init(key: k, value: try encode(object))))
                written.append((i, object))
            } catch {
                results[i] = .failure(error)
            }
        }
        if !puts.isEmpty {
            do throws(StoreError) {
                let txn = try await client.txn(.init(compare: compares, success: puts, failure: []))
                guard txn.succeeded == true else { return await oneByOne() }
                let revision = String(txn.header?.rev ?? 0)
                for (i, object) in written {
                    var o = object
                    o.metadata.resourceVersion = revision
                    results[i] = .success(o)
                }
            } catch {
                for (i, _) in written { results[i] = .failure(error) }
            }
        }
        return results.map { $0 ?? .failure(StoreError(.unavailable, "no result")) }
    }

    public func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService {
        try await readModifyWrite(name) { existing throws(StoreError) in
            try StoreRules.applyDrains(drains, name: name, to: existing, ifVersion: ifVersion)
        }
    }

    public func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService {
        try await guardedWrite(name) { existing throws(StoreError) in
            (.delete, try StoreRules.checkDelete(name: name, existing: existing, ifVersion: ifVersion))
        }
    }

    /// Reads the object, applies `change` (a `StoreRules` rule: nil means "nothing to write"), and
    /// commits it with a put.
    private func readModifyWrite(_ name: String,
                                 _ change: (NameService?) throws(StoreError) -> NameService?) async throws(StoreError) -> NameService {
        try await guardedWrite(name) { existing throws(StoreError) in
            guard let object = try change(existing) else { return nil }
            return (.put, object)
        }
    }

    private enum Write { case put, delete }

    /// Reads the key, asks `decide` what to do over the object there (nil: nothing, return it
    /// unchanged; the rules return nil only over an existing object), and commits that with a Txn
    /// guarded by the `mod_revision` read (`create_revision == 0` when there was none). On a lost
    /// race, decides again over what won. Returns the object with the Txn's revision.
    ///
    /// A Txn whose answer is lost (a member times out after committing it) is sent again to the
    /// next member, where its compare then fails against our own write. So when a put's compare
    /// fails and the key holds exactly the bytes we put, the write is ours and succeeded: without
    /// this a guarded write would come back as a spurious conflict.
    private func guardedWrite(_ name: String,
                              _ decide: (NameService?) throws(StoreError) -> (Write, NameService)?) async throws(StoreError) -> NameService {
        try StoreRules.checkName(name)
        let key = key(name)
        var current = try await client.range(.init(key: key)).kvs?.first
        for _ in 0..<Self.maxRaces {
            let existing = try current.map(decodeObject)
            guard let (write, decided) = try decide(existing) else { return existing! }
            var object = decided
            object.metadata.resourceVersion = nil
            var written: Data?
            let op: EtcdWire.RequestOp
            switch write {
            case .put:
                let value = try encode(object)
                written = value
                op = .init(requestPut: .init(key: key, value: value))
            case .delete:
                op = .init(requestDeleteRange: .init(key: key))
            }
            let comparedAt = current?.modRevision?.value ?? 0
            let txn = try await client.txn(.init(
                compare: [current.map { .modified(key, at: $0.modRevision?.value ?? 0) } ?? .absent(key)],
                success: [op], failure: [.init(requestRange: .init(key: key))]))
            if txn.succeeded == true {
                object.metadata.resourceVersion = String(txn.header?.rev ?? 0)
                if current == nil, write == .put { object.metadata.creationRevision = txn.header?.rev }
                return object
            }
            current = txn.responses?.first?.responseRange?.kvs?.first
            if let written, let now = current, now.value == written,
               let revision = now.modRevision?.value, revision > comparedAt {
                object.metadata.resourceVersion = String(revision)
                object.metadata.creationRevision = now.createRevision?.value ?? object.metadata.creationRevision
                return object
            }
        }
        throw lostTooManyRaces(name)
    }

    static let maxRaces = 64

    private func lostTooManyRaces(_ name: String) -> StoreError {
        StoreError(.unavailable, "NameService \(name): lost \(Self.maxRaces) write races in a row on etcd; retry later")
    }

    // MARK: Watch

    public func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error> {
        // Bounded in bytes by the follower (`watchMaxBufferBytes`); the count limit only makes
        // `yield` report how many events wait unread.
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: StoreEvent.self, throwing: (any Error).self, bufferingPolicy: .bufferingOldest(EtcdWatchFollower.bufferSlots))
        let id = UUID()
        let follower = EtcdWatchFollower(store: self, from: fromRevision, continuation: continuation,
                                         maxBufferBytes: client.configuration.watchMaxBufferBytes)
        let started: Bool = watchers.withLockedValue { w in
            guard !w.closed else { return false }
            w.tasks[id] = Task { [watchers] in
                await follower.run()
                _ = watchers.withLockedValue { $0.tasks.removeValue(forKey: id) }
            }
            return true
        }
        guard started else {
            continuation.finish(throwing: StoreError(.unavailable, "the etcd store at \(endpointList) was closed"))
            return stream
        }
        continuation.onTermination = { [watchers] _ in
            watchers.withLockedValue { $0.tasks[id] }?.cancel()
        }
        return stream
    }

    // MARK: Values

    /// A stored key-value as a NameService: the name from the key, resourceVersion = mod_revision,
    /// creationRevision = create_revision.
    func decodeObject(_ kv: EtcdWire.KeyValue) throws(StoreError) -> NameService {
        let name = String(decoding: kv.key.dropFirst(objectPrefix.count), as: UTF8.self)
        var object: NameService
        do {
            object = try NameService.decodeStored(kv.value ?? Data(), decoder: Self.decoder)
        } catch {
            throw StoreError(.corrupt, "etcd key \(String(decoding: kv.key, as: UTF8.self)) does not hold a NameService: \(error)")
        }
        guard object.metadata.name == name else {
            throw StoreError(.corrupt, "etcd key \(String(decoding: kv.key, as: UTF8.self)) holds the document of '\(object.metadata.name)'")
        }
        object.metadata.resourceVersion = String(kv.modRevision?.value ?? 0)
        // The key's create_revision: the same on every replica, kept across every update.
        if let created = kv.createRevision?.value, created > 0 { object.metadata.creationRevision = created }
        return object
    }

    func isObjectKey(_ key: Data) -> Bool { key.starts(with: objectPrefix) }

    private func encode(_ object: NameService) throws(StoreError) -> Data {
        do { return try Self.encoder.encode(object) } catch {
            throw StoreError(.invalid, "NameService \(object.metadata.name) does not encode as JSON: \(error)")
        }
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
    private static let decoder = JSONDecoder()

    var watchRequestKey: (key: Data, end: Data) { (objectPrefix, EtcdWire.prefixEnd(objectPrefix)) }
}

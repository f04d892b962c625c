import GSLB
import NameServiceStore
import NameServiceStoreEtcd

/// Copies NameServices from one store to another (`globaldns store copy`), e.g. a single node's
/// SQLite file into the etcd cluster it grows into.
///
/// - Copies metadata (name, labels), spec and drains; never status (the destination's
///   replicas compute their own).
/// - Idempotent: an object already there with the same labels, spec and drains is left alone.
/// - An object there that differs is not touched unless `overwrite` (then replaced, guarded by the
///   version read, and its drains set to the source's).
public struct StoreCopier: Sendable {
    public enum Outcome: String, Sendable, Hashable {
        case created, unchanged, replaced
        /// Differs at the destination and `overwrite` was not given.
        case differs
    }

    public struct Report: Sendable {
        public var lines: [(name: String, outcome: Outcome)] = []
        public func count(_ o: Outcome) -> Int { lines.filter { $0.outcome == o }.count }
        public var summary: String {
            "\(lines.count) NameService(s): \(count(.created)) created, \(count(.replaced)) replaced, "
                + "\(count(.unchanged)) unchanged, \(count(.differs)) differ and were not copied"
                + (count(.differs) > 0 ? " (--overwrite replaces them)" : "")
        }
    }

    public var overwrite: Bool
    public init(overwrite: Bool) { self.overwrite = overwrite }

    public func copy(from source: any NameServiceStore, to destination: any NameServiceStore,
                     progress: (String, Outcome) -> Void = { _, _ in }) async throws(StoreError) -> Report {
        var report = Report()
        for item in try await source.list(selector: nil).items {
            let outcome = try await copyOne(item, to: destination)
            report.lines.append((item.metadata.name, outcome))
            progress(item.metadata.name, outcome)
        }
        return report
    }

    /// How often one object is re-read and tried again when a write loses a race (a live replica
    /// writes status between our read and our write).
    public static let attempts = 8

    /// Every write is guarded by the version just read; on a conflict the object is read again
    /// and the decision made anew, so a replica writing status meanwhile costs a retry, not the copy.
    private func copyOne(_ item: NameService, to destination: any NameServiceStore) async throws(StoreError) -> Outcome {
        let name = item.metadata.name
        var createdHere = false  // then a retry finishes our own object, whatever `overwrite` says
        var attempt = 0
        while true {
            attempt += 1
            do throws(StoreError) {
                guard let existing = try await destination.get(name) else {
                    let put = try await destination.put(Self.specOnly(item), ifVersion: nil)
                    createdHere = true
                    if !item.drains.isEmpty {
                        _ = try await destination.updateDrains(name, drains: item.drains, ifVersion: put.metadata.resourceVersion)
                    }
                    return .created
                }
                if Self.sameContent(existing, item) { return createdHere ? .created : .unchanged }
                if !overwrite && !createdHere { return .differs }
                var version = existing.metadata.resourceVersion
                if !Self.sameContent(Self.specOnly(existing), Self.specOnly(item)) {
                    version = try await destination.put(Self.specOnly(item), ifVersion: version).metadata.resourceVersion
                }
                if existing.drains != item.drains {
                    _ = try await destination.updateDrains(name, drains: item.drains, ifVersion: version)
                }
                return createdHere ? .created : .replaced
            } catch where error.code == .conflict && attempt < Self.attempts {
                continue
            }
        }
    }

    static func sameContent(_ a: NameService, _ b: NameService) -> Bool {
        a.spec == b.spec && a.metadata.labels == b.metadata.labels && a.drains == b.drains
            && a.apiVersion == b.apiVersion && a.kind == b.kind
    }

    static func specOnly(_ ns: NameService) -> NameService {
        var out = ns
        out.status = nil
        out.drains = []
        out.metadata.resourceVersion = nil
        out.metadata.generation = 0
        return out
    }

    /// `sqlite:PATH` (the database file, or a state directory holding `nameservices.db`) or
    /// `etcd:URL[,URL…]` (with `etcd` giving prefix, user, TLS).
    /// `mustExist`: the source of a copy: a SQLite file that is not there is an error (exit 2),
    /// never an empty database created at the source path.
    public static func openStore(_ text: String, etcd: EtcdConfiguration, mustExist: Bool = false) throws(StoreError) -> any NameServiceStore {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            var isDirectory = false
            if let d = opendir(path) {
                closedir(d)
                isDirectory = true
            }
            if isDirectory { path += "/" + SQLiteNameServiceStore.fileName }
            if mustExist && access(path, F_OK) != 0 {
                throw StoreError(.invalid, "\(path) does not exist: the source of a copy must be an existing SQLite store (its nameservices.db file or the state directory holding it); nothing was created")
            }
            return try SQLiteNameServiceStore(path: path)
        }
        if text.hasPrefix("etcd:") {
            var configuration = etcd
            configuration.endpoints = text.dropFirst("etcd:".count).split(separator: ",").map(String.init)
            return try EtcdNameServiceStore(configuration: configuration)
        }
        throw StoreError(.invalid, "'\(text)' is not sqlite:PATH or etcd:URL[,URL...]")
    }
}

#if canImport(Glibc)
import Glibc
#endif

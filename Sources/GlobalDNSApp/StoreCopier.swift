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
            let name = item.metadata.name
            let existing = try await destination.get(name)
            let outcome: Outcome
            if let existing {
                if Self.sameContent(existing, item) {
                    outcome = .unchanged
                } else if !overwrite {
                    outcome = .differs
                } else {
                    let put = try await destination.put(Self.specOnly(item), ifVersion: existing.metadata.resourceVersion)
                    _ = try await destination.updateDrains(name, drains: item.drains, ifVersion: put.metadata.resourceVersion)
                    outcome = .replaced
                }
            } else {
                let put = try await destination.put(Self.specOnly(item), ifVersion: nil)
                if !item.drains.isEmpty {
                    _ = try await destination.updateDrains(name, drains: item.drains, ifVersion: put.metadata.resourceVersion)
                }
                outcome = .created
            }
            report.lines.append((name, outcome))
            progress(name, outcome)
        }
        return report
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
    public static func openStore(_ text: String, etcd: EtcdConfiguration) throws(StoreError) -> any NameServiceStore {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            var isDirectory = false
            if let d = opendir(path) {
                closedir(d)
                isDirectory = true
            }
            if isDirectory { path += "/" + SQLiteNameServiceStore.fileName }
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

import GSLB

/// The write rules of the `NameServiceStore` contract as pure functions, shared by every
/// implementation so they cannot drift apart: put-if-version, the generation rule, status and
/// drains kept across a put, status-if-generation, drains-if-version and delete-if-version.
///
/// Each `apply…` returns the object to store *without* its new `resourceVersion` (the caller
/// assigns the next revision), or nil when the write would change nothing stored: such a write is
/// a no-op that keeps the stored revision and emits no event (as a Kubernetes update that changes
/// nothing does), so a controller re-applying the same spec, or a reconciler writing the same
/// status again, does not wake every watcher.
package enum StoreRules {
    /// An empty `ifVersion` means "not given", as an empty `resourceVersion` does in Kubernetes.
    package static func expectedVersion(_ ifVersion: String?) -> String? {
        guard let v = ifVersion, !v.isEmpty else { return nil }
        return v
    }

    package static func checkName(_ name: String) throws(StoreError) {
        guard !name.isEmpty else { throw StoreError(.invalid, "a NameService needs a metadata.name") }
    }

    /// What `put(incoming, ifVersion:)` stores over `existing`.
    /// - A given `ifVersion` must equal the stored `resourceVersion`; for a missing object it is a
    ///   conflict (the caller expected something that is not there).
    /// - Spec, labels, `apiVersion` and `kind` come from `incoming`; status and the generation from
    ///   the store (a new object starts at generation 1, a changed spec bumps it by one), and so do
    ///   the drains (a new object has none) - those of targets still in the spec: a target removed
    ///   from the spec takes its drain with it, so adding it back later starts undrained.
    /// - `creationTimestamp` is set on creation (from `now`) and `creationRevision` is left for the
    ///   caller to set to the revision it commits the creation at; both are kept from `existing`
    ///   afterwards, whatever `incoming` says.
    package static func applyPut(_ incoming: NameService, to existing: NameService?,
                                 ifVersion: String?, now: () -> WallTime = { .now }) throws(StoreError) -> NameService? {
        let name = incoming.metadata.name
        try checkName(name)
        if let expected = expectedVersion(ifVersion) {
            guard let existing else {
                throw StoreError(.conflict, "NameService \(name) does not exist, but resourceVersion \(expected) was expected")
            }
            guard existing.metadata.resourceVersion == expected else {
                throw StoreError(.conflict, "NameService \(name) is at resourceVersion \(existing.metadata.resourceVersion ?? "none"), not \(expected)")
            }
        }
        var stored = incoming
        guard let existing else {
            stored.metadata.generation = 1
            stored.metadata.resourceVersion = nil
            stored.metadata.creationRevision = nil  // the store's revision of this write, set by the caller
            stored.metadata.creationTimestamp = now().rfc3339
            stored.status = nil
            stored.drains = []
            return stored
        }
        stored.metadata.creationRevision = existing.metadata.creationRevision
        stored.metadata.creationTimestamp = existing.metadata.creationTimestamp
        stored.metadata.generation = existing.spec == incoming.spec
            ? existing.metadata.generation : existing.metadata.generation + 1
        stored.metadata.resourceVersion = existing.metadata.resourceVersion
        stored.status = existing.status
        stored.drains = existing.drains.filter { d in incoming.spec.targets.contains { $0.name == d.target } }
        return stored == existing ? nil : stored
    }

    /// What `updateDrains(name, drains, ifVersion:)` stores over `existing`: only the drains change
    /// (sorted by target; no generation bump). A given `ifVersion` must equal the stored version.
    package static func applyDrains(_ drains: [TargetDrain], name: String, to existing: NameService?,
                                    ifVersion: String?) throws(StoreError) -> NameService? {
        try checkName(name)
        guard var stored = existing else { throw StoreError(.notFound, "NameService \(name) does not exist") }
        try checkVersion(name: name, existing: stored, ifVersion: ifVersion)
        var seen = Set<String>()
        for d in drains where !seen.insert(d.target).inserted {
            throw StoreError(.invalid, "NameService \(name): target \(d.target) is drained twice")
        }
        let sorted = drains.sorted { $0.target < $1.target }
        guard stored.drains != sorted else { return nil }
        stored.drains = sorted
        return stored
    }

    /// What `updateStatus(name, status, ifGeneration:)` stores over `existing`.
    package static func applyStatus(_ status: NameServiceStatus, name: String, to existing: NameService?,
                                    ifGeneration: Int64?) throws(StoreError) -> NameService? {
        try checkName(name)
        guard var stored = existing else { throw StoreError(.notFound, "NameService \(name) does not exist") }
        if let g = ifGeneration, g != stored.metadata.generation {
            throw StoreError(.conflict, "NameService \(name) is at generation \(stored.metadata.generation), not \(g)")
        }
        guard stored.status != status else { return nil }
        stored.status = status
        return stored
    }

    /// Checks `delete(name, ifVersion:)` against `existing` and returns the object being deleted.
    package static func checkDelete(name: String, existing: NameService?, ifVersion: String?) throws(StoreError) -> NameService {
        try checkName(name)
        guard let existing else { throw StoreError(.notFound, "NameService \(name) does not exist") }
        try checkVersion(name: name, existing: existing, ifVersion: ifVersion)
        return existing
    }

    private static func checkVersion(name: String, existing: NameService, ifVersion: String?) throws(StoreError) {
        if let expected = expectedVersion(ifVersion), existing.metadata.resourceVersion != expected {
            throw StoreError(.conflict, "NameService \(name) is at resourceVersion \(existing.metadata.resourceVersion ?? "none"), not \(expected)")
        }
    }

    /// The error a watch from `fromRevision` fails with when events up to `compactedThrough` are gone.
    package static func compactedError(fromRevision: Int64, compactedThrough: Int64) -> StoreError? {
        guard fromRevision < compactedThrough else { return nil }
        return StoreError(.compacted,
                          "events up to revision \(compactedThrough) were compacted; cannot watch from \(fromRevision): relist and watch from the list's revision",
                          oldestRevision: compactedThrough + 1)
    }
}

import Foundation
import GSLB

/// What the SQLite store keeps in memory about its current objects (issue 13: compact, so a
/// million objects cost little): per name only its revision and its label set, as an id into a
/// table of interned label sets (objects with the same labels share one), and per label set the
/// names that have it: the label index. A selector (any kind: `=`, `!=`, exists, not exists) is
/// matched once per distinct label set, and the names of the matching sets are its candidates,
/// without reading a row. The documents themselves stay in the file and are read through the
/// store's reader connections.
///
/// The writer (the store's actor) applies each committed change here after its commit, so the
/// index never shows a write the file does not hold. Rows that cannot be read back are kept apart
/// as `damaged` (name → what is wrong) and reported, never served.
///
/// Thread-safe: every field below is read and written under `lock` only; no method holds it for
/// longer than a dictionary operation or one candidate set's filtering.
final class ObjectIndex: @unchecked Sendable {
    struct Meta: Sendable {
        var revision: Int64
        var labelSet: UInt32
    }

    private struct LabelSet {
        let text: String
        let labels: [String: String]
        var names: Set<String>
    }

    private let lock = NSLock()
    private var objects: [String: Meta] = [:]
    private var sets: [LabelSet?] = []
    private var setIDs: [String: UInt32] = [:]
    private var freeSetIDs: [UInt32] = []
    private var damagedRows: [String: String] = [:]
    private var current: Int64 = 0
    private var closed: StoreError?
    /// The sorted candidates of the last selector listed, at the revision they were taken.
    private var lastCandidates: (selector: LabelSelector, revision: Int64, names: [String])?

    init() {}

    private func locked<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    // MARK: Label sets (under `lock`)

    private func insertLocked(_ name: String, revision: Int64, labelText: String, labels: [String: String], isNew: Bool = false) {
        if !isNew { removeLocked(name) }
        let id: UInt32
        if let known = setIDs[labelText] {
            id = known
            sets[Int(id)]!.names.insert(name)
        } else {
            let set = LabelSet(text: labelText, labels: labels, names: [name])
            if let free = freeSetIDs.popLast() {
                id = free
                sets[Int(id)] = set
            } else {
                id = UInt32(sets.count)
                sets.append(set)
            }
            setIDs[labelText] = id
        }
        objects[name] = Meta(revision: revision, labelSet: id)
    }

    private func removeLocked(_ name: String) {
        guard let old = objects.removeValue(forKey: name), var set = sets[Int(old.labelSet)] else { return }
        sets[Int(old.labelSet)] = nil  // uniquely referenced while it changes
        set.names.remove(name)
        if set.names.isEmpty {
            setIDs[set.text] = nil
            freeSetIDs.append(old.labelSet)
        } else {
            sets[Int(old.labelSet)] = set
        }
    }

    // MARK: Loading and changes

    /// Room for `count` objects (before loading them).
    func reserve(_ count: Int) {
        locked { objects.reserveCapacity(count) }
    }

    /// One row read at open.
    func load(_ name: String, revision: Int64, labelText: String, labels: [String: String]) {
        locked { insertLocked(name, revision: revision, labelText: labelText, labels: labels, isNew: objects[name] == nil) }
    }

    /// Rows that could not be read at open, and the revision the file is at.
    func finishLoading(damaged: [String: String], revision: Int64) {
        locked {
            for (name, problem) in damaged {
                removeLocked(name)
                damagedRows[name] = problem
            }
            current = revision
        }
    }

    /// Applies one committed change (`labels` nil: deleted). A write to a damaged name replaces
    /// the damaged row, so it is no longer damaged.
    func apply(_ name: String, revision: Int64, labels: (text: String, map: [String: String])?) {
        locked {
            if let labels {
                insertLocked(name, revision: revision, labelText: labels.text, labels: labels.map)
            } else {
                removeLocked(name)
            }
            damagedRows[name] = nil
            current = max(current, revision)
        }
    }

    /// After `close`, reads fail with the store's closing error.
    func close(_ error: StoreError) {
        locked {
            closed = error
            objects = [:]
            sets = []
            setIDs = [:]
            freeSetIDs = []
        }
    }

    func checkOpen() throws(StoreError) {
        if let error = locked({ closed }) { throw error }
    }

    // MARK: Reads

    var revision: Int64 { locked { current } }
    var count: Int { locked { objects.count } }

    func meta(_ name: String) -> Meta? { locked { objects[name] } }

    /// The label map of a label text (interned when an object has it; parsed otherwise); nil
    /// when the text is not one `LabelText` makes.
    func labels(ofText text: String) -> [String: String]? {
        if let known: [String: String] = locked({ setIDs[text].flatMap { sets[Int($0)]?.labels } }) { return known }
        return LabelText.decode(text)
    }

    /// The names matching `selector` after `after`, sorted, and the revision they are current at:
    /// the selector is matched once per distinct label set. Nil when more than `maxCandidates`
    /// names match (the caller walks the names in order instead).
    ///
    /// The sorted list of the last selector is kept with its revision, so the pages of one list
    /// do not sort it again: a later page (its list pinned at `pinned`) may use candidates of any
    /// revision from `pinned` on, since the caller serves the names changed after `pinned` from
    /// the change history (whose labels at `pinned` it checks itself).
    func candidates(_ selector: LabelSelector, after: String?, pinned: Int64? = nil,
                    maxCandidates: Int) -> (names: ArraySlice<String>, revision: Int64)? {
        let picked: ([String], Int64)? = locked {
            if let cached = lastCandidates, cached.selector == selector,
               pinned.map({ cached.revision >= $0 }) ?? (cached.revision == current) {
                return (cached.names, cached.revision)
            }
            var total = 0
            var matching: [Int] = []
            for (i, set) in sets.enumerated() {
                guard let set, selector.matches(set.labels) else { continue }
                total += set.names.count
                if total > maxCandidates { return nil }
                matching.append(i)
            }
            var names: [String] = []
            names.reserveCapacity(total)
            for i in matching { names.append(contentsOf: sets[i]!.names) }
            names.sort(by: nameOrder)
            lastCandidates = (selector, current, names)
            return (names, current)
        }
        guard let (names, revision) = picked else { return nil }
        guard let after else { return (names[...], revision) }
        // The first name after `after` (binary search: the list is sorted by `nameOrder`).
        var low = 0, high = names.count
        while low < high {
            let mid = (low + high) / 2
            if nameOrder(after, names[mid]) { high = mid } else { low = mid + 1 }
        }
        return (names[low...], revision)
    }

    /// Records a stored object that cannot be served (it stays out of reads until rewritten).
    /// Returns false when it was known to be damaged already.
    @discardableResult
    func markDamaged(_ name: String, _ problem: String) -> Bool {
        locked {
            removeLocked(name)
            return damagedRows.updateValue(problem, forKey: name) == nil
        }
    }

    /// What is wrong with `name`'s stored row, when it is damaged.
    func damage(_ name: String) -> String? { locked { damagedRows[name] } }

    /// The damaged names now.
    var damagedNames: Set<String> { locked { Set(damagedRows.keys) } }

    /// Names that could not be read back, with what is wrong, sorted by name.
    var damaged: [(name: String, problem: String)] {
        locked { damagedRows.sorted { nameOrder($0.key, $1.key) }.map { (name: $0.key, problem: $0.value) } }
    }
}

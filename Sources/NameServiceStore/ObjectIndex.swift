import Foundation
import GSLB

/// What the SQLite store keeps in memory about its current objects (issue 13: compact, so a
/// million objects cost little): per name only its revision and its label set, as an id into a
/// table of interned label sets (objects with the same labels share one); and a label index
/// `key=value → names` that answers equality selectors without reading a row. The documents
/// themselves stay in the file and are read through the store's reader connections.
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
        var users: Int
    }

    private struct Pair: Hashable {
        let key: String
        let value: String
    }

    private let lock = NSLock()
    private var objects: [String: Meta] = [:]
    private var sets: [LabelSet?] = []
    private var setIDs: [String: UInt32] = [:]
    private var freeSetIDs: [UInt32] = []
    private var byPair: [Pair: Set<String>] = [:]
    private var damagedRows: [String: String] = [:]
    private var current: Int64 = 0
    private var closed: StoreError?

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

    private func intern(_ text: String, _ labels: [String: String]) -> UInt32 {
        if let id = setIDs[text] {
            sets[Int(id)]!.users += 1
            return id
        }
        let set = LabelSet(text: text, labels: labels, users: 1)
        let id: UInt32
        if let free = freeSetIDs.popLast() {
            id = free
            sets[Int(id)] = set
        } else {
            id = UInt32(sets.count)
            sets.append(set)
        }
        setIDs[text] = id
        return id
    }

    private func release(_ id: UInt32) {
        guard var set = sets[Int(id)] else { return }
        set.users -= 1
        if set.users > 0 {
            sets[Int(id)] = set
        } else {
            sets[Int(id)] = nil
            setIDs[set.text] = nil
            freeSetIDs.append(id)
        }
    }

    private func insertLocked(_ name: String, revision: Int64, labelText: String, labels: [String: String]) {
        removeLocked(name)
        let id = intern(labelText, labels)
        objects[name] = Meta(revision: revision, labelSet: id)
        for (k, v) in labels { byPair[Pair(key: k, value: v), default: []].insert(name) }
    }

    private func removeLocked(_ name: String) {
        guard let old = objects.removeValue(forKey: name) else { return }
        if let set = sets[Int(old.labelSet)] {
            for (k, v) in set.labels {
                let p = Pair(key: k, value: v)
                byPair[p]?.remove(name)
                if byPair[p]?.isEmpty == true { byPair[p] = nil }
            }
        }
        release(old.labelSet)
    }

    // MARK: Loading and changes

    /// Room for `count` objects (before loading them).
    func reserve(_ count: Int) {
        locked { objects.reserveCapacity(count) }
    }

    /// One row read at open.
    func load(_ name: String, revision: Int64, labelText: String, labels: [String: String]) {
        locked { insertLocked(name, revision: revision, labelText: labelText, labels: labels) }
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
            byPair = [:]
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

    /// For a selector with `key=value` requirements: the names matching it, after `after`, sorted,
    /// and the revision they are current at (nil: the selector has no equality to look up, or its
    /// smallest one matches more than `maxCandidates` names; the caller walks the names instead).
    func candidates(_ selector: LabelSelector, after: String?, maxCandidates: Int) -> (names: [String], revision: Int64)? {
        let pairs = selector.equalities.map { Pair(key: $0.key, value: $0.value) }
        guard !pairs.isEmpty else { return nil }
        let picked: (Set<String>, Int64)? = locked {
            var smallest: Set<String>?
            for p in pairs {
                let s = byPair[p] ?? []
                if smallest == nil || s.count < smallest!.count { smallest = s }
            }
            guard let smallest, smallest.count <= maxCandidates else { return nil }
            var matching = Set<String>()
            for name in smallest {
                if let after, !nameOrder(after, name) { continue }
                guard let meta = objects[name], let set = sets[Int(meta.labelSet)] else { continue }
                if selector.matches(set.labels) { matching.insert(name) }
            }
            return (matching, current)
        }
        guard let (names, revision) = picked else { return nil }
        return (names.sorted(by: nameOrder), revision)
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

import NIOCore

/// A binary min-heap of probe times for one `LoopProber`. The prober arms one NIO timer for the
/// earliest entry instead of one per target: cancelling a NIO scheduled task searches the loop's
/// whole timer heap, so thousands of per-target timers made every connect (whose timeout task is
/// cancelled when it completes) cost O(targets). Entries are never removed from the middle; a
/// stale one (its target removed or restarted) is dropped when it comes out.
struct DeadlineHeap {
    struct Entry {
        var deadline: NIODeadline
        var target: ProbeTarget
        var token: UInt64
    }

    private var storage: [Entry] = []

    var isEmpty: Bool { storage.isEmpty }
    var count: Int { storage.count }
    var first: Entry? { storage.first }

    mutating func removeAll() { storage.removeAll() }

    mutating func insert(_ entry: Entry) {
        storage.append(entry)
        var i = storage.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard storage[i].deadline < storage[parent].deadline else { break }
            storage.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popFirst() -> Entry? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let top = storage.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < storage.count && storage[l].deadline < storage[smallest].deadline { smallest = l }
            if r < storage.count && storage[r].deadline < storage[smallest].deadline { smallest = r }
            guard smallest != i else { break }
            storage.swapAt(i, smallest)
            i = smallest
        }
        return top
    }
}

/// A binary min-heap of deadlines (monotonic nanoseconds) for one `ProbeThread`: one heap holds
/// the probe times of its targets, another the timeouts of its probes in flight, and the thread
/// sleeps in `epoll_pwait2` until the earlier of the two firsts. (Per-target timers were the first
/// design, on NIO: cancelling a NIO scheduled task searches the loop's whole timer heap, so each
/// probe cost O(targets).)
///
/// Entries are never removed from the middle: each names a slot and a tag (the slot's token for a
/// probe time, its probe sequence number for a timeout), and one whose slot has moved on (target
/// removed or restarted, probe already ended) is dropped when it comes out.
struct DeadlineHeap {
    struct Entry {
        var deadline: Int64
        var slot: Int32
        var tag: UInt64
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

    /// The first entry if its deadline is at or before `now`.
    mutating func popFirst(dueBy now: Int64) -> Entry? {
        guard let first = storage.first, first.deadline <= now else { return nil }
        return popFirst()
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

import Atomics
import DNSWire
import NIOCore

/// Who a DNS-over-TCP connection counts against for `tcpMaxConnectionsPerClient`: an IPv4 address
/// (/32), or the /64 of an IPv6 address (one host usually holds a whole /64 and its privacy
/// addresses rotate inside it, so per-/128 counting would not bound one host).
struct TCPClientKey: Hashable, Sendable {
    private let high: UInt64
    private let low: UInt64

    init(_ address: IPAddress) {
        switch address {
        case .v4(let a):
            high = 0
            low = UInt64(a.value) | 1 << 32  // tagged: never equal to a v6 /64 of ::/64
        case .v6(let a):
            high = a.high
            low = 0
        }
    }
}

/// How long ago the least recently active TCP connection of one event loop was active, readable
/// from any thread (the acceptor picks the loop to evict from with it). Written by its loop only
/// when that loop's oldest connection changes.
final class TCPLoopActivity: Sendable {
    /// `lastActive` (uptime nanoseconds) of the loop's least recently active connection;
    /// `UInt64.max` when it has none.
    let oldest = ManagedAtomic<UInt64>(UInt64.max)
}

/// The TCP connections of one event loop, least recently active first (RFC 7766 §6.2.2: when the
/// server must shed connections, the idle ones go first). Used only on its loop: a query moves its
/// connection to the back (a few pointer writes, no lock); accept, close and eviction add and
/// remove.
final class TCPConnectionTable {
    let activity = TCPLoopActivity()
    private var head: TCPQueryHandler?
    private var tail: TCPQueryHandler?
    private(set) var count = 0

    /// A new connection: the most recently active one.
    func add(_ h: TCPQueryHandler, now: UInt64) {
        guard !h.linked else { return }
        h.lastActive = now
        append(h)
        h.linked = true
        count += 1
        if head === h { publish() }
    }

    /// A query arrived on `h`: it becomes the most recently active.
    @inline(__always)
    func touch(_ h: TCPQueryHandler, now: UInt64) {
        h.lastActive = now
        guard h.linked, tail !== h else {
            if head === h { publish() }
            return
        }
        let wasHead = head === h
        unlink(h)
        append(h)
        if wasHead { publish() }
    }

    /// `h` closed (idempotent).
    func remove(_ h: TCPQueryHandler) {
        guard h.linked else { return }
        let wasHead = head === h
        unlink(h)
        h.linked = false
        count -= 1
        if wasHead { publish() }
    }

    /// Closes the least recently active connection if it was last active before `before` (so a
    /// connection accepted after the one that asked is never the one to go). Returns whether one
    /// was closed.
    @discardableResult
    func evictOldest(before: UInt64) -> Bool {
        guard let h = head, h.lastActive < before else { return false }
        remove(h)
        h.evict()
        return true
    }

    /// Connections from least to most recently active (tests).
    var order: [TCPQueryHandler] {
        var out: [TCPQueryHandler] = []
        var p = head
        while let h = p { out.append(h); p = h.next }
        return out
    }

    private func append(_ h: TCPQueryHandler) {
        h.prev = tail
        h.next = nil
        if let t = tail { t.next = h } else { head = h }
        tail = h
    }

    private func unlink(_ h: TCPQueryHandler) {
        if let p = h.prev { p.next = h.next } else { head = h.next }
        if let n = h.next { n.prev = h.prev } else { tail = h.prev }
        h.prev = nil
        h.next = nil
    }

    private func publish() {
        activity.oldest.store(head?.lastActive ?? UInt64.max, ordering: .relaxed)
    }
}

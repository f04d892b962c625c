import CHealthCheck
import DNSWire
import GSLB
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The probes of one `ProbeThread`, and nothing else: probe times, connects, timeouts and a batch
/// of outcomes. It decides no verdict (as in gdnsd, probes return up/down, `HealthChecker` owns
/// the hysteresis). Confined to its thread once `run()` starts; no tasks, no NIO.
///
/// A probe is `socket(SOCK_NONBLOCK)`, `SO_LINGER {1, 0}` (the close sends an RST: no TIME_WAIT on
/// our side), `connect()`: 0 is a success at once, `EINPROGRESS` registers the socket for
/// `EPOLLOUT` (one-shot) with a deadline in the timeout heap, anything else is a failure at once.
/// Readiness → `SO_ERROR` → success or the errno; a probe still connecting at its deadline is
/// closed and reported `timed out after …`. Every probe's socket is closed when its outcome is
/// known (closing drops it from epoll).
///
/// Probe times are `first + k × interval` (fixed rate, so the stagger is kept), kept in a
/// `DeadlineHeap`; the thread sleeps in `epoll_pwait2` until the earliest probe time, timeout or
/// batch flush, rounded up to a whole millisecond (`wakeGranularity`). A probe time handled late
/// records its drift; probe times already past are skipped rather than bunched. A probe time that
/// finds the previous probe of the target still in flight starts nothing and reports a skip.
/// Outcomes are gathered for `batchDelay` (or until `maxBatch`) and yielded to the checker in one
/// element.
final class ProbeLoop: @unchecked Sendable {
    /// The epoll data of the eventfd; a probe's is its slot and sequence number.
    static let wakeTag = UInt64.max
    /// Reports handed over at once when this many gathered before `batchDelay` ran out.
    static let maxBatch = 1024
    /// Probes started in one pass at most, so that a thread that fell behind (or 10,000 targets
    /// added with no stagger) still gets back to its events between starts.
    static let maxStartsPerPass = 256
    private static let eventCapacity = 256
    /// The thread sleeps until a whole millisecond of the monotonic clock (the first at or after
    /// the earliest deadline), so that one wake-up serves every probe time of that millisecond.
    /// At 10,000 targets a second: about 1,000 wake-ups instead of 3,800, and 34 % of a core
    /// instead of 42 % (pinned, loopback targets); drift is 0–1 ms more.
    static let wakeGranularity: Int64 = 1_000_000

    static let openSocket: @Sendable (Int32) -> Int32 = { family in
        socket(family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    }

    /// One target's probing, at a stable index (its probe times and timeouts name the index).
    private struct Slot {
        /// The start it belongs to; 0: free.
        var token: UInt64
        var target: ProbeTarget
        var address: ProbeSocketAddress
        var interval: Int64
        var timeout: Int64
        /// The socket of the probe in flight; -1: none.
        var fd: Int32 = -1
        /// Counts the slot's probes (kept when the slot is reused), so that a timeout or an event
        /// of an earlier probe never ends a later one.
        var sequence: UInt32 = 0
        var started: Int64 = 0
        var drift: Duration = .zero
        /// Waiting in `waiting` for a socket under the budget (its probe time came, no socket yet).
        var waiting = false
        /// When the waiting probe was due (its drift is measured from there).
        var dueAt: Int64 = 0
        /// The probe in flight started late, after waiting for a socket.
        var delayedStart = false
    }

    private let epollFD: Int32
    private let queue: CommandQueue
    private let sink: AsyncStream<[ProbeReport]>.Continuation
    private let batchDelay: Int64
    private let logger: Logger
    private let openSocket: @Sendable (Int32) -> Int32

    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    private var slotOfToken: [UInt64: Int32] = [:]
    private var due = DeadlineHeap()
    private var timeouts = DeadlineHeap()
    private var batch: [ProbeReport] = []
    private var flushAt = Int64.max
    private var havePwait2 = true
    /// Probe sockets this thread may hold open at once (its share of `maxConcurrentProbes`).
    private let budget: Int
    /// Probe sockets open now (never above `budget`).
    private(set) var inFlight = 0
    /// The most sockets open at once so far (reported with every outcome).
    private var highWater: Int32 = 0
    /// Probes whose time came while `inFlight == budget`, oldest first: (slot, token). Started as
    /// sockets close; an entry whose slot moved on (target removed) is dropped.
    private var waiting = RingBuffer<WaitingProbe>()
    /// Local resource failures (EMFILE, ENOBUFS, …): logged at most once per `resourceLogInterval`
    /// with the count since the last line.
    private var resourceFailuresUnlogged = 0
    private var resourceLoggedAt: Int64?
    static let resourceLogInterval: Int64 = 10_000_000_000

    struct WaitingProbe {
        var slot: Int32
        var token: UInt64
    }

    init(epollFD: Int32, queue: CommandQueue, sink: AsyncStream<[ProbeReport]>.Continuation, batchDelay: Duration,
         logger: Logger, openSocket: @escaping @Sendable (Int32) -> Int32, budget: Int = .max) {
        self.epollFD = epollFD
        self.queue = queue
        self.sink = sink
        self.batchDelay = batchDelay.nanoseconds
        self.logger = logger
        self.openSocket = openSocket
        self.budget = max(budget, 1)
    }

    /// The thread's body: returns on `.exit`, every socket closed.
    func run() {
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Self.eventCapacity)
        defer {
            events.deallocate()
            closeAll()
        }
        while true {
            let n = wait(events, until: nextDeadline())
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                logger.critical("health probe thread stopped: epoll_wait failed",
                                metadata: ["error": "\(ProbeError(errno: e, timeout: .zero).message)"])
                return
            }
            var commands = false
            var ready = n
            // Every ready event is taken before any timeout is looked at (a full buffer is
            // followed by another, non-blocking, wait).
            for _ in 0..<64 {
                let now = monotonicNanoseconds()
                for k in 0..<Int(ready) {
                    let data = events[k].data.u64
                    if data == Self.wakeTag {
                        commands = true
                    } else {
                        complete(slot: Int(data >> 32), sequence: UInt32(truncatingIfNeeded: data), now: now)
                    }
                }
                guard ready == Int32(Self.eventCapacity) else { break }
                ready = epoll_wait(epollFD, events, Int32(Self.eventCapacity), 0)
                guard ready > 0 else { break }
            }
            if commands && !applyCommands() { return }
            let now = monotonicNanoseconds()
            expireTimeouts(now: now)
            startWaiting()
            fireProbeTimes(now: now)
            if !batch.isEmpty && monotonicNanoseconds() >= flushAt { flush() }
        }
    }

    // MARK: Waiting

    /// The earliest live deadline. Stale entries on top of the heaps are dropped first, so that
    /// the timeout of every probe that already ended does not cost a wake-up.
    private func nextDeadline() -> Int64 {
        while let first = due.first, !isLive(probeTime: first) { _ = due.popFirst() }
        while let first = timeouts.first, !isLive(timeout: first) { _ = timeouts.popFirst() }
        var next = batch.isEmpty ? Int64.max : flushAt
        if let first = due.first { next = min(next, first.deadline) }
        if let first = timeouts.first { next = min(next, first.deadline) }
        return next
    }

    private func isLive(probeTime entry: DeadlineHeap.Entry) -> Bool {
        let i = Int(entry.slot)
        return i < slots.count && slots[i].token == entry.tag
    }

    private func isLive(timeout entry: DeadlineHeap.Entry) -> Bool {
        let i = Int(entry.slot)
        return i < slots.count && slots[i].fd >= 0 && slots[i].sequence == UInt32(truncatingIfNeeded: entry.tag)
    }

    /// `epoll_pwait2` until `deadline` (nanosecond resolution); `epoll_wait` rounded up to whole
    /// milliseconds where the kernel lacks it (before 5.11).
    private func wait(_ events: UnsafeMutablePointer<epoll_event>, until deadline: Int64) -> Int32 {
        let capacity = Int32(Self.eventCapacity)
        if deadline == .max {
            return epoll_wait(epollFD, events, capacity, -1)
        }
        let now = monotonicNanoseconds()
        let tick = Self.wakeGranularity
        let wait = deadline > now ? (deadline + tick - 1) / tick * tick - now : 0
        if havePwait2 {
            var ts = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
            let n = epoll_pwait2(epollFD, events, capacity, &ts, nil)
            if n >= 0 || errno != ENOSYS { return n }
            havePwait2 = false
        }
        return epoll_wait(epollFD, events, capacity, Int32(min((wait + 999_999) / 1_000_000, Int64(Int32.max))))
    }

    // MARK: Commands

    /// Applies every queued command; false on `.exit`.
    private func applyCommands() -> Bool {
        for command in queue.take() {
            switch command {
            case .exit:
                return false
            case .apply(let commands):
                apply(commands)
            }
        }
        return true
    }

    private func apply(_ commands: ProbeCommands) {
        for token in commands.stops {
            guard let index = slotOfToken.removeValue(forKey: token) else { continue }
            let i = Int(index)
            if slots[i].fd >= 0 {
                closeProbeSocket(i)  // its outcome would be dropped anyway
            }
            slots[i].waiting = false  // its entry in `waiting` is dropped when it comes out
            slots[i].token = 0  // its heap entries are dropped when they come out
            freeSlots.append(index)
        }
        let now = monotonicNanoseconds()
        for start in commands.starts {
            let timing = start.target.timing
            var slot = Slot(token: start.token, target: start.target,
                            address: ProbeSocketAddress(start.target.address, port: start.target.port),
                            interval: timing.interval.nanoseconds, timeout: timing.timeout.nanoseconds)
            let index: Int32
            if let reused = freeSlots.popLast() {
                index = reused
                slot.sequence = slots[Int(reused)].sequence
                slots[Int(reused)] = slot
            } else {
                index = Int32(slots.count)
                slots.append(slot)
            }
            slotOfToken[start.token] = index
            due.insert(.init(deadline: now + start.firstDelay.nanoseconds, slot: index, tag: start.token))
        }
        if slotOfToken.isEmpty {
            due.removeAll()
            timeouts.removeAll()
            waiting.removeAll()
            slots.removeAll()
            freeSlots.removeAll()
        }
    }

    // MARK: Probe times

    private func fireProbeTimes(now: Int64) {
        // Bounded by the `now` of this pass and by `maxStartsPerPass`: a thread that falls behind
        // still gets back to its events and timeouts between starts.
        var fired = 0
        while fired < Self.maxStartsPerPass, let entry = due.popFirst(dueBy: now) {
            guard isLive(probeTime: entry) else { continue }  // removed or restarted
            fired += 1
            let i = Int(entry.slot)
            let start = monotonicNanoseconds()
            let interval = slots[i].interval
            var next = entry.deadline + interval
            if next <= start {
                // The thread stalled past whole intervals: skip the probe times already gone.
                next += ((start - next) / interval + 1) * interval
            }
            due.insert(.init(deadline: next, slot: entry.slot, tag: entry.tag))
            let drift = Duration.nanoseconds(start - entry.deadline)
            if slots[i].fd >= 0 || slots[i].waiting {
                enqueue(slots[i], outcome: nil, drift: drift, now: start)
                continue
            }
            if inFlight >= budget {
                // No socket under the budget: wait for one to close (late, never failed).
                slots[i].waiting = true
                slots[i].dueAt = entry.deadline
                waiting.append(WaitingProbe(slot: entry.slot, token: entry.tag))
                continue
            }
            slots[i].drift = drift
            probe(i, now: start)
        }
    }

    /// Starts waiting probes, oldest first, while sockets under the budget are free.
    private func startWaiting() {
        while inFlight < budget, let next = waiting.popFirst() {
            let i = Int(next.slot)
            guard i < slots.count, slots[i].token == next.token, slots[i].waiting else { continue }
            slots[i].waiting = false
            let now = monotonicNanoseconds()
            slots[i].drift = .nanoseconds(now - slots[i].dueAt)
            probe(i, now: now, delayed: true)
        }
    }

    private func closeProbeSocket(_ i: Int) {
        close(slots[i].fd)
        slots[i].fd = -1
        inFlight -= 1
    }

    /// Errnos that say this server lacks a resource, not that the target is unhealthy: the probe
    /// is not a verdict (`socket`: out of descriptors or kernel memory; `connect`: out of local
    /// ports or buffers).
    static func isLocalResourceError(_ e: Int32) -> Bool {
        e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM || e == EADDRNOTAVAIL || e == EAGAIN || e == ENOSPC
    }

    /// One TCP connect, closed as soon as its outcome is known. Only called with `inFlight <
    /// budget`.
    private func probe(_ i: Int, now: Int64, delayed: Bool = false) {
        slots[i].sequence &+= 1
        slots[i].delayedStart = delayed
        let fd = openSocket(slots[i].address.family)
        guard fd >= 0 else {
            let e = errno
            if Self.isLocalResourceError(e) {
                lackOfResources(i, errno: e, now: now, delayed: delayed)
            } else {
                fail(i, errno: e, now: now, delayed: delayed)
            }
            return
        }
        var noLinger = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &noLinger, socklen_t(MemoryLayout<linger>.size))
        if slots[i].address.connect(fd) == 0 {
            close(fd)
            enqueue(slots[i], outcome: .success(.nanoseconds(monotonicNanoseconds() - now)), drift: slots[i].drift,
                    now: now, delayed: delayed)
            return
        }
        let e = errno
        guard e == EINPROGRESS || e == EINTR else {
            close(fd)
            if Self.isLocalResourceError(e) {
                lackOfResources(i, errno: e, now: now, delayed: delayed)
            } else {
                fail(i, errno: e, now: now, delayed: delayed)
            }
            return
        }
        var event = epoll_event()
        event.events = EPOLLOUT.rawValue | EPOLLONESHOT.rawValue
        event.data.u64 = UInt64(UInt32(i)) << 32 | UInt64(slots[i].sequence)
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            // ENOMEM/ENOSPC: this server's limits, not the target's.
            let e = errno
            close(fd)
            lackOfResources(i, errno: e, now: now, delayed: delayed)
            return
        }
        slots[i].fd = fd
        inFlight += 1
        if inFlight > highWater { highWater = Int32(truncatingIfNeeded: inFlight) }
        slots[i].started = now
        timeouts.insert(.init(deadline: now + slots[i].timeout, slot: Int32(i), tag: UInt64(slots[i].sequence)))
    }

    private func fail(_ i: Int, errno e: Int32, now: Int64, delayed: Bool) {
        enqueue(slots[i], outcome: .failure(ProbeError(errno: e, timeout: slots[i].target.timing.timeout)),
                drift: slots[i].drift, now: now, delayed: delayed)
    }

    /// The probe could not start for this server's own lack of a resource: reported without an
    /// outcome (the target keeps its verdict; `HealthMetrics.probes.localResourceFailures`
    /// counts it), logged at most once per `resourceLogInterval` with the limits.
    private func lackOfResources(_ i: Int, errno e: Int32, now: Int64, delayed: Bool) {
        enqueue(slots[i], outcome: nil, drift: slots[i].drift, now: now, delayed: delayed, localErrno: e)
        resourceFailuresUnlogged += 1
        if let last = resourceLoggedAt, now - last < Self.resourceLogInterval { return }
        resourceLoggedAt = now
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        logger.error("health probes cannot open sockets: this server is short of resources, targets keep their verdicts",
                     metadata: [
                         "error": "\(ProbeError(errno: e, timeout: .zero).message)",
                         "probes_not_started": "\(resourceFailuresUnlogged)",
                         "probe_sockets_open": "\(inFlight)", "probe_budget": "\(budget)",
                         "nofile_soft": "\(limit.rlim_cur)", "nofile_hard": "\(limit.rlim_max)",
                     ])
        resourceFailuresUnlogged = 0
    }

    // MARK: Outcomes

    /// A probe's socket is ready (an epoll event, or found so at its deadline): connected or
    /// failed, by `SO_ERROR`.
    private func complete(slot i: Int, sequence: UInt32, now: Int64) {
        guard i < slots.count, slots[i].fd >= 0, slots[i].sequence == sequence else { return }
        let fd = slots[i].fd
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
        closeProbeSocket(i)
        let outcome: Result<Duration, ProbeError> = error == 0
            ? .success(.nanoseconds(now - slots[i].started))
            : .failure(ProbeError(errno: error, timeout: slots[i].target.timing.timeout))
        enqueue(slots[i], outcome: outcome, drift: slots[i].drift, now: now, delayed: slots[i].delayedStart)
    }

    private func expireTimeouts(now: Int64) {
        while let entry = timeouts.popFirst(dueBy: now) {
            guard isLive(timeout: entry) else { continue }  // ended already
            let i = Int(entry.slot)
            // Connected or refused, but its event not taken yet (this thread was late): not a
            // timeout of the target's.
            var ready = pollfd(fd: slots[i].fd, events: Int16(POLLOUT), revents: 0)
            if poll(&ready, 1, 0) == 1 {
                complete(slot: i, sequence: slots[i].sequence, now: now)
                continue
            }
            closeProbeSocket(i)
            enqueue(slots[i], outcome: .failure(.timedOut(after: slots[i].target.timing.timeout)), drift: slots[i].drift, now: now,
                    delayed: slots[i].delayedStart)
        }
    }

    private func enqueue(_ slot: Slot, outcome: Result<Duration, ProbeError>?, drift: Duration, now: Int64,
                         delayed: Bool = false, localErrno: Int32 = 0) {
        batch.append(ProbeReport(target: slot.target, token: slot.token, outcome: outcome, localErrno: localErrno,
                                 delayed: delayed, socketsHighWater: highWater, drift: drift, time: .now))
        if batch.count == 1 { flushAt = now + batchDelay }
        if batch.count >= Self.maxBatch { flush() }
    }

    private func flush() {
        sink.yield(batch)
        batch = []
        batch.reserveCapacity(64)
        flushAt = .max
    }

    private func closeAll() {
        for i in slots.indices where slots[i].fd >= 0 {
            closeProbeSocket(i)
        }
    }
}

/// A target's socket address, built once per start.
enum ProbeSocketAddress {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    init(_ address: IPAddress, port: UInt16) {
        switch address {
        case .v4(let a):
            var s = sockaddr_in()
            s.sin_family = sa_family_t(AF_INET)
            s.sin_port = port.bigEndian
            s.sin_addr.s_addr = a.value.bigEndian
            self = .v4(s)
        case .v6(let a):
            var s = sockaddr_in6()
            s.sin6_family = sa_family_t(AF_INET6)
            s.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &s.sin6_addr) { bytes in
                bytes.storeBytes(of: a.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: a.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            self = .v6(s)
        }
    }

    var family: Int32 {
        switch self {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    func connect(_ fd: Int32) -> Int32 {
        switch self {
        case .v4(var s):
            withUnsafePointer(to: &s) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(var s):
            withUnsafePointer(to: &s) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }
}

/// A FIFO queue on one growable array (amortized O(1) append and popFirst; no per-element node).
struct RingBuffer<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if count == storage.count {
            // Grow: unroll from head into a new array twice the size.
            var grown: [Element?] = []
            grown.reserveCapacity(max(16, storage.count * 2))
            for k in 0..<count { grown.append(storage[(head + k) % storage.count]) }
            grown.append(contentsOf: repeatElement(nil, count: max(16, storage.count * 2) - count))
            storage = grown
            head = 0
        }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    mutating func removeAll() {
        storage = []
        head = 0
        count = 0
    }
}

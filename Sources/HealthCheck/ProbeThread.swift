import CHealthCheck
import DNSWire
import GSLB
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One prober thread of a `HealthChecker`: a POSIX thread of its own, apart from the DNS event
/// loops, that probes its share of the targets with raw non-blocking sockets and epoll (see
/// `ProbeLoop`). The checker talks to it only through `send(_:)` (a mutex-protected queue and an
/// eventfd: commands are rare) and hears from it only through the reports stream.
///
/// `stop()` (or deinit) ends the thread, joins it and closes its descriptors, with every probe
/// in flight; reports not yet handed over are dropped.
final class ProbeThread: @unchecked Sendable {
    enum Command: Sendable {
        case apply(ProbeCommands)
        case exit
    }

    struct StartError: Error, CustomStringConvertible {
        var call: String
        var errno: Int32
        var description: String { "\(call): \(String(cString: strerror(errno)).lowercased())" }
    }

    private let queue: CommandQueue
    private let epollFD: Int32
    /// Set once in init; read by stop/deinit on the owner's side only.
    private var thread: pthread_t?

    init(index: Int, sink: AsyncStream<[ProbeReport]>.Continuation, batchDelay: Duration, logger: Logger,
         openSocket: @escaping @Sendable (Int32) -> Int32 = ProbeLoop.openSocket, budget: Int = .max) throws(StartError) {
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw StartError(call: "epoll_create1", errno: errno) }
        let wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            let e = errno
            close(epollFD)
            throw StartError(call: "eventfd", errno: e)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = ProbeLoop.wakeTag
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let e = errno
            close(wakeFD)
            close(epollFD)
            throw StartError(call: "epoll_ctl", errno: e)
        }
        self.epollFD = epollFD
        queue = CommandQueue(wakeFD: wakeFD)
        let loop = ProbeLoop(epollFD: epollFD, queue: queue, sink: sink, batchDelay: batchDelay, logger: logger,
                             openSocket: openSocket, budget: budget)
        let body = Unmanaged.passRetained(ThreadBody(name: "health-probe-\(index)", run: loop.run)).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { argument in
            let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            chealthcheck_set_thread_name(body.name)
            body.run()
            return nil
        }, body)
        guard rc == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(body).release()
            close(wakeFD)
            close(epollFD)
            throw StartError(call: "pthread_create", errno: rc)
        }
        thread = handle
    }

    deinit { stop() }

    /// Hands `command` to the thread and wakes it; nothing once stopped (its eventfd is closed).
    func send(_ command: Command) {
        guard thread != nil else { return }
        queue.send(command)
    }

    /// Ends the thread and waits for it; closes its epoll instance and eventfd. Idempotent.
    func stop() {
        guard let handle = thread else { return }
        thread = nil
        queue.send(.exit)
        pthread_join(handle, nil)
        close(queue.wakeFD)
        close(epollFD)
    }

    private final class ThreadBody {
        let name: String
        let run: () -> Void
        init(name: String, run: @escaping () -> Void) {
            self.name = name
            self.run = run
        }
    }
}

/// Commands for one prober thread: appended under a mutex, then the eventfd is written; the thread
/// reads the eventfd (clearing it) and then takes the whole queue, so no wake-up is lost.
final class CommandQueue: @unchecked Sendable {
    let wakeFD: Int32
    private let lock = PThreadMutex()
    private var pending: [ProbeThread.Command] = []

    init(wakeFD: Int32) { self.wakeFD = wakeFD }

    func send(_ command: ProbeThread.Command) {
        lock.withLock { pending.append(command) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    /// On the prober thread, after the eventfd became readable.
    func take() -> [ProbeThread.Command] {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, MemoryLayout<UInt64>.size)
        return lock.withLock {
            let commands = pending
            pending = []
            return commands
        }
    }
}

/// A pthread mutex, for the command queue only (the DNS query path takes no locks).
final class PThreadMutex: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// Monotonic nanoseconds (`CLOCK_MONOTONIC`): probe times, timeouts, drift and latency.
@inline(__always)
func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

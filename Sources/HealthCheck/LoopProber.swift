import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The probes that run on one event loop, and nothing else: timers, connects and a batch of
/// outcomes. It decides no verdict (STYLE item 12: probes return up/down, `HealthChecker` owns
/// the hysteresis).
///
/// Confined to `loop`: `HealthChecker` holds it in a `NIOLoopBoundBox` and reaches it with
/// `loop.execute`; its timers and futures use `assumeIsolated()`. No locks, no tasks.
///
/// Probe times are `first + k × interval` (fixed rate, so the stagger is kept), kept in a
/// `DeadlineHeap` with one NIO timer armed for the earliest (see `DeadlineHeap` for why not one
/// timer per target). A probe time handled late records its drift; probe times already past are
/// skipped rather than bunched. A probe time that finds the previous probe of the target still in
/// flight starts nothing and reports a skip. Outcomes are gathered for `batchDelay` and yielded to
/// the checker in one element.
final class LoopProber {
    private struct Slot {
        var token: UInt64
        var address: SocketAddress
        var interval: TimeAmount
        var timeout: TimeAmount
        var inFlight = false
    }

    private let loop: any EventLoop
    private let sink: AsyncStream<[ProbeReport]>.Continuation
    private let batchDelay: TimeAmount
    private var slots: [ProbeTarget: Slot] = [:]
    private var due = DeadlineHeap()
    private var timer: (deadline: NIODeadline, task: Scheduled<Void>)?
    private var batch: [ProbeReport] = []
    private var flushScheduled = false

    init(loop: any EventLoop, sink: AsyncStream<[ProbeReport]>.Continuation, batchDelay: Duration) {
        self.loop = loop
        self.sink = sink
        self.batchDelay = TimeAmount(batchDelay)
    }

    func apply(_ commands: ProbeCommands) {
        for stop in commands.stops where slots[stop.target]?.token == stop.token {
            slots[stop.target] = nil  // its heap entry is dropped when it comes out
        }
        let now = NIODeadline.now()
        for start in commands.starts {
            slots[start.target] = Slot(token: start.token, address: start.address,
                                       interval: TimeAmount(start.target.timing.interval),
                                       timeout: TimeAmount(start.target.timing.timeout))
            due.insert(.init(deadline: now + TimeAmount(start.firstDelay), target: start.target, token: start.token))
        }
        if slots.isEmpty { due.removeAll() }
        arm()
    }

    /// Stops every probe (the checker is finishing). Probes in flight end on their own and their
    /// reports go nowhere.
    func stopAll() {
        timer?.task.cancel()
        timer = nil
        slots = [:]
        due.removeAll()
        batch = []
    }

    /// Keeps one timer armed for the earliest probe time.
    private func arm() {
        guard let first = due.first else {
            timer?.task.cancel()
            timer = nil
            return
        }
        if let timer, timer.deadline <= first.deadline { return }
        timer?.task.cancel()
        let deadline = first.deadline
        let task = loop.assumeIsolated().scheduleTask(deadline: deadline) { self.tick() }
        timer = (deadline, task)
    }

    private func tick() {
        timer = nil
        let now = NIODeadline.now()
        while let first = due.first, first.deadline <= now {
            _ = due.popFirst()
            fire(first, now: now)
        }
        arm()
    }

    private func fire(_ entry: DeadlineHeap.Entry, now: NIODeadline) {
        guard let slot = slots[entry.target], slot.token == entry.token else { return }  // stale
        let drift = Duration(now - entry.deadline)
        var next = entry.deadline + slot.interval
        if next <= now {
            // The loop stalled past whole intervals: skip the probe times already gone.
            let behind = (now - next).nanoseconds / slot.interval.nanoseconds + 1
            next = next + .nanoseconds(behind * slot.interval.nanoseconds)
        }
        due.insert(.init(deadline: next, target: entry.target, token: entry.token))
        if slot.inFlight {
            enqueue(ProbeReport(target: entry.target, token: entry.token, outcome: nil, drift: drift, time: .now))
            return
        }
        slots[entry.target]?.inFlight = true
        probe(entry.target, token: entry.token, address: slot.address, timeout: slot.timeout, started: now, drift: drift)
    }

/// One TCP connect, closed as soon as it is made (with an RST, SO_LINGER 0, so that probes leave
    /// no TIME_WAIT behind on our side).
    private func probe(_ target: ProbeTarget, token: UInt64, address: SocketAddress, timeout: TimeAmount,
                       started: NIODeadline, drift: Duration) {
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                    ?? channel.eventLoop.makeSucceededVoidFuture()
            }
            .connect(to: address)
            .assumeIsolated()
            .whenComplete { result in
                let latency = Duration(NIODeadline.now() - started)
                let outcome: Result<Duration, ProbeError>
                switch result {
                case .success(let channel):
                    channel.close(promise: nil)
                    outcome = .success(latency)
                case .failure(let error):
                    outcome = .failure(.connectFailure(error, timeout: Duration(timeout)))
                }
                if self.slots[target]?.token == token { self.slots[target]?.inFlight = false }
                self.enqueue(ProbeReport(target: target, token: token, outcome: outcome, drift: drift, time: .now))
            }
    }

    private func enqueue(_ report: ProbeReport) {
        batch.append(report)
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.assumeIsolated().scheduleTask(in: batchDelay) { self.flush() }
    }

    private func flush() {
        flushScheduled = false
        guard !batch.isEmpty else { return }
        sink.yield(batch)
        batch = []
    }
}

extension Duration {
    init(_ amount: TimeAmount) { self = .nanoseconds(amount.nanoseconds) }
}

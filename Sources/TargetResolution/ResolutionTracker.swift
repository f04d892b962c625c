import DNSWire
import Logging

/// Keeps a set of names resolved and reports every change.
///
/// Names added with `setNames` are resolved at once (as soon as `run` runs). Each name is resolved
/// again when its answer's TTL, clamped to `minRefresh...maxRefresh`, runs out, or
/// `retryAfterFailure` after an error. Names removed are forgotten: not asked again, and a
/// resolution of theirs still under way is discarded when it ends.
///
/// Every change of a name's outcome is yielded on `updates`: the first outcome, a different address
/// set, success ↔ error, or an error with another code or message. A re-resolution that gives the
/// same addresses yields nothing, even when the TTL differs (a caching upstream counts it down);
/// `current(_:)` always has the latest TTL.
///
/// At most `maxConcurrentResolutions` names are resolved at once; due names wait their turn, oldest
/// first. `run()` is the refresh loop, with every resolution a child task of it; it returns when
/// its task is cancelled, and then finishes `updates`.
public actor ResolutionTracker {
    /// A lifecycle with an explicit state (as Hummingbird's `Server`): the loop runs once.
    private enum State { case idle, running, finished }

    private struct Entry {
        /// As given to `setNames` (the dictionary key compares case-insensitively).
        var name: DNSName
        /// New for each time the name is added, so a stale resolution is recognised.
        var token: UInt64
        var outcome: Result<ResolvedAddresses, ResolutionError>?
        var due: ContinuousClock.Instant
        var resolving = false
    }

    private let resolver: UpstreamResolver
    private let configuration: UpstreamConfiguration
    private let logger: Logger
    private let clock = ContinuousClock()
    private var entries: [DNSName: Entry] = [:]
    private var nextToken: UInt64 = 0
    private var inFlight = 0
    private var state = State.idle

    /// Changes of outcome, in the order they happened. One consumer; unbounded buffer (one element
    /// per change); finished when `run()` returns.
    public nonisolated let updates: AsyncStream<ResolutionUpdate>
    private let updatesContinuation: AsyncStream<ResolutionUpdate>.Continuation
    /// Wakes the loop: names added, a resolution ended, the next refresh fell due.
    private let wakes: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation

    public init(resolver: UpstreamResolver, configuration: UpstreamConfiguration, logger: Logger) {
        self.resolver = resolver
        self.configuration = configuration
        self.logger = logger
        (updates, updatesContinuation) = AsyncStream.makeStream(of: ResolutionUpdate.self, bufferingPolicy: .unbounded)
        (wakes, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    deinit {
        updatesContinuation.finish()
        wakeContinuation.finish()
    }

    /// Tracks exactly `names` from now on: new ones are resolved at once, missing ones forgotten.
    public func setNames(_ names: Set<DNSName>) {
        for key in Array(entries.keys) where !names.contains(key) {
            entries[key] = nil
        }
        let now = clock.now
        for name in names where entries[name] == nil {
            nextToken += 1
            entries[name] = Entry(name: name, token: nextToken, outcome: nil, due: now)
        }
        wakeContinuation.yield()
    }

    /// The latest outcome for `name`; nil if it is not tracked or not resolved yet.
    public func current(_ name: DNSName) -> Result<ResolvedAddresses, ResolutionError>? {
        entries[name]?.outcome
    }

    /// The refresh loop. Returns when the calling task is cancelled (at once: resolutions under
    /// way are cancelled too); a second call returns immediately.
    public func run() async {
        guard state == .idle else {
            logger.error("ResolutionTracker.run() called while \(state)")
            return
        }
        state = .running
        wakeContinuation.yield()
        await withDiscardingTaskGroup { group in
            var timer: Task<Void, Never>?
            for await _ in wakes {
                timer?.cancel()
                timer = nil
                if Task.isCancelled { break }
                if let next = startDue(in: &group) {
                    let wake = wakeContinuation
                    timer = Task {
                        try? await Task.sleep(until: next, clock: .continuous)
                        if !Task.isCancelled { wake.yield() }
                    }
                }
            }
            timer?.cancel()
            group.cancelAll()
        }
        state = .finished
        updatesContinuation.finish()
    }

    /// Starts the due names (oldest first) up to the concurrency limit; returns when the next one
    /// falls due, nil when only a finishing resolution can make progress (or nothing is tracked).
    private func startDue(in group: inout DiscardingTaskGroup) -> ContinuousClock.Instant? {
        let limit = max(1, configuration.maxConcurrentResolutions)
        let now = clock.now
        if inFlight < limit {
            let due = entries.values.filter { !$0.resolving && $0.due <= now }.sorted { $0.due < $1.due }
            for entry in due.prefix(limit - inFlight) {
                entries[entry.name]?.resolving = true
                inFlight += 1
                let resolver = resolver, name = entry.name, token = entry.token
                group.addTask {
                    let result = await resolver.resolve(name)
                    await self.finish(name, token: token, result: result)
                }
            }
        }
        guard inFlight < limit else { return nil }
        return entries.values.lazy.filter { !$0.resolving }.map(\.due).min()
    }

    private func finish(_ name: DNSName, token: UInt64, result: Result<ResolvedAddresses, ResolutionError>) {
        inFlight -= 1
        defer { wakeContinuation.yield() }
        guard var entry = entries[name], entry.token == token else { return }  // removed meanwhile
        entry.resolving = false
        if case .failure(let error) = result, error.code == .cancelled {
            entries[name] = entry
            return
        }
        let now = clock.now
        switch result {
        case .success(let resolved): entry.due = now + configuration.refreshInterval(ttl: resolved.ttl)
        case .failure: entry.due = now + configuration.retryAfterFailure
        }
        let changed = !Self.sameOutcome(entry.outcome, result)
        entry.outcome = result
        entries[name] = entry
        guard changed else {
            logger.trace("target name unchanged", metadata: ["name": "\(entry.name)"])
            return
        }
        switch result {
        case .success(let resolved):
            logger.info("target name resolved", metadata: [
                "name": "\(entry.name)", "addresses": "\(resolved.addresses.map(\.description).joined(separator: ","))",
                "ttl": "\(resolved.ttl)",
            ])
        case .failure(let error):
            logger.warning("target name not resolved", metadata: [
                "name": "\(entry.name)", "code": "\(error.code)", "error": "\(error.message)",
            ])
        }
        updatesContinuation.yield(ResolutionUpdate(name: entry.name, result: result))
    }

    /// Same addresses, or the same error code and message. TTLs are not compared.
    private static func sameOutcome(_ old: Result<ResolvedAddresses, ResolutionError>?,
                                    _ new: Result<ResolvedAddresses, ResolutionError>) -> Bool {
        switch (old, new) {
        case (.success(let a)?, .success(let b)): a.addresses == b.addresses
        case (.failure(let a)?, .failure(let b)): a.code == b.code && a.message == b.message
        default: false
        }
    }
}

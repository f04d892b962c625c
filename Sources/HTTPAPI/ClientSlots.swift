import Foundation
import Hummingbird
import NIOCore

/// How many of something (connections, requests in flight, watches) each client address holds,
/// against a cap per client, so that one client cannot take what every other client needs: the
/// connections under `api.maxConnections`, or the API's threads (issue 12). Clients are keyed as
/// the rate limiter keys them (an IPv4 address, an IPv6 /64). A client without an IP address (a
/// Unix socket, in-process tests) is not counted. Thread-safe (a lock; never on the DNS path).
public final class ClientSlots: @unchecked Sendable {
    /// Slots per client at most; 0: no cap.
    public let maxPerClient: Int
    private let lock = NSLock()
    private var held: [ClientRateLimiter.Key: Int] = [:]
    private var refused = 0

    public init(maxPerClient: Int) { self.maxPerClient = max(0, maxPerClient) }

    /// Takes a slot for `key`: false when the client already holds `maxPerClient`.
    func take(_ key: ClientRateLimiter.Key?) -> Bool {
        guard let key, maxPerClient > 0 else { return true }
        return lock.withLock {
            let n = held[key, default: 0]
            guard n < maxPerClient else {
                refused += 1
                return false
            }
            held[key] = n + 1
            return true
        }
    }

    func release(_ key: ClientRateLimiter.Key?) {
        guard let key, maxPerClient > 0 else { return }
        lock.withLock {
            let n = held[key, default: 0]
            if n <= 1 { held[key] = nil } else { held[key] = n - 1 }
        }
    }

    /// Clients holding at least one slot (the table never holds more: a client's entry goes with
    /// its last slot).
    public var clients: Int { lock.withLock { held.count } }
    /// Slots held by every client together.
    public var total: Int { lock.withLock { held.values.reduce(0, +) } }
    /// Takes refused since start.
    public var refusedTotal: Int { lock.withLock { refused } }
}

/// A slot held for as long as a response is being produced: released when the body has been
/// written (or dropped unwritten), so a streamed list counts until its last byte.
final class HeldSlot: Sendable {
    private let slots: ClientSlots
    private let key: ClientRateLimiter.Key?

    init(_ slots: ClientSlots, _ key: ClientRateLimiter.Key?) {
        self.slots = slots
        self.key = key
    }

    deinit { slots.release(key) }
}

/// Caps what each client has in flight: lists (`api.maxListsInFlightPerClient`), other requests
/// (`api.maxRequestsInFlightPerClient`) and open watches (`api.watch.maxPerClient`); past one,
/// 429 with Retry-After, as Kubernetes' priority and fairness rejects a flow whose queue is full.
/// A request counts from its head to the last byte of its response body. A list is counted on its
/// own because it costs a hundred gets (every object decoded and encoded: about 50 ms for 200
/// objects on one core), so a client looping lists over many connections holds at most a couple
/// of lists' worth of the API's threads, and every other client's request is served in its turn.
struct ClientConcurrencyMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let requests: ClientSlots
    let lists: ClientSlots
    let watches: ClientSlots
    /// How long a request over its cap waits for a slot before its 429 (`api.overloadWaitSeconds`).
    let overloadWait: Duration

    func handle(_ request: Request, context: APIRequestContext,
                next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        let key = ClientRateLimiter.key(context.channel.remoteAddress)
        let isList = request.method == .get && Self.isCollection(request.uri.path)
        let isWatch = isList && Self.isWatch(request.uri.query)
        let slots = isWatch ? watches : isList ? lists : requests
        guard await Self.take(slots, key, waiting: overloadWait) else {
            let message = isWatch
                ? "this client has \(slots.maxPerClient) watches open (api.watch.maxPerClient); close one or retry later"
                : isList
                ? "this client has \(slots.maxPerClient) lists in flight (api.maxListsInFlightPerClient); retry when one is answered"
                : "this client has \(slots.maxPerClient) requests in flight (api.maxRequestsInFlightPerClient); retry when one is answered"
            return APIStatus(code: 429, reason: "TooManyRequests", message: message,
                             details: .init(retryAfterSeconds: 1)).response()
        }
        let held = HeldSlot(slots, key)  // released with the response (or as an error is answered)
        var response = try await next(request, context)
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            try await body.write(writer)
            withExtendedLifetime(held) {}
        }
        return response
    }

    /// Takes a slot, waiting up to `wait` for one (polling, at no CPU cost to speak of): a client
    /// over its cap is queued rather than answered 429 at once, so a flooding client is slowed to
    /// the pace it is served at instead of looping on cheap refusals, and a burst that fits in the
    /// wait (an apply with more connections than the cap) is served, only later.
    static func take(_ slots: ClientSlots, _ key: ClientRateLimiter.Key?, waiting wait: Duration) async -> Bool {
        if slots.take(key) { return true }
        let deadline = ContinuousClock.now + wait
        var pause = Duration.milliseconds(10)
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(pause, deadline - ContinuousClock.now))
            if slots.take(key) { return true }
            pause = min(pause * 2, .milliseconds(100))
        }
        return false
    }

    /// The collection (lists and watches), with or without a trailing slash.
    static func isCollection(_ path: String) -> Bool {
        path == "/v1/nameservices" || path == "/v1/nameservices/"
    }

    /// `watch=true` or `watch=1` in a query string.
    static func isWatch(_ query: String?) -> Bool {
        guard let query, query.contains("watch") else { return false }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first == "watch", parts.count == 2, parts[1] == "true" || parts[1] == "1" { return true }
        }
        return false
    }
}

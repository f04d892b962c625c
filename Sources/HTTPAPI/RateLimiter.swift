import Foundation
import Hummingbird
import NIOCore

/// A token bucket per client address (IPv4 address, IPv6 /64, an IPv4-mapped IPv6 address as its
/// IPv4 one): `rate` requests per second with bursts of `burst` (issue 12).
///
/// The table holds at most `maxClients` buckets. A bucket that has refilled completely carries no
/// information, so those are dropped first when the table is full; if every client is still being
/// limited, the tenth of the buckets least recently used goes (those clients start again with a
/// full bucket), so the cost of a full table is paid once per `maxClients / 10` new clients.
public final class ClientRateLimiter: @unchecked Sendable {
    struct Key: Hashable { let high: UInt64, low: UInt64 }
    private struct Bucket { var tokens: Double, last: UInt64 }

    public let rate: Double
    public let burst: Double
    public let maxClients: Int
    private let lock = NSLock()
    private var buckets: [Key: Bucket] = [:]

    public init(requestsPerSecond: Double, burst: Int, maxClients: Int) {
        rate = requestsPerSecond
        self.burst = Double(max(1, burst))
        self.maxClients = max(1, maxClients)
    }

    /// Buckets currently held (for tests and metrics).
    public var trackedClients: Int { lock.withLock { buckets.count } }

    /// Takes one token for `key` at `now` (nanoseconds, monotonic): nil when allowed, else the whole
    /// seconds (at least 1) until a token is back.
    func take(_ key: Key, now: UInt64) -> Int? {
        lock.withLock {
            var bucket: Bucket
            if let b = buckets[key] {
                bucket = b
                let elapsed = Double(now &- b.last) / 1e9
                bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
            } else {
                if buckets.count >= maxClients { makeRoom(now: now) }
                bucket = Bucket(tokens: burst, last: now)
            }
            bucket.last = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                buckets[key] = bucket
                return nil
            }
            buckets[key] = bucket
            let wait = (1 - bucket.tokens) / rate
            return max(1, Int(min(wait, 3600).rounded(.up)))
        }
    }

    private func makeRoom(now: UInt64) {
        buckets = buckets.filter { _, b in b.tokens + Double(now &- b.last) / 1e9 * rate < burst }
        guard buckets.count >= maxClients else { return }
        let drop = max(1, maxClients / 10)
        let oldest = buckets.sorted { $0.value.last < $1.value.last }.prefix(drop).map(\.key)
        for key in oldest { buckets[key] = nil }
    }

    /// The bucket key of a client address; nil for one without an IP address (a Unix socket, tests).
    static func key(_ address: SocketAddress?) -> Key? {
        switch address {
        case .v4(let a):
            return Key(high: 0, low: UInt64(UInt32(bigEndian: a.address.sin_addr.s_addr)))
        case .v6(let a):
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            guard bytes.count == 16 else { return nil }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                let v4 = bytes[12..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                return Key(high: 0, low: v4)
            }
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return Key(high: high, low: 1 << 63)  // low never equals an IPv4 key's
        default:
            return nil
        }
    }
}

/// Answers 429 (a `Status` with `details.retryAfterSeconds` and a `Retry-After` header) to a client
/// over its rate.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let limiter: ClientRateLimiter
    /// How long a request over the rate waits for a token before its 429 (`api.overloadWaitSeconds`):
    /// a flooding client is slowed to the rate instead of looping on cheap refusals.
    var overloadWait: Duration = .zero

    func handle(_ request: Request, context: APIRequestContext,
                next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        guard let key = ClientRateLimiter.key(context.channel.remoteAddress) else { return try await next(request, context) }
        var refused = limiter.take(key, now: NIODeadline.now().uptimeNanoseconds)
        if refused != nil, overloadWait > .zero {
            try? await Task.sleep(for: overloadWait)
            refused = limiter.take(key, now: NIODeadline.now().uptimeNanoseconds)
        }
        if let wait = refused {
            return APIStatus(code: 429, reason: "TooManyRequests",
                             message: "too many requests from this client: at most \(limiter.rate.formatted()) per second, bursts of \(Int(limiter.burst)) (api.rateLimit); retry in \(wait) s",
                             details: .init(retryAfterSeconds: wait)).response()
        }
        return try await next(request, context)
    }
}

private extension Double {
    func formatted() -> String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}

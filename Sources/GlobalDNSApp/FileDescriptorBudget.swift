#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How the process's open-file limit (`RLIMIT_NOFILE`) is shared: a reserve for the process itself
/// (store, zone files, logs, event loops' epoll and eventfds, the DNS UDP sockets and listeners,
/// upstream and etcd sockets), and the rest among the three things that open descriptors on demand:
/// API connections, DNS TCP connections and health-probe sockets. Pure (the limit is a parameter),
/// so it is table-tested; `GlobalDNSServer.run` computes it once at start, after
/// `raiseOpenFileLimit()`.
///
/// Each class gets its configured cap when the caps fit under `limit − reserve`. When they do not,
/// each first keeps its minimum (`minimum`, or its cap if that is smaller), and what is left is
/// shared in proportion to what each asked above its minimum, so the sum fits; every clamp is a
/// warning naming the key and the numbers. Only when even the minimums do not fit is the
/// configuration refused (`ConfigurationError` on `limits.fileDescriptorReserve`: exit 2).
public struct FileDescriptorBudget: Sendable, Equatable {
    /// One class of descriptors: its configuration key, what was configured and what it gets.
    public struct Share: Sendable, Equatable {
        public var key: String
        public var configured: Int
        public var granted: Int

        public var isClamped: Bool { granted < configured }
    }

    /// The limit the budget was computed from (the soft `RLIMIT_NOFILE`, capped at `Int32.max`).
    public var limit: Int
    public var reserve: Int
    /// `api.maxConnections`.
    public var api: Share
    /// `dns.tcpMaxConnections`.
    public var dnsTCP: Share
    /// `healthCheck.maxConcurrentProbes`.
    public var probes: Share

    /// The fewest descriptors each class is worth running with: below this the budget is refused.
    public static let minimum = 16
    /// `api.maxConnections`'s default (the API's own cap), budgeted when the caller has none.
    public static let defaultAPIConnections = 512

    /// One line per clamped class: `api.maxConnections 20000 → 251 (RLIMIT_NOFILE 1024, limits.fileDescriptorReserve 256)`.
    public var warnings: [String] {
        [api, dnsTCP, probes].filter(\.isClamped).map {
            "\($0.key) \($0.configured) exceeds the file-descriptor budget: clamped to \($0.granted) (RLIMIT_NOFILE \(limit), limits.fileDescriptorReserve \(reserve), api.maxConnections + dns.tcpMaxConnections + healthCheck.maxConcurrentProbes asked \(api.configured + dnsTCP.configured + probes.configured) of \(max(limit - reserve, 0)))"
        }
    }

    /// Shares `limit − reserve` among the three caps (see the type's comment). Caps below 1 are
    /// taken as 1; a limit above `Int32.max` (RLIM_INFINITY) as `Int32.max`.
    public static func compute(limit: UInt64, reserve: Int, apiMaxConnections: Int?, dnsTCPMaxConnections: Int,
                               maxConcurrentProbes: Int) throws(ConfigurationError) -> FileDescriptorBudget {
        let limit = Int(min(limit, UInt64(Int32.max)))
        let reserve = max(reserve, 0)
        // Caps are validated elsewhere; clamp here too, so the sums below cannot overflow.
        let asked = [apiMaxConnections ?? defaultAPIConnections, dnsTCPMaxConnections, maxConcurrentProbes]
            .map { min(max($0, 1), Int(Int32.max)) }
        let keys = ["api.maxConnections", "dns.tcpMaxConnections", "healthCheck.maxConcurrentProbes"]
        let available = limit - reserve
        let minimums = asked.map { min($0, minimum) }
        guard available >= minimums.reduce(0, +) else {
            throw ConfigurationError(
                keyPath: "limits.fileDescriptorReserve",
                message: "the open-file limit (RLIMIT_NOFILE \(limit), after raising the soft limit to the hard one) minus the reserve (\(reserve)) leaves \(available) descriptors, fewer than the \(minimums.reduce(0, +)) that API connections, DNS TCP connections and health probes need at least (\(minimum) each): raise the limit (ulimit -n, LimitNOFILE=) or lower limits.fileDescriptorReserve")
        }
        var granted = asked
        let total = asked.reduce(0, +)
        if total > available {
            let rest = available - minimums.reduce(0, +)
            let above = zip(asked, minimums).map { $0 - $1 }
            let aboveTotal = above.reduce(0, +)
            for i in asked.indices {
                // aboveTotal > rest ≥ 0 here (total > available), so no share exceeds its cap.
                granted[i] = minimums[i] + (aboveTotal == 0 ? 0 : above[i] * rest / aboveTotal)
            }
        }
        return FileDescriptorBudget(
            limit: limit, reserve: reserve,
            api: Share(key: keys[0], configured: asked[0], granted: granted[0]),
            dnsTCP: Share(key: keys[1], configured: asked[1], granted: granted[1]),
            probes: Share(key: keys[2], configured: asked[2], granted: granted[2]))
    }
}

/// The open-file limit before and after `raiseOpenFileLimit()`.
public struct OpenFileLimit: Sendable, Equatable {
    public var softBefore: UInt64
    public var soft: UInt64
    public var hard: UInt64
    /// Why the soft limit could not be raised (the errno in words); nil when it was (or already was at the hard limit).
    public var error: String?
}

/// Raises the soft `RLIMIT_NOFILE` to the hard one (what `ulimit -n` / systemd's `LimitNOFILE=`
/// allow), as nginx and HAProxy do: connections and probes are then capped by
/// `FileDescriptorBudget`, not by a low default soft limit (1024 on most distributions). A hard limit
/// of RLIM_INFINITY is left as it is (the kernel refuses it above `fs.nr_open`): the soft limit
/// goes to `fs.nr_open` then.
public func raiseOpenFileLimit() -> OpenFileLimit {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
        let e = String(cString: strerror(errno)).lowercased()
        return OpenFileLimit(softBefore: 0, soft: 0, hard: 0, error: "getrlimit: \(e)")
    }
    let before = UInt64(limit.rlim_cur)
    var target = limit.rlim_max
    if target == rlim_t.max, let nrOpen = readNrOpen() { target = rlim_t(nrOpen) }
    guard limit.rlim_cur < target else {
        return OpenFileLimit(softBefore: before, soft: before, hard: UInt64(limit.rlim_max), error: nil)
    }
    var raised = limit
    raised.rlim_cur = target
    if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) != 0 {
        let e = String(cString: strerror(errno)).lowercased()
        return OpenFileLimit(softBefore: before, soft: before, hard: UInt64(limit.rlim_max), error: "setrlimit: \(e)")
    }
    return OpenFileLimit(softBefore: before, soft: UInt64(target), hard: UInt64(limit.rlim_max), error: nil)
}

/// `/proc/sys/fs/nr_open`: the most descriptors one process may have.
private func readNrOpen() -> UInt64? {
    let fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 32)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return nil }
    var value: UInt64 = 0
    for byte in buffer[0..<n] {
        guard byte >= 48 && byte <= 57 else { break }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(byte - 48))
        guard !o1 && !o2 else { return nil }
        value = a
    }
    return value > 0 ? value : nil
}

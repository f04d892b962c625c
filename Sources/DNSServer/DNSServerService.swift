import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import DNSWire

#if canImport(Glibc)
import Glibc
#endif

extension ChannelOptions.Types.SocketOption {
    static let reusePort = ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: SO_REUSEPORT))
    static let ipv6Only = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)
}

/// Where and how the DNS listeners run. Defaults follow Knot DNS where it has one.
public struct DNSServerConfiguration: Sendable {
    /// Each address is served over UDP and TCP.
    public var listen: [SocketAddress]
    /// How long a TCP connection may go without a complete query before it is closed (Knot: 10 s).
    public var tcpIdleTimeout: TimeAmount
    /// Open TCP connections at most. When they are all open, a new connection closes the least
    /// recently active one (RFC 7766 §6.2.2) rather than being refused, so clients holding many
    /// idle connections cannot lock the others out.
    public var tcpMaxConnections: Int
    /// Open TCP connections at most per client: an IPv4 address, or an IPv6 /64. Further ones
    /// from that client are closed on accept (they do not evict anyone).
    public var tcpMaxConnectionsPerClient: Int
    /// How long a graceful shutdown waits for TCP connections to finish.
    public var drainTimeout: TimeAmount
    /// Socket receive buffer for each UDP socket, in bytes (nil: the system default).
    public var udpReceiveBuffer: Int?

    public init(listen: [SocketAddress], tcpIdleTimeout: TimeAmount = .seconds(10), tcpMaxConnections: Int = 1024,
                drainTimeout: TimeAmount = .seconds(5), udpReceiveBuffer: Int? = nil, tcpMaxConnectionsPerClient: Int = 16) {
        self.listen = listen
        self.tcpIdleTimeout = tcpIdleTimeout
        self.tcpMaxConnections = tcpMaxConnections
        self.tcpMaxConnectionsPerClient = tcpMaxConnectionsPerClient
        self.drainTimeout = drainTimeout
        self.udpReceiveBuffer = udpReceiveBuffer
    }
}

/// The UDP and TCP listeners as one `Service`.
///
/// Every event loop of the group gets its own `QueryResponder` and its own UDP socket per address
/// (SO_REUSEPORT lets the kernel spread packets across them); TCP connections use the responder of
/// the loop they land on. Graceful shutdown closes the listeners, lets open TCP connections finish
/// the queries they have sent, and waits up to `drainTimeout` for them.
public final class DNSServerService: Service, Sendable {
    private let configuration: DNSServerConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let holder: ServingStateHolder
    private let responderConfiguration: ResponderConfiguration
    private let state = NIOLockedValueBox(ListenerState())
    private let openConnections = ManagedAtomic(0)
    private let rejectedConnections = ManagedAtomic(0)
    private let evictedConnections = ManagedAtomic(0)

    struct ListenerState {
        var udp: [Channel] = []
        var tcp: [Channel] = []
        var connections: [ObjectIdentifier: Channel] = [:]
        var bound: [SocketAddress] = []
        /// One responder per event loop, made on that loop and used only there.
        var responders: [ObjectIdentifier: NIOLoopBound<QueryResponder>] = [:]
        /// Each loop's TCP connections, least recently active first (used on that loop only), and
        /// when its oldest one was last active (read by the acceptor to pick whom to evict).
        var tables: [ObjectIdentifier: NIOLoopBound<TCPConnectionTable>] = [:]
        var activity: [(loop: any EventLoop, oldest: TCPLoopActivity)] = []
        /// Open (admitted) TCP connections per client (`TCPClientKey`); changed on accept and close.
        var perClient: [TCPClientKey: Int] = [:]
        var started = false
        var stopped = false
    }

    public init(configuration: DNSServerConfiguration, responder: ResponderConfiguration,
                holder: ServingStateHolder, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.holder = holder
        self.responderConfiguration = responder
    }

    /// The addresses actually bound (ports resolved when 0 was asked for).
    public var boundAddresses: [SocketAddress] { state.withLockedValue { $0.bound } }

    public var currentTCPConnections: Int { openConnections.load(ordering: .relaxed) }
    /// TCP connections closed on accept (a client over its cap, or the server stopping).
    public var rejectedTCPConnections: Int { rejectedConnections.load(ordering: .relaxed) }
    /// TCP connections closed to make room for a new one (the least recently active).
    public var evictedTCPConnections: Int { evictedConnections.load(ordering: .relaxed) }

    /// Binds every listener. Fails (and closes what it bound) if any address cannot be bound.
    public func start() async throws {
        if state.withLockedValue({ $0.started }) { return }
        state.withLockedValue { $0.started = true }
        for loop in group.makeIterator() {
            let holder = self.holder, config = responderConfiguration
            let queryLogger = config.queryLogSampleRate > 0 ? logger : nil
            let bound = try await loop.submit {
                NIOLoopBound(QueryResponder(holder: holder, configuration: config, queryLogger: queryLogger), eventLoop: loop)
            }.get()
            let table = try await loop.submit { NIOLoopBound(TCPConnectionTable(), eventLoop: loop) }.get()
            let oldest = try await loop.submit { table.value.activity }.get()
            state.withLockedValue {
                $0.responders[ObjectIdentifier(loop)] = bound
                $0.tables[ObjectIdentifier(loop)] = table
                $0.activity.append((loop, oldest))
            }
        }
        do {
            for address in configuration.listen {
                let port = try await bindUDPAndTCP(address)
                var shown = address
                shown.port = port
                state.withLockedValue { $0.bound.append(shown) }
                let ip = shown.ipAddress ?? "?"
                let text = shown.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
                logger.info("dns listening", metadata: ["address": "\(text)", "protocols": "udp,tcp"])
            }
        } catch {
            await stop()
            throw error
        }
    }

    /// Binds UDP, then TCP on the same port. Port 0 asks for a port free for both: the kernel picks
    /// one for UDP, and when that number is taken for TCP the UDP sockets are closed and another is
    /// tried (a few times, then the error stands). Returns the port.
    private func bindUDPAndTCP(_ address: SocketAddress) async throws -> Int {
        let attempts = (address.port ?? 0) == 0 ? 8 : 1
        for attempt in 1...attempts {
            let udpBefore = state.withLockedValue { $0.udp.count }
            let port = try await bindUDP(address)
            var tcpAddress = address
            tcpAddress.port = port
            do {
                try await bindTCP(tcpAddress)
                return port
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempt < attempts {
                let mine = state.withLockedValue { s -> [any Channel] in
                    let bound = Array(s.udp[udpBefore...])
                    s.udp.removeSubrange(udpBefore...)
                    return bound
                }
                for channel in mine { try? await channel.close() }
                logger.debug("port taken for TCP, trying another", metadata: ["port": "\(port)"])
            }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    /// One socket per event loop, all on the same port.
    private func bindUDP(_ address: SocketAddress) async throws -> Int {
        var port = address.port ?? 0
        for loop in group.makeIterator() {
            var bootstrap = DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(ChannelOptions.Types.SocketOption.reusePort, value: 1)
                .channelOption(.maxMessagesPerRead, value: 32)
                .channelOption(.datagramVectorReadMessageCount, value: 32)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65535 * 1))
            if let size = configuration.udpReceiveBuffer {
                bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(size))
            }
            if address.protocol == .inet6 {
                bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption.ipv6Only, value: 1)
            }
            let responder = state.withLockedValue { $0.responders[ObjectIdentifier(loop)]! }
            bootstrap = bootstrap.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(responder: responder.value))
                }
            }
            var bindAddress = address
            bindAddress.port = port
            let channel: any Channel
            do {
                channel = try await bootstrap.bind(to: bindAddress).get()
            } catch {
                throw ListenError(protocolName: "UDP", address: bindAddress, underlying: error)
            }
            state.withLockedValue { $0.udp.append(channel) }
            if port == 0 { port = channel.localAddress?.port ?? 0 }
        }
        return port
    }

    private func bindTCP(_ address: SocketAddress) async throws {
        let idle = configuration.tcpIdleTimeout
        let max = configuration.tcpMaxConnections
        let responders = state.withLockedValue { $0.responders }
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
        if address.protocol == .inet6 {
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption.ipv6Only, value: 1)
        }
        let perClientMax = configuration.tcpMaxConnectionsPerClient
        let (tables, activity) = state.withLockedValue { ($0.tables, $0.activity) }
        bootstrap = bootstrap.childChannelInitializer { [self] channel in
            let open = openConnections.wrappingIncrementThenLoad(ordering: .relaxed)
            let acceptedAt = NIODeadline.now().uptimeNanoseconds
            let id = ObjectIdentifier(channel)
            let client = TCPClientKey(channel.remoteAddress.map { IPAddress($0) } ?? .v4(IPv4Address(value: 0)))
            // Accept and close take the listener lock; queries never do.
            let admitted = state.withLockedValue { s -> Bool in
                guard !s.stopped, s.perClient[client, default: 0] < perClientMax else { return false }
                s.perClient[client, default: 0] += 1
                s.connections[id] = channel
                return true
            }
            channel.closeFuture.whenComplete { [self] _ in
                openConnections.wrappingDecrement(ordering: .relaxed)
                state.withLockedValue { s in
                    _ = s.connections.removeValue(forKey: id)
                    guard admitted else { return }
                    let left = s.perClient[client, default: 1] - 1
                    s.perClient[client] = left > 0 ? left : nil
                }
            }
            guard admitted else {
                rejectedConnections.wrappingIncrement(ordering: .relaxed)
                return channel.close()
            }
            if open > max {
                // Full: the least recently active connection (on whichever loop holds it) makes room.
                var victim: (loop: any EventLoop, oldest: TCPLoopActivity)?
                var oldest = UInt64.max
                for a in activity {
                    let t = a.oldest.oldest.load(ordering: .relaxed)
                    if t < oldest { oldest = t; victim = a }
                }
                if let victim, let table = tables[ObjectIdentifier(victim.loop)] {
                    victim.loop.execute { table.value.evictOldest(before: acceptedAt) }
                }
            }
            let responder = responders[ObjectIdentifier(channel.eventLoop)]!
            let table = tables[ObjectIdentifier(channel.eventLoop)]!
            let evicted = evictedConnections
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(TCPQueryHandler(
                    responder: responder.value, idleTimeout: idle, table: table.value,
                    onEvict: { evicted.wrappingIncrement(ordering: .relaxed) }))
            }
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(to: address).get()
        } catch {
            throw ListenError(protocolName: "TCP", address: address, underlying: error)
        }
        state.withLockedValue { $0.tcp.append(channel) }
    }

    public func run() async throws {
        try await start()
        // Serve until graceful shutdown (SIGTERM) or cancellation.
        try? await gracefulShutdown()
        await stop()
    }

    /// Stops accepting, lets TCP connections finish, closes everything. Idempotent.
    public func stop() async {
        let (udp, tcp, connections) = state.withLockedValue { s -> ([Channel], [Channel], [Channel]) in
            let r = (s.udp, s.tcp, Array(s.connections.values))
            s.udp = []
            s.tcp = []
            s.stopped = true
            return r
        }
        if udp.isEmpty && tcp.isEmpty && connections.isEmpty { return }
        for c in tcp { try? await c.close() }
        for c in connections { c.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        let deadline = NIODeadline.now() + configuration.drainTimeout
        while openConnections.load(ordering: .relaxed) > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let left = state.withLockedValue { Array($0.connections.values) }
        for c in left { try? await c.close() }
        for c in udp { try? await c.close() }
        logger.info("dns listeners stopped", metadata: ["drained_tcp": "\(connections.count)", "forced_tcp": "\(left.count)"])
    }

    /// Sums each loop's counters (read on the loops themselves).
    public func stats() async -> ResponderStats {
        var total = ResponderStats()
        for (_, bound) in state.withLockedValue({ $0.responders }) {
            let s = try? await bound.eventLoop.submit { bound.value.stats }.get()
            guard let s else { continue }
            total += s
        }
        return total
    }
}

/// A listener that could not be opened, naming what and where (issue 14: NIO's own message,
/// `bind(descriptor:ptr:bytes:): Address already in use (errno: 98)`, says neither).
public struct ListenError: Error, CustomStringConvertible {
    public let protocolName: String
    public let address: SocketAddress
    public let underlying: any Error

    public init(protocolName: String, address: SocketAddress, underlying: any Error) {
        self.protocolName = protocolName
        self.address = address
        self.underlying = underlying
    }

    public var description: String {
        let host = address.ipAddress.map { address.protocol == .inet6 ? "[\($0)]" : $0 } ?? "\(address)"
        let place = "\(host):\(address.port ?? 0)"
        guard let io = underlying as? IOError else { return "cannot listen on \(protocolName) \(place): \(underlying)" }
        let reason = String(cString: strerror(io.errnoCode))
        let hint = switch io.errnoCode {
        case EADDRINUSE: "; another process holds it (ss -lntup shows which)"
        case EACCES: "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
        case EADDRNOTAVAIL: "; no interface of this host has that address"
        default: ""
        }
        return "cannot listen on \(protocolName) \(place): \(reason) (errno \(io.errnoCode))\(hint)"
    }
}

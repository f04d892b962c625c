import DNSServer
import DNSWire
import DNSZone
import Glibc
import Logging
import NIOCore
import NIOPosix
import Testing

/// `DNSServerService` on real loopback sockets: the connection limit, snapshot swaps and the drain
/// on stop. Blocking POSIX sockets with receive timeouts keep the client side obvious.
@Suite(.serialized) struct ServiceTests {
    func withService(maxConnections: Int = 1024, perClient: Int = 16, idle: TimeAmount = .seconds(10),
                     _ body: (DNSServerService, Int32, ServingStateHolder) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: [try ServerZone.zone()]), generation: 1))
        let service = DNSServerService(
            configuration: DNSServerConfiguration(listen: [try SocketAddress(ipAddress: "127.0.0.1", port: 0)],
                                                  tcpIdleTimeout: idle, tcpMaxConnections: maxConnections,
                                                  drainTimeout: .seconds(2), tcpMaxConnectionsPerClient: perClient),
            responder: ResponderConfiguration(identity: "svc"), holder: holder, group: group,
            logger: Logger(label: "test"))
        try await service.start()
        let port = Int32(service.boundAddresses[0].port!)
        do {
            try await body(service, port, holder)
        } catch {
            await service.stop()
            try await group.shutdownGracefully()
            throw error
        }
        await service.stop()
        try await group.shutdownGracefully()
    }

    /// RFC 7766 §6.2.2: a full server closes its least recently active connection to take a new
    /// one, so clients holding idle-ish connections (the issue: 200 sockets sending a query every
    /// 4 s) cannot lock everyone else out. Several clients (127.0.0.x sources) over two event loops:
    /// the oldest is found across loops.
    @Test func aFullServerEvictsTheLeastRecentlyActiveConnection() async throws {
        try await withService(maxConnections: 3) { service, port, _ in
            // Every fd is closed exactly once: tests share the process, and a second close() could
            // close a descriptor the kernel has meanwhile handed to another test's NIO socket.
            let a = try tcpConnect(port, from: "127.0.0.2"), b = try tcpConnect(port, from: "127.0.0.3")
            let c = try tcpConnect(port, from: "127.0.0.4")
            defer { close(a); close(b); close(c) }
            for fd in [a, b, c] { #expect(try tcpQuery(fd, "www.example.com.").rcode == .noError) }
            // b and c stay active; a is now the least recently active.
            for fd in [b, c, b] { #expect(try tcpQuery(fd, "www.example.com.").rcode == .noError) }
            #expect(service.currentTCPConnections == 3)

            // A new client is served although every slot is taken...
            let d = try tcpConnect(port, from: "127.0.0.5")
            defer { close(d) }
            #expect(try tcpQuery(d, "www.example.com.").answers.count == 2)
            // ...and a, the least recently active, was closed for it (EOF), the others were not.
            var byte: UInt8 = 0
            #expect(recv(a, &byte, 1, 0) == 0, "the least recently active connection was closed")
            for fd in [b, c, d] { #expect(try tcpQuery(fd, "www.example.com.").rcode == .noError) }
            #expect(service.evictedTCPConnections == 1)
            try await waitUntil { service.currentTCPConnections == 3 }

            // Activity order is kept as queries arrive: now b is the oldest (c, d, then c again).
            for fd in [c, d] { #expect(try tcpQuery(fd, "www.example.com.").rcode == .noError) }
            let e = try tcpConnect(port, from: "127.0.0.6")
            defer { close(e) }
            #expect(try tcpQuery(e, "www.example.com.").rcode == .noError)
            #expect(recv(b, &byte, 1, 0) == 0, "b went next")
            for fd in [c, d, e] { #expect(try tcpQuery(fd, "www.example.com.").rcode == .noError) }
            #expect(service.evictedTCPConnections == 2)
        }
    }

    /// `tcpMaxConnectionsPerClient`: a client at its cap cannot open more (closed on accept, nobody
    /// evicted), other clients are not affected, and a freed slot can be used again.
    @Test func aClientAtItsCapCannotOpenMore() async throws {
        try await withService(maxConnections: 100, perClient: 2) { service, port, _ in
            let a1 = try tcpConnect(port, from: "127.0.0.2"), a2 = try tcpConnect(port, from: "127.0.0.2")
            defer { close(a2) }
            #expect(try tcpQuery(a1, "www.example.com.").rcode == .noError)
            #expect(try tcpQuery(a2, "www.example.com.").rcode == .noError)
            let a3 = try tcpConnect(port, from: "127.0.0.2")
            // Accepted by the kernel, closed by the server: EOF, no answer.
            #expect(throws: TestFailure.self) { try tcpQuery(a3, "www.example.com.") }
            close(a3)
            #expect(service.rejectedTCPConnections >= 1)
            #expect(service.evictedTCPConnections == 0)
            // Another client still gets in, and the first two still answer.
            let b = try tcpConnect(port, from: "127.0.0.3")
            defer { close(b) }
            #expect(try tcpQuery(b, "www.example.com.").rcode == .noError)
            for fd in [a1, a2] { #expect(try tcpQuery(fd, "www.example.com.").rcode == .noError) }
            // Closing one of its connections frees a slot for that client.
            close(a1)  // its only close
            let deadline = ContinuousClock.now + .seconds(5)
            var served = false
            while !served && ContinuousClock.now < deadline {
                let again = try tcpConnect(port, from: "127.0.0.2")
                served = (try? tcpQuery(again, "www.example.com.")) != nil
                close(again)
                if !served { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(served, "a freed slot is usable again")
        }
    }

    @Test func aSwappedSnapshotIsServedByTheNextQuery() async throws {
        try await withService { _, port, holder in
            #expect(try udpQuery(port, "new.example.com.").rcode == .nxDomain)
            var b = ZoneBuilder(origin: ServerZone.origin)
            try b.add(contentsOf: ServerZone.records())
            try b.add(ResourceRecord(owner: "new.example.com.", ttl: 60, .a(IPv4Address(192, 0, 2, 7))))
            holder.store(ServingState(zones: ZoneSet(zones: [try b.build()]), generation: 2))
            // Every loop answers from the new snapshot (two loops: ask several times).
            for _ in 0..<8 {
                let reply = try udpQuery(port, "new.example.com.")
                #expect(reply.answers.map(\.data) == [.a(IPv4Address(192, 0, 2, 7))])
            }
        }
    }

    @Test func stopDrainsOpenConnectionsAndClosesListeners() async throws {
        try await withService { service, port, _ in
            let a = try tcpConnect(port)
            defer { close(a) }
            #expect(try tcpQuery(a, "www.example.com.").rcode == .noError)
            await service.stop()
            #expect(service.currentTCPConnections == 0)
            // The open connection was closed by the server: a read sees EOF.
            var byte: UInt8 = 0
            #expect(recv(a, &byte, 1, 0) == 0)
            #expect(throws: TestFailure.self) { try tcpConnect(port) }
        }
    }
}

// MARK: - Blocking loopback clients

/// A blocking TCP connection to 127.0.0.1:`port` from `from` (any 127/8 address: a distinct
/// client for the per-client cap).
func tcpConnect(_ port: Int32, from: String = "127.0.0.1") throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    if from != "127.0.0.1" {
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(from)
        let rc = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw TestFailure("bind to \(from) failed: errno \(errno)")
        }
    }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        throw TestFailure("connect failed: errno \(errno)")
    }
    return fd
}

@discardableResult
func tcpQuery(_ fd: Int32, _ name: DNSName) throws -> DNSMessage {
    let q = DNSMessage.query(name, .a).encode()
    var framed: [UInt8] = [UInt8(q.count >> 8), UInt8(q.count & 0xFF)] + q
    guard send(fd, &framed, framed.count, Int32(MSG_NOSIGNAL)) == framed.count else { throw TestFailure("send failed") }
    func read(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            guard r > 0 else { throw TestFailure("connection closed or timed out (\(r))") }
            got += r
        }
        return out
    }
    let len = try read(2)
    return try DNSMessage(decoding: try read(Int(len[0]) << 8 | Int(len[1])))
}

func udpQuery(_ port: Int32, _ name: DNSName) throws -> DNSMessage {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var q = DNSMessage.query(name, .a).encode()
    let sent = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(fd, &q, q.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard sent == q.count else { throw TestFailure("sendto failed") }
    var buf = [UInt8](repeating: 0, count: 65535)
    let n = recv(fd, &buf, buf.count, 0)
    guard n > 0 else { throw TestFailure("no UDP reply") }
    return try DNSMessage(decoding: Array(buf[0..<n]))
}

func waitUntil(_ condition: () -> Bool) async throws {
    for _ in 0..<200 {
        if condition() { return }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
    throw TestFailure("condition not reached in 2 s")
}

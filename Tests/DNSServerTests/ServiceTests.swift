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
    func withService(maxConnections: Int = 1024, idle: TimeAmount = .seconds(10),
                     _ body: (DNSServerService, Int32, ServingStateHolder) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let holder = ServingStateHolder(ServingState(zones: ZoneSet(zones: [try ServerZone.zone()]), generation: 1))
        let service = DNSServerService(
            configuration: DNSServerConfiguration(listen: [try SocketAddress(ipAddress: "127.0.0.1", port: 0)],
                                                  tcpIdleTimeout: idle, tcpMaxConnections: maxConnections,
                                                  drainTimeout: .seconds(2)),
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

    @Test func connectionLimitClosesTheConnectionsBeyondIt() async throws {
        try await withService(maxConnections: 2) { service, port, _ in
            // Every fd is closed exactly once: tests share the process, and a second close() could
            // close a descriptor the kernel has meanwhile handed to another test's NIO socket.
            let a = try tcpConnect(port), b = try tcpConnect(port)
            defer { close(b) }
            #expect(try tcpQuery(a, "www.example.com.").rcode == .noError)
            #expect(try tcpQuery(b, "www.example.com.").rcode == .noError)
            let c = try tcpConnect(port)
            // The third is accepted by the kernel and closed by the server: EOF, no answer.
            #expect(throws: TestFailure.self) { try tcpQuery(c, "www.example.com.") }
            close(c)
            // Closing one frees its slot.
            close(a)  // its only close
            try await waitUntil { service.currentTCPConnections < 2 }
            let d = try tcpConnect(port)
            defer { close(d) }
            #expect(try tcpQuery(d, "www.example.com.").answers.count == 2)
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

func tcpConnect(_ port: Int32) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
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

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 in front of one etcd member that, once `swallowTxnAnswers` is set,
/// passes a `POST /v3/kv/txn` request on to etcd (which commits it) but never passes the answer
/// back: the connection is held open and then closed. That is a member dying, or a network
/// partition, between commit and answer - what makes a client send the same Txn to another member.
///
/// Plain blocking sockets on threads of its own (two per connection), so it takes nothing from
/// the tests' cooperative pool. Only loopback.
final class AnswerSwallowingProxy: @unchecked Sendable {
    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var armed = false
    private var swallowedCount = 0
    private var stopped = false
    private var descriptors: Set<Int32> = []

    var swallowTxnAnswers: Bool {
        get { lock.withLock { armed } }
        set { lock.withLock { armed = newValue } }
    }
    var swallowed: Int { lock.withLock { swallowedCount } }

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        guard listener >= 0 else { throw ProxyError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw ProxyError("bind/listen: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Closes the listener and every connection; the threads end on their own.
    func stop() {
        let open = lock.withLock { () -> Set<Int32> in
            stopped = true
            return descriptors
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let registered = lock.withLock { () -> Bool in
                guard !stopped else { return false }
                descriptors.formUnion([client, upstream])
                return true
            }
            guard connected == 0, registered else {
                close(client)
                close(upstream)
                continue
            }
            // Set by the request pump when it passed on a Txn while armed; the answer pump then
            // drops what etcd sends back.
            let gate = Flag()
            lock.withLock { gates[upstream] = gate }
            // Each pump shuts both sockets down when it ends; the second to end closes them.
            let ends = Counter()
            @Sendable func ended() {
                guard ends.increment() == 2 else { return }
                lock.withLock { descriptors.subtract([client, upstream]); gates[upstream] = nil }
                close(client)
                close(upstream)
            }
            Thread.detachNewThread { [self] in
                pump(from: client, to: upstream) { chunk in
                    if swallowTxnAnswers, String(decoding: chunk, as: UTF8.self).contains("POST /v3/kv/txn") {
                        gate.set()
                    }
                }
                ended()
            }
            Thread.detachNewThread { [self] in
                pump(from: upstream, to: client) { _ in }
                ended()
            }
        }
    }

    private var gates: [Int32: Flag] = [:]

    /// Copies `from` → `to` until either side closes; `sawChunk` sees each chunk first. A chunk
    /// read from an upstream whose gate is set is dropped and the connection closed after a while.
    private func pump(from source: Int32, to destination: Int32, sawChunk: ([UInt8]) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        defer {
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(destination, Int32(SHUT_RDWR))
        }
        while true {
            let n = read(source, &buffer, buffer.count)
            guard n > 0 else { return }
            let chunk = Array(buffer[0..<n])
            sawChunk(chunk)
            if let gate = lock.withLock({ gates[source] }), gate.isSet {
                lock.withLock { swallowedCount += 1 }
                usleep(3_000_000)  // held past the client's request timeout, then dropped
                return
            }
            var written = 0
            while written < n {
                let w = chunk[written...].withUnsafeBytes { write(destination, $0.baseAddress, n - written) }
                guard w > 0 else { return }
                written += w
            }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() -> Int { lock.withLock { value += 1; return value } }
    }

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    struct ProxyError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}

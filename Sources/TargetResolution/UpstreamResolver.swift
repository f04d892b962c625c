import DNSWire
import NIOCore

/// One name → its A and AAAA addresses, asked of the upstream servers.
///
/// Each query has RD=1, EDNS0 with a 1232-byte payload, a random 16-bit ID and its own UDP socket
/// (so a kernel-chosen, random source port). A reply is taken only if it echoes the ID, has QR set
/// and repeats the question; with TC=1 the same server is asked again over TCP.
///
/// Servers are tried in order, `attempts` rounds over all of them. NOERROR and NXDOMAIN end the
/// search; SERVFAIL, REFUSED and any other RCODE, a timeout, an unreachable server or a malformed
/// reply move on to the next server. When every try fails, the error has the code of the last one
/// and a message with each server's last failure, in server order.
///
/// CNAMEs in the answer section are followed (at most `maxCNAMEs`, loops refused). When a chain
/// stops at a name the reply says nothing more about (no records, no SOA covering it) — an
/// authoritative server pointing outside its zones — that name is asked for in turn.
///
/// A and AAAA are asked in parallel. NODATA for one family is fine if the other has addresses;
/// both empty → `.noData`. NXDOMAIN for either → `.nxDomain`. Any other failure of either family
/// fails the name (prefixed with the family when the other succeeded): a half-known address set
/// is not passed off as the whole.
public final class UpstreamResolver: Sendable {
    /// The longest CNAME chain followed.
    public static let maxCNAMEs = 8

    public let configuration: UpstreamConfiguration
    let group: any EventLoopGroup

    public init(configuration: UpstreamConfiguration, group: any EventLoopGroup) {
        self.configuration = configuration
        self.group = group
    }

    public func resolve(_ name: DNSName) async -> Result<ResolvedAddresses, ResolutionError> {
        async let v4 = lookup(name, .a)
        async let v6 = lookup(name, .aaaa)
        return Self.combine(await v4, await v6)
    }

    /// One family's answer: its addresses (empty for NODATA), the smallest TTL seen on the way
    /// (nil when there were neither CNAMEs nor records), and the server that gave it.
    struct FamilyAnswer {
        var addresses: [IPAddress]
        var ttl: UInt32?
        var server: SocketAddress
    }

    static func combine(_ v4: Result<FamilyAnswer, ResolutionError>, _ v6: Result<FamilyAnswer, ResolutionError>)
        -> Result<ResolvedAddresses, ResolutionError> {
        switch (v4, v6) {
        case (.success(let a), .success(let b)):
            if a.addresses.isEmpty && b.addresses.isEmpty {
                let from = a.server == b.server
                    ? a.server.hostAndPort : "\(a.server.hostAndPort) (A), \(b.server.hostAndPort) (AAAA)"
                return .failure(ResolutionError(.noData, message: "NODATA from \(from): no A or AAAA records"))
            }
            // Each family's TTL already covers its CNAMEs and its address RRset.
            let ttl = [a.ttl, b.ttl].compactMap { $0 }.min() ?? 0
            return .success(ResolvedAddresses(addresses: a.addresses + b.addresses, ttl: ttl))
        case (.failure(let e), .failure(let f)):
            return .failure(f.code == .nxDomain && e.code != .nxDomain ? f : e)
        case (.failure(let e), .success):
            return .failure(e.code == .nxDomain || e.code == .cancelled ? e : ResolutionError(e.code, message: "A: \(e.message)"))
        case (.success, .failure(let f)):
            return .failure(f.code == .nxDomain || f.code == .cancelled ? f : ResolutionError(f.code, message: "AAAA: \(f.message)"))
        }
    }

    /// Resolves one family, following CNAMEs (re-asking for a chain's end when a reply stops short).
    func lookup(_ name: DNSName, _ type: RRType) async -> Result<FamilyAnswer, ResolutionError> {
        var chain = CNAMEChain(start: name)
        var current = name
        while true {
            let reply: DNSMessage, server: SocketAddress
            switch await ask(current, type) {
            case .success(let answer): (reply, server) = answer
            case .failure(let error): return .failure(error)
            }
            let end: DNSName
            do {
                end = try chain.follow(from: current, in: reply.answers)
            } catch {
                let from = server.hostAndPort
                switch error {
                case .tooLong:
                    return .failure(ResolutionError(.tooManyCNAMEs, message:
                        "more than \(Self.maxCNAMEs) CNAMEs from \(name) (\(from))"))
                case .loop(let at):
                    return .failure(ResolutionError(.tooManyCNAMEs, message: "CNAME loop at \(at) (\(from))"))
                case .badTarget(let owner):
                    return .failure(ResolutionError(.malformedReply, message:
                        "malformed reply from \(from): bad CNAME target at \(owner)"))
                }
            }
            if reply.rcode == .nxDomain {
                let which = end == name ? "" : " for \(end) (CNAME target of \(name))"
                return .failure(ResolutionError(.nxDomain, message: "NXDOMAIN\(which) from \(server.hostAndPort)"))
            }
            var addresses: [IPAddress] = []
            var ttl = chain.minTTL
            for rr in reply.answers where rr.owner == end && rr.type == type && rr.rrClass == .in {
                switch (type, rr.rdata.count) {
                case (.a, 4):
                    addresses.append(.v4(IPv4Address(rr.rdata[0], rr.rdata[1], rr.rdata[2], rr.rdata[3])))
                case (.aaaa, 16):
                    addresses.append(.v6(IPv6Address(bytes: rr.rdata)))
                default:
                    return .failure(ResolutionError(.malformedReply, message:
                        "malformed reply from \(server.hostAndPort): \(type) RDATA of \(rr.rdata.count) bytes"))
                }
                ttl = min(ttl ?? rr.ttl, rr.ttl)
            }
            let negative = reply.authority.contains { $0.type == .soa && end.isSubdomain(of: $0.owner) }
            if !addresses.isEmpty || end == current || negative {
                return .success(FamilyAnswer(addresses: addresses, ttl: ttl, server: server))
            }
            current = end
        }
    }

    /// Asks `name`/`type` of the servers in order, `attempts` rounds, until one answers NOERROR or
    /// NXDOMAIN.
    func ask(_ name: DNSName, _ type: RRType) async -> Result<(DNSMessage, SocketAddress), ResolutionError> {
        let servers = configuration.servers
        guard !servers.isEmpty else {
            return .failure(ResolutionError(.noServers, message: "no upstream servers configured"))
        }
        var lastPerServer = [ResolutionError?](repeating: nil, count: servers.count)
        var last = ResolutionError(.noServers, message: "")
        for _ in 0..<max(1, configuration.attempts) {
            for (index, server) in servers.enumerated() {
                let failure: ResolutionError
                switch await query(name, type, server: server) {
                case .success(let reply) where reply.rcode == .noError || reply.rcode == .nxDomain:
                    return .success((reply, server))
                case .success(let reply):
                    failure = ResolutionError(.serverFailure(reply.rcode), message: "\(reply.rcode) from \(server.hostAndPort)")
                case .failure(let error):
                    failure = error
                }
                if failure.code == .cancelled { return .failure(failure) }
                lastPerServer[index] = failure
                last = failure
            }
        }
        let message = lastPerServer.compactMap { $0?.message }.joined(separator: "; ")
        return .failure(ResolutionError(last.code, message: message))
    }

    /// One query to one server: UDP, then TCP if the UDP reply was truncated.
    func query(_ name: DNSName, _ type: RRType, server: SocketAddress) async -> Result<DNSMessage, ResolutionError> {
        let udp = await exchange(name, type, server: server, overTCP: false)
        if case .success(let reply) = udp, reply.header.tc {
            return await exchange(name, type, server: server, overTCP: true)
        }
        return udp
    }

    private func exchange(_ name: DNSName, _ type: RRType, server: SocketAddress, overTCP: Bool) async
        -> Result<DNSMessage, ResolutionError> {
        let id = UInt16.random(in: .min ... .max)
        let question = DNSQuestion(name: name, type: type)
        let query = DNSMessage.query(name, type, id: id, edns: EDNS(udpPayloadSize: 1232), recursionDesired: true)
        let result = await exchange(query.encode(), id: id, question: question, server: server, overTCP: overTCP)
        let over = overTCP ? " over TCP" : ""
        return result.mapError { failure in
            switch failure {
            case .timeout:
                ResolutionError(.timeout, message:
                    "timeout: no reply\(over) from \(server.hostAndPort) within \(configuration.timeout.shortDescription)")
            case .malformed(let reason):
                ResolutionError(.malformedReply, message: "malformed reply\(over) from \(server.hostAndPort): \(reason)")
            case .unreachable(let reason):
                ResolutionError(.unreachable, message: "cannot reach \(server.hostAndPort)\(over): \(reason)")
            case .closed where Task.isCancelled:
                ResolutionError(.cancelled, message: "cancelled")
            case .closed:
                ResolutionError(.malformedReply, message: "\(server.hostAndPort) closed the connection without replying")
            }
        }
    }
}

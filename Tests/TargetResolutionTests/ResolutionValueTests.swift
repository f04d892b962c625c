import DNSWire
import NIOCore
import Testing
@testable import TargetResolution

/// The value types and the reply check, without sockets.
@Suite struct ResolutionValueTests {
    @Test func resolvedAddressesAreNormalized() {
        let a = ResolvedAddresses(addresses: [IPAddress("2001:db8::2")!, IPAddress("10.0.0.2")!,
                                              IPAddress("2001:db8::1")!, IPAddress("10.0.0.1")!,
                                              IPAddress("10.0.0.2")!], ttl: 5)
        #expect(a.addresses.map(\.description) == ["10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"])
        #expect(a.ipv4.map(\.description) == ["10.0.0.1", "10.0.0.2"])
        #expect(a.ipv6.map(\.description) == ["2001:db8::1", "2001:db8::2"])
        let b = ResolvedAddresses(addresses: a.addresses.reversed(), ttl: 5)
        #expect(a == b)
    }

    @Test func errorsCompareOnTheirCode() {
        let one = ResolutionError(.nxDomain, message: "NXDOMAIN from 127.0.0.1:1")
        let two = ResolutionError(.nxDomain, message: "NXDOMAIN from 127.0.0.1:2")
        #expect(one == two)
        #expect(ResolutionError.Code.serverFailure(.servFail) != .serverFailure(.refused))
        #expect(ResolutionError.Code.serverFailure(.servFail).description == "serverFailure(SERVFAIL)")
        #expect(ResolutionError.Code.timeout.rcode == nil)
        #expect(one.description == "NXDOMAIN from 127.0.0.1:1")
    }

    @Test func refreshIsTheTTLClamped() {
        let config = UpstreamConfiguration(servers: [], minRefresh: .seconds(5), maxRefresh: .seconds(300))
        #expect(config.refreshInterval(ttl: 0) == .seconds(5))
        #expect(config.refreshInterval(ttl: 60) == .seconds(60))
        #expect(config.refreshInterval(ttl: 86400) == .seconds(300))
    }

    @Test func replyCheck() {
        let question = DNSQuestion(name: "www.up.test.", type: .a)
        var reply = DNSMessage.query("WWW.UP.TEST.", .a, id: 7)
        reply.header.qr = true
        let bytes = reply.encode()
        guard case .accepted = ReplyVerdict.judge(bytes, id: 7, question: question) else {
            Issue.record("a matching reply (question in another case) is accepted")
            return
        }
        guard case .ignored = ReplyVerdict.judge(bytes, id: 8, question: question) else {
            Issue.record("another ID is ignored")
            return
        }
        guard case .ignored = ReplyVerdict.judge([0, 7, 0x80], id: 7, question: question) else {
            Issue.record("a runt is ignored")
            return
        }
        guard case .malformed = ReplyVerdict.judge(DNSMessage.query("www.up.test.", .a, id: 7).encode(), id: 7,
                                                   question: question) else {
            Issue.record("QR unset is malformed")
            return
        }
        guard case .malformed = ReplyVerdict.judge(bytes, id: 7, question: DNSQuestion(name: "www.up.test.", type: .aaaa)) else {
            Issue.record("another question is malformed")
            return
        }
        guard case .malformed = ReplyVerdict.judge(Array(bytes.dropLast(2)), id: 7, question: question) else {
            Issue.record("a reply that does not decode is malformed")
            return
        }
    }

    @Test func familiesCombine() {
        let server = try! SocketAddressForTests.loopback(53)
        let v4 = UpstreamResolver.FamilyAnswer(addresses: [IPAddress("192.0.2.1")!], ttl: 60, server: server)
        let none = UpstreamResolver.FamilyAnswer(addresses: [], ttl: nil, server: server)
        let cnameOnly = UpstreamResolver.FamilyAnswer(addresses: [], ttl: 20, server: server)
        #expect(try! UpstreamResolver.combine(.success(v4), .success(none)).get().ttl == 60)
        #expect(try! UpstreamResolver.combine(.success(v4), .success(cnameOnly)).get().ttl == 20)
        #expect(UpstreamResolver.combine(.success(none), .success(none)).failure?.code == .noData)
        let timeout = ResolutionError(.timeout, message: "timeout: no reply from 127.0.0.1:53 within 2 s")
        let nx = ResolutionError(.nxDomain, message: "NXDOMAIN from 127.0.0.1:53")
        #expect(UpstreamResolver.combine(.success(v4), .failure(timeout)).failure?.message
            == "AAAA: timeout: no reply from 127.0.0.1:53 within 2 s")
        #expect(UpstreamResolver.combine(.failure(timeout), .failure(nx)).failure?.code == .nxDomain)
        #expect(UpstreamResolver.combine(.failure(timeout), .success(v4)).failure?.message.hasPrefix("A: ") == true)
    }
}

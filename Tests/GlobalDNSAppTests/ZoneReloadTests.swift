import DNSServer
import DNSWire
import Foundation
import GlobalDNSApp
import Logging
import NameServiceStoreTesting
import Reconciler
import Testing

/// Issue 12: a SIGHUP while the zones directory holds no `*.zone` file (mid-deploy) applied an
/// empty zone set and every query got REFUSED. `GlobalDNSServer.reloadZones` now refuses a reload
/// that drops every zone, and (unless `zones.allowDroppingZones`) any served zone; the served set
/// stays and the log says why.
@Suite(.serialized) struct ZoneReloadTests {
    static func zone(_ origin: String, serial: Int = 1) -> String {
        """
        $ORIGIN \(origin)
        $TTL 300
        @    IN SOA ns1 hostmaster \(serial) 7200 3600 1209600 300
        @    IN NS  ns1
        ns1  IN A   192.0.2.53
        www  IN A   192.0.2.\(serial)

        """
    }

    struct Setup {
        let directory: URL
        let server: GlobalDNSServer
        let reconciler: Reconciler
        let responder: QueryResponder

        func write(_ files: [String: String]) throws {
            for (name, text) in files { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        }
        func remove(_ name: String) throws { try FileManager.default.removeItem(at: directory.appendingPathComponent(name)) }

        /// The rcode and addresses for `name` A through a responder on the server's holder.
        func ask(_ name: String) throws -> (Rcode, [String]) {
            let reply = try #require(responder.respond(to: DNSMessage.query(try DNSName(name), .a).encode()))
            let m = try DNSMessage(decoding: reply)
            return (m.rcode, m.answers.compactMap { if case .a(let a) = $0.data { a.description } else { nil } })
        }
        var served: [String] { server.holder.load().zones.zones.map(\.origin.description).sorted() }
    }

    func withServer(allowDroppingZones: Bool = false, _ body: (Setup) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zone-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.zone("a.example.").write(to: directory.appendingPathComponent("a.example.zone"), atomically: true, encoding: .utf8)
        try Self.zone("b.example.").write(to: directory.appendingPathComponent("b.example.zone"), atomically: true, encoding: .utf8)
        var configuration = GlobalDNSConfiguration()
        configuration.identity = "test"
        configuration.zones.directory = directory.path
        configuration.zones.allowDroppingZones = allowDroppingZones
        let server = try GlobalDNSServer(configuration: configuration, baseDirectory: "/", logger: Logger(label: "test"))
        let reconciler = Reconciler(store: InMemoryNameServiceStore(), holder: server.holder, zones: server.holder.load().zones,
                                    logger: Logger(label: "test"))
        let responder = QueryResponder(holder: server.holder, configuration: ResponderConfiguration(identity: "t"))
        try await body(Setup(directory: directory, server: server, reconciler: reconciler, responder: responder))
    }

    @Test func aReloadFindingNoZoneKeepsServingEverything() async throws {
        try await withServer(allowDroppingZones: true) { s in
            #expect(try s.ask("www.a.example.") == (.noError, ["192.0.2.1"]))
            try s.remove("a.example.zone")
            try s.remove("b.example.zone")
            try s.write(["README": "deploy in progress\n"])
            let error = await s.server.reloadZones(s.server.currentConfiguration.zones, reconciler: s.reconciler)
            let refusal = try #require(error as? ZoneReloadRefusal)
            #expect(refusal.noZones && refusal.dropped.map(\.description).sorted() == ["a.example.", "b.example."])
            #expect(refusal.description.contains("no zone file found"))
            // Still served, not REFUSED.
            #expect(s.served == ["a.example.", "b.example."])
            #expect(try s.ask("www.a.example.") == (.noError, ["192.0.2.1"]))
            #expect(try s.ask("www.b.example.") == (.noError, ["192.0.2.1"]))
            // When the files are back, reloads work again.
            try s.write(["a.example.zone": Self.zone("a.example.", serial: 2), "b.example.zone": Self.zone("b.example.")])
            #expect(await s.server.reloadZones(s.server.currentConfiguration.zones, reconciler: s.reconciler) == nil)
            #expect(try s.ask("www.a.example.") == (.noError, ["192.0.2.2"]))
        }
    }

    @Test func aReloadDroppingOneZoneIsRefusedByDefault() async throws {
        try await withServer { s in
            try s.remove("b.example.zone")
            try s.write(["a.example.zone": Self.zone("a.example.", serial: 3)])
            let error = await s.server.reloadZones(s.server.currentConfiguration.zones, reconciler: s.reconciler)
            let refusal = try #require(error as? ZoneReloadRefusal)
            #expect(!refusal.noZones && refusal.dropped.map(\.description) == ["b.example."])
            #expect(refusal.description.contains("zones.allowDroppingZones"))
            // Nothing of the refused reload applies: b is served, a keeps its old data.
            #expect(s.served == ["a.example.", "b.example."])
            #expect(try s.ask("www.b.example.") == (.noError, ["192.0.2.1"]))
            #expect(try s.ask("www.a.example.") == (.noError, ["192.0.2.1"]))
            // Adding a zone is always fine.
            try s.write(["b.example.zone": Self.zone("b.example."), "c.example.zone": Self.zone("c.example.")])
            #expect(await s.server.reloadZones(s.server.currentConfiguration.zones, reconciler: s.reconciler) == nil)
            #expect(s.served == ["a.example.", "b.example.", "c.example."])
            #expect(try s.ask("www.a.example.") == (.noError, ["192.0.2.3"]))
        }
    }

    @Test func allowDroppingZonesLetsAReloadDropSome() async throws {
        try await withServer(allowDroppingZones: true) { s in
            try s.remove("b.example.zone")
            #expect(await s.server.reloadZones(s.server.currentConfiguration.zones, reconciler: s.reconciler) == nil)
            #expect(s.served == ["a.example."])
            #expect(try s.ask("www.b.example.").0 == .refused)
            #expect(try s.ask("www.a.example.") == (.noError, ["192.0.2.1"]))
        }
    }
}

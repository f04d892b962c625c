import Foundation
import Testing

/// Issue 12: one corrupt row in the SQLite file made every global name NXDOMAIN while PUTs kept
/// returning 201. With the real binaries: every intact name is still answered by dig, `/readyz`
/// stays 200 and names the damaged object, the log says what is wrong, and a PUT of the damaged
/// name brings it back.
extension IntegrationSuite {
    @Suite("Store damage") struct StoreDamage {
        @Test("a corrupt row: the other names are answered, /readyz names it, a PUT repairs it")
        func corruptRowIsReportedAndTheRestServed() async throws {
            let state = try TestEnvironment.makeScratchDirectory("state")
            defer { TestEnvironment.removeScratch(state) }
            var options = try GlobalDNSOptions()
            options.stateDirectory = state
            let names = ["d0", "d1", "d2", "d3", "victim"]
            func manifest(_ name: String, _ address: String) -> String {
                IntegrationSuite.ControlPlane.manifest(name: name, fqdn: "\(name).g.example.com", addresses: [address])
            }
            try await withGlobalDNS(options) { server in
                for (i, n) in names.enumerated() {
                    #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/\(n)", yaml: manifest(n, "192.0.2.\(i + 1)")) == 201)
                }
                try await IntegrationSuite.ControlPlane().eventuallyAnswers(server, "victim.g.example.com", "A", ["192.0.2.5"])
            }
            // Damage the victim's row with the sqlite3 shell (the server is stopped).
            let db = state.appendingPathComponent("nameservices.db").path
            let damage = try await runCommand("/usr/bin/sqlite3", [db, "UPDATE objects SET json = '{not json' WHERE name = 'victim';"],
                                              scratch: state)
            try #require(damage.exitCode == 0, "\(damage.stderr)")

            try await withGlobalDNS(options) { server in
                let plane = IntegrationSuite.ControlPlane()
                for (i, n) in names.dropLast().enumerated() {
                    try await plane.eventuallyAnswers(server, "\(n).g.example.com", "A", ["192.0.2.\(i + 1)"], within: .seconds(10))
                }
                let ready = try httpCall(port: server.apiPort, method: "GET", path: "/readyz")
                #expect(ready.status == 200, "\(ready.body)")
                #expect(ready.body.contains("damagedObjects: victim"), "\(ready.body)")
                #expect(server.log.contains("cannot be read"), "\(server.log)")
                #expect(try httpCall(port: server.apiPort, method: "GET", path: "/v1/nameservices/victim").status == 500)
                let list = try httpCall(port: server.apiPort, method: "GET", path: "/v1/nameservices")
                #expect(list.status == 200 && list.body.contains("\"d3\""))

                // Writes reach DNS, and writing the damaged name again repairs it.
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/later", yaml: manifest("later", "192.0.2.9")) == 201)
                try await plane.eventuallyAnswers(server, "later.g.example.com", "A", ["192.0.2.9"], within: .seconds(10))
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/victim", yaml: manifest("victim", "192.0.2.5")) / 100 == 2)
                try await plane.eventuallyAnswers(server, "victim.g.example.com", "A", ["192.0.2.5"], within: .seconds(10))
                let after = try httpCall(port: server.apiPort, method: "GET", path: "/readyz")
                #expect(after.status == 200 && !after.body.contains("damagedObjects"), "\(after.body)")
            }
        }

        /// A stalled disk, made with the real lock: the sqlite3 shell holds the database's write
        /// lock (BEGIN EXCLUSIVE) for 4 s. A PUT answers 503 after store.writeTimeoutSeconds
        /// ("outcome unknown"), GETs and DNS answer from memory meanwhile, /readyz is 503 naming
        /// the stalled write; once the lock goes, /readyz is 200 and writes work again.
        @Test("a stalled store: PUT 503 after the write timeout, reads go on, /readyz says why")
        func stalledStore() async throws {
            var options = try GlobalDNSOptions()
            options.extraConfig = "store:\n  writeTimeoutSeconds: 1\n"
            try await withGlobalDNS(options) { server in
                let plane = IntegrationSuite.ControlPlane()
                func manifest(_ name: String) -> String {
                    IntegrationSuite.ControlPlane.manifest(name: name, fqdn: "\(name).g.example.com", addresses: ["192.0.2.7"])
                }
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/a", yaml: manifest("a")) == 201)
                try await plane.eventuallyAnswers(server, "a.g.example.com", "A", ["192.0.2.7"])
                let db = server.stateDirectory!.appendingPathComponent("nameservices.db").path
                let scratch = server.scratch
                // The shell says when it holds the lock (a file), holds it 4 s, then commits.
                let held = scratch.appendingPathComponent("locked").path
                let locker = Task {
                    try await runCommand("/usr/bin/sqlite3", [db, ".timeout 5000", "BEGIN EXCLUSIVE;", ".shell touch \(held)",
                                                              ".shell sleep 4", "COMMIT;"],
                                         timeout: .seconds(30), scratch: scratch)
                }
                let lockDeadline = ContinuousClock.now + .seconds(10)
                while !FileManager.default.fileExists(atPath: held) && ContinuousClock.now < lockDeadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                try #require(FileManager.default.fileExists(atPath: held), "the sqlite3 shell never took the lock")
                // A write meets the lock: 503, outcome unknown, after about the timeout.
                let r = try httpCall(port: server.apiPort, method: "PUT", path: "/v1/nameservices/s", body: manifest("s"))
                let stalled: (status: Int, body: String)? = r.status == 503 ? r : nil
                let answer = try #require(stalled, "no write met the lock")
                #expect(answer.body.contains("outcome is unknown"), "\(answer.body)")
                // Reads and DNS go on while the write waits.
                let started = ContinuousClock.now
                #expect(try httpCall(port: server.apiPort, method: "GET", path: "/v1/nameservices/a").status == 200)
                #expect(ContinuousClock.now - started < .seconds(1))
                try await plane.eventuallyAnswers(server, "a.g.example.com", "A", ["192.0.2.7"])
                let notReady = try httpCall(port: server.apiPort, method: "GET", path: "/readyz")
                #expect(notReady.status == 503 && notReady.body.contains("oldest pending write"), "\(notReady.body)")

                let unlocked = try await locker.value
                #expect(unlocked.exitCode == 0, "\(unlocked.stderr)")
                let recovered = ContinuousClock.now + .seconds(10)
                while try httpCall(port: server.apiPort, method: "GET", path: "/readyz").status != 200 && ContinuousClock.now < recovered {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try httpCall(port: server.apiPort, method: "GET", path: "/readyz").status == 200)
                #expect(try httpPut(port: server.apiPort, path: "/v1/nameservices/after", yaml: manifest("after")) == 201)
            }
        }
    }
}

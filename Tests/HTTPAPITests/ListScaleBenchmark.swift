import Foundation
import GSLB
import HTTPAPI
import NameServiceStore
import Testing

/// A measurement, not a check run by default: `GLOBALDNS_LIST_BENCH=100000 swift test --filter
/// ListScaleBenchmark` stores that many NameServices (4 targets each) in a SQLite store in a
/// scratch directory, serves them through the API and lists them all with curl, printing the time,
/// the body size and this process's RSS before and at its peak during the list.
@Suite struct ListScaleBenchmark {
    static let count = ProcessInfo.processInfo.environment["GLOBALDNS_LIST_BENCH"].flatMap { Int($0) } ?? 0

    @Test(.enabled(if: count > 0)) func listEverythingThroughTheAPI() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("list-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteNameServiceStore(path: directory.appendingPathComponent("store.sqlite").path)
        let count = Self.count
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<32 {
                group.addTask {
                    for i in stride(from: worker, to: count, by: 32) {
                        var ns = NameService.sample(String(format: "svc-%07d", i), labels: ["tier": i % 2 == 0 ? "even" : "odd"])
                        ns.spec.targets = (0..<4).map { Target(name: "t\($0)", addresses: ["10.\($0).\((i >> 8) & 255).\(i & 255)"]) }
                        _ = try await store.put(ns, ifVersion: nil)
                    }
                }
            }
            try await group.waitForAll()
        }
        print("stored \(count) in \(ContinuousClock.now - started)")
        var limits = unlimitedRate()
        limits.maxListLimit = 500
        try await withLiveServer(makeAPI(store, limits: limits)) { port, _ in
            let before = Self.rssKB()
            let sampler = Task {
                var peak = 0
                while !Task.isCancelled {
                    peak = max(peak, Self.rssKB())
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return peak
            }
            for (label, path) in [("full list", "/v1/nameservices"), ("selector 50 %", "/v1/nameservices?labelSelector=tier%3Dodd")] {
                let curl = Process()
                curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                curl.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_starttransfer} %{time_total}",
                                  "http://127.0.0.1:\(port)\(path)"]
                let pipe = Pipe()
                curl.standardOutput = pipe
                try curl.run()
                curl.waitUntilExit()
                let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                print("\(label): code, bytes, first byte s, total s = \(out)")
            }
            sampler.cancel()
            let peak = await sampler.value
            print("RSS before the lists \(before / 1024) MB, peak during them \(peak / 1024) MB")
        }
    }

    static func rssKB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}

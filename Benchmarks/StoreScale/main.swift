import Foundation
import GSLB
import NameServiceStore

// Store-level measurements for issue 13 (release build: `swift build -c release --product store-scale`):
//   store-scale create DB N [CONCURRENCY]   creates N NameServices (4 targets, with status) through the store
//   store-scale open DB                      open time, RSS of the process holding the store, bytes per object
//   store-scale pages DB LIMIT [SELECTOR]    walks every page of a list; first page and total times
//   store-scale list DB [SELECTOR]           one full list
//   store-scale statuses DB N                updateStatuses of N names in batches of 1,000

func rssBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return kb * 1024
    }
    return 0
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// The mix of `Benchmarks/scale.py` (so a database prepared here is what the server would hold
/// after scale.py's load): `n<i>` answering `n<i>.g.example.com`, 4 targets, half Locality and
/// half RoundRobin, labels `bench=scale` and `shard=<i % 100>`.
func name(_ i: Int) -> String { "n\(i)" }

func object(_ i: Int) -> NameService {
    let locality = i % 2 == 0
    let localities = ["us-east/us-east-1a", "us-east/us-east-1b", "us-west/us-west-1a", "eu-west/eu-west-1a"]
    let targets = (0..<4).map { k in
        let address = k == 0 ? "10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)" : "10.\(64 + k).\((i >> 8) & 255).\(i & 255)"
        return Target(name: "t\(k)", addresses: [address], locality: locality ? localities[k] : nil)
    }
    var spec = NameServiceSpec(fqdn: "\(name(i)).g.example.com", ttl: 30, targets: targets)
    spec.policy = locality ? .locality : .roundRobin
    return NameService(metadata: ObjectMeta(name: name(i), labels: ["bench": "scale", "shard": "\(i % 100)"]), spec: spec)
}

func status(_ i: Int) -> NameServiceStatus {
    NameServiceStatus(observedGeneration: 1, conditions: [
        Condition(type: .accepted, status: .true, reason: ConditionReason(rawValue: "Valid"), message: "the spec is valid",
                  lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1),
        Condition(type: .programmed, status: .true, reason: ConditionReason(rawValue: "Programmed"), message: "answering with 4 healthy targets",
                  lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1),
    ], targets: (0..<4).map { t in TargetStatus(name: "t\(t)", address: object(i).spec.targets[t].addresses[0], healthy: true) })
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    print("usage: store-scale create|open|pages|list|statuses DB ...")
    exit(2)
}
let path = args[2]
let clock = ContinuousClock()
let baseline = rssBytes()
let t0 = clock.now
let store = try SQLiteNameServiceStore(path: path)
let opened = clock.now - t0
switch args[1] {
case "create":
    let n = Int(args[3])!
    let concurrency = args.count > 4 ? Int(args[4])! : 32
    let start = store.count
    let c0 = store.commitCounts
    let t = clock.now
    let next = NSLock()
    nonisolated(unsafe) var i = start
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                while true {
                    let mine = next.withLock { () -> Int in
                        defer { i += 1 }
                        return i
                    }
                    guard mine < start + n else { return }
                    _ = try await store.put(object(mine), ifVersion: nil)
                }
            }
        }
        try await group.waitForAll()
    }
    let took = seconds(clock.now - t)
    let c1 = store.commitCounts
    print(String(format: "created %d at concurrency %d in %.2f s: %.0f/s, %d transactions (%.1f writes each)", n, concurrency, took,
                 Double(n) / took, c1.transactions - c0.transactions, Double(c1.writes - c0.writes) / Double(max(1, c1.transactions - c0.transactions))))
case "statuses":
    let n = Int(args[3])!
    let t = clock.now
    var done = 0
    while done < n {
        let batch = (done..<min(n, done + 1000)).map { StatusUpdate(name: name($0), status: status($0), ifGeneration: nil) }
        let results = await store.updateStatuses(batch)
        if let bad = results.first(where: { if case .failure = $0 { true } else { false } }) { print("failed: \(bad)") }
        done += batch.count
    }
    let took = seconds(clock.now - t)
    print(String(format: "updateStatuses of %d in %.2f s: %.0f/s", n, took, Double(n) / took))
case "open":
    _ = try await store.revision()
    let rss = rssBytes()
    print(String(format: "opened %d objects in %.2f s; RSS %.1f MB (baseline %.1f MB): %.0f bytes/object", store.count, seconds(opened),
                 Double(rss) / 1e6, Double(baseline) / 1e6, Double(rss - baseline) / Double(max(1, store.count))))
    // A get of every 1,000th name, timed.
    let g = clock.now
    var got = 0
    for i in stride(from: 0, to: store.count, by: 1000) where try store.get(name(i)) != nil { got += 1 }
    print(String(format: "%d gets: %.1f µs each", got, seconds(clock.now - g) * 1e6 / Double(max(1, got))))
case "pages":
    let limit = Int(args[3])!
    let selector = args.count > 4 ? try LabelSelector(parsing: args[4]) : nil
    var options = ListOptions(selector: selector, limit: limit)
    let t = clock.now
    var first: Duration?
    var pages = 0, items = 0, peak = rssBytes()
    while true {
        let page = try await store.listPage(options)
        if first == nil { first = clock.now - t }
        pages += 1
        items += page.items.count
        peak = max(peak, rssBytes())
        guard let token = page.continueToken else { break }
        options.continueToken = token
    }
    print(String(format: "%d pages of %d (%@): %d items; first page %.1f ms, all %.2f s; RSS peak %.1f MB", pages, limit,
                 selector?.description ?? "all", items, seconds(first!) * 1e3, seconds(clock.now - t), Double(peak) / 1e6))
case "list":
    let selector = args.count > 3 ? try LabelSelector(parsing: args[3]) : nil
    let t = clock.now
    let all = try store.list(selector: selector)
    print(String(format: "list (%@): %d items in %.2f s; RSS %.1f MB", selector?.description ?? "all", all.items.count,
                 seconds(clock.now - t), Double(rssBytes()) / 1e6))
default:
    print("unknown command \(args[1])")
}
await store.close()

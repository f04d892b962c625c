import Foundation
import GSLB
import NameServiceStore
import NameServiceStoreEtcd
import NameServiceStoreTesting
import Testing

/// Issue 13: lists in pages, the Kubernetes way (`limit` / `continue`), on every store: every page
/// of one list is consistent with the first page's revision, whatever is written between pages.
@Suite("Paged lists")
struct PagedListTests {
    /// All pages of a list, following the continue tokens, with `between` run after each page.
    static func allPages(_ store: any NameServiceStore, _ options: ListOptions,
                         between: (Int) async throws -> Void = { _ in }) async throws -> [ListPage] {
        var pages: [ListPage] = []
        var options = options
        while true {
            let page = try await store.listPage(options)
            pages.append(page)
            guard let token = page.continueToken else { return pages }
            #expect(pages.count < 100, "a list that never ends")
            try await between(pages.count)
            options.continueToken = token
        }
    }

    /// A write, a delete and a create between pages (and a write to a name already served): the
    /// later pages still show the list as it was at the first page's revision, objects with the
    /// resourceVersion they had then; a new list afterwards shows the new state.
    @Test(arguments: StoreKind.allCases)
    func laterPagesShowTheListAsOfTheFirstPage(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var before: [String: NameService] = [:]
            for i in 0..<10 {
                let ns = try await store.put(nameService(String(format: "n%02d", i), ttl: 30 + i), ifVersion: nil)
                before[ns.metadata.name] = ns
            }
            let pages = try await Self.allPages(store, ListOptions(limit: 3)) { served in
                guard served == 1 else { return }
                _ = try await store.put(nameService("n04", ttl: 99), ifVersion: nil)        // modified, not served yet
                _ = try await store.delete("n05", ifVersion: nil)                         // deleted, not served yet
                _ = try await store.put(nameService("n03a"), ifVersion: nil)              // created inside the range
                _ = try await store.put(nameService("n01", ttl: 77), ifVersion: nil)      // already served
                _ = try await store.updateStatus("n07", status: status("Valid", generation: 1), ifGeneration: 1)
            }
            #expect(pages.map(\.items.count) == [3, 3, 3, 1])
            #expect(pages.allSatisfy { $0.revision == rev(10) })
            let items = pages.flatMap(\.items)
            #expect(items.map(\.metadata.name) == (0..<10).map { String(format: "n%02d", $0) })
            for item in items { #expect(item == before[item.metadata.name]) }
            #expect(pages.last?.continueToken == nil)

            let now = try await store.listPage(ListOptions(limit: 100))
            #expect(now.revision == rev(15))
            #expect(now.items.map(\.metadata.name) == ["n00", "n01", "n02", "n03", "n03a", "n04", "n06", "n07", "n08", "n09"])
            #expect(now.items.first { $0.metadata.name == "n04" }?.spec.ttl == 99)
            #expect(now.continueToken == nil)
            // The full list agrees with an unlimited page.
            let all = try await store.list(selector: nil)
            #expect(all.items == now.items && all.revision == now.revision)
        }
    }

    /// Label-selector pages: equality (answered from the label index on SQLite), inequality and
    /// existence; a label taken off between pages does not take the object out of later pages.
    @Test(arguments: StoreKind.allCases)
    func labelSelectorPages(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in try await Self.selectorPages(store) }
    }

    /// The same on SQLite when a selector matches more names than the label index hands out as
    /// candidates (a broad selector over a million objects): the names are walked in order and
    /// the labels column checked.
    @Test func labelSelectorPagesWalkingTheNames() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteNameServiceStore(path: SQLiteNameServiceStore.databasePath(stateDirectory: dir), maxIndexCandidates: 0)
            try await Self.selectorPages(store)
            await store.close()
        }
    }

    static func selectorPages(_ store: any NameServiceStore) async throws {
        for i in 0..<20 {
            var labels = ["team": i % 3 == 0 ? "pay" : "ops"]
            if i % 2 == 0 { labels["tier"] = "canary" }
            _ = try await store.put(nameService(String(format: "s%02d", i), labels: labels), ifVersion: nil)
        }
        func names(_ selector: String, limit: Int, between: @escaping (Int) async throws -> Void = { _ in }) async throws -> [[String]] {
            try await allPages(store, ListOptions(selector: try LabelSelector(parsing: selector), limit: limit), between: between)
                .map { $0.items.map(\.metadata.name) }
        }
        let pay = ["s00", "s03", "s06", "s09", "s12", "s15", "s18"]
        #expect(try await names("team=pay", limit: 3) == [Array(pay[0..<3]), Array(pay[3..<6]), Array(pay[6...])])
        #expect(try await names("team=pay,tier=canary", limit: 2) == [["s00", "s06"], ["s12", "s18"]])
        #expect(try await names("team!=pay", limit: 20).flatMap { $0 }.count == 13)
        #expect(try await names("!tier", limit: 4).flatMap { $0 } == (0..<20).filter { $0 % 2 == 1 }.map { String(format: "s%02d", $0) })
        #expect(try await names("team=nobody", limit: 5) == [[]])
        #expect(try await names("team in (pay,nobody),tier notin (canary)", limit: 2) == [["s03", "s09"], ["s15"]])

        // s09 and s12 lose team=pay after the first page; s10 gains it. Later pages are as of the first.
        let changed = try await names("team=pay", limit: 3) { served in
            guard served == 1 else { return }
            for (n, team) in [("s09", "ops"), ("s12", "ops"), ("s10", "pay")] {
                _ = try await store.put(nameService(n, labels: ["team": team]), ifVersion: nil)
            }
        }
        #expect(changed.flatMap { $0 } == pay)
        let after = try await store.listPage(ListOptions(selector: try LabelSelector(parsing: "team=pay")))
        #expect(after.items.map(\.metadata.name) == ["s00", "s03", "s06", "s10", "s15", "s18"])
    }

    /// A token this store did not make is `.invalid`: not base64, another format, a revision the
    /// store has not reached. `limit` 0 means all; a negative limit is invalid.
    @Test(arguments: StoreKind.allCases)
    func malformedAndForeignTokensAreInvalid(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for i in 0..<3 { _ = try await store.put(nameService("m\(i)"), ifVersion: nil) }
            let foreign = [
                "not a token!", "", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIsInN0YXJ0IjoiYVx1MDAwMCJ9",  // Kubernetes' own format
                Data("gdns-list-v1\nabc\nm0".utf8).base64EncodedString(),
                ContinueToken.encode(revision: rev(1_000_000), after: "m0"),
            ]
            for token in foreign where !token.isEmpty {
                await #expect(throws: StoreError(.invalid, ""), "token \(token)") {
                    try await store.listPage(ListOptions(limit: 1, continueToken: token))
                }
            }
            #expect(try await store.listPage(ListOptions(limit: 0)).items.count == 3)
            #expect(try await store.listPage(ListOptions(limit: 1, continueToken: "")).items.map(\.metadata.name) == ["m0"])
            await #expect(throws: StoreError(.invalid, "")) { try await store.listPage(ListOptions(limit: -1)) }
        }
    }

    /// When the change history no longer reaches back to the first page's revision, the next page
    /// fails with `.expired` (Kubernetes 410 "continue token expired"): list again.
    @Test(arguments: StoreKind.allCases)
    func aTokenOlderThanTheHistoryExpires(_ kind: StoreKind) async throws {
        try await withStore(kind, eventHistoryLimit: 3) { store in
            for i in 0..<6 { _ = try await store.put(nameService("e\(i)"), ifVersion: nil) }
            let first = try await store.listPage(ListOptions(limit: 2))
            let token = try #require(first.continueToken)
            // Within the history: fine.
            _ = try await store.put(nameService("e4", ttl: 5), ifVersion: nil)
            #expect(try await store.listPage(ListOptions(limit: 2, continueToken: token)).items.map(\.metadata.name) == ["e2", "e3"])
            for i in 0..<5 { _ = try await store.put(nameService("e5", ttl: 40 + i), ifVersion: nil) }
            try await compactHistory(store, keepingLast: 3)
            let error = await #expect(throws: StoreError.self) { try await store.listPage(ListOptions(limit: 2, continueToken: token)) }
            #expect(error?.code == .expired)
            // A new list works.
            #expect(try await store.listPage(ListOptions(limit: 10)).items.count == 6)
        }
    }

    /// `updateStatuses`: one result per update, in order: written, conflict (generation), not
    /// found, unchanged (no new revision), and two updates of one name applied in order.
    @Test(arguments: StoreKind.allCases)
    func updateStatusesGivesEachItemItsOwnResult(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for n in ["a", "b", "c", "d"] { _ = try await store.put(nameService(n), ifVersion: nil) }
            _ = try await store.updateStatus("c", status: status("Valid", generation: 1), ifGeneration: 1)  // rev 5
            let sqliteBefore = (store as? SQLiteNameServiceStore)?.commitCounts
            let results = await store.updateStatuses([
                StatusUpdate(name: "a", status: status("Valid", generation: 1), ifGeneration: 1),
                StatusUpdate(name: "b", status: status("Valid", generation: 9), ifGeneration: 9),
                StatusUpdate(name: "zzz", status: status("Valid", generation: 1), ifGeneration: nil),
                StatusUpdate(name: "c", status: status("Valid", generation: 1), ifGeneration: 1),
                StatusUpdate(name: "d", status: status("Programmed", generation: 1), ifGeneration: nil),
            ])
            #expect(results.count == 5)
            #expect(try results[0].get().status == status("Valid", generation: 1))
            #expect(results[1].error?.code == .conflict)
            #expect(results[2].error?.code == .notFound)
            #expect(try results[3].get().metadata.resourceVersion == rv(5))  // unchanged: no new revision
            #expect(try results[4].get().status == status("Programmed", generation: 1))
            #expect(try await store.get("a")?.status == status("Valid", generation: 1))
            #expect(try await store.get("b")?.status == nil)
            #expect(try await store.get("d")?.status == status("Programmed", generation: 1))
            if let sqlite = store as? SQLiteNameServiceStore, let before = sqliteBefore {
                // One transaction for the batch.
                #expect(sqlite.commitCounts.transactions == before.transactions + 1)
                #expect(sqlite.commitCounts.writes == before.writes + 2)
                #expect(try await store.revision() == rev(7))
            }

            // The same name twice: the second sees the first.
            let twice = await store.updateStatuses([
                StatusUpdate(name: "a", status: status("First", generation: 1), ifGeneration: 1),
                StatusUpdate(name: "a", status: status("Second", generation: 1), ifGeneration: 1),
            ])
            #expect(try twice.map { try $0.get().status?.conditions.first?.reason.rawValue } == ["First", "Second"])
            #expect(try await store.get("a")?.status == status("Second", generation: 1))
            #expect(await store.updateStatuses([]).isEmpty)
        }
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

import Testing

/// Live tests: the built `globaldns` executable on loopback, queried with dig and kdig, and compared
/// with Knot DNS. Everything runs serially (each test starts its own server processes) and every
/// wait is bounded; the servers are stopped on every path by the `with…` helpers in Support/.
///
/// Needs dig, kdig and knotd (`make deps`). `INTEGRATION_TARGET=knot swift test --filter
/// IntegrationTests` runs the query tests against knotd instead: a self-check of the harness.
@Suite("Integration", .serialized, .timeLimit(.minutes(5)))
struct IntegrationSuite {}

/// Record lines as dig prints them, e.g. `"www.g.example.com. 3600 IN A 192.0.2.1"`.
func records(_ lines: [String]) -> Set<PrintedRecord> {
    Set(lines.map { line in
        guard let record = PrintedRecord(line: line) else { fatalError("bad record literal: \(line)") }
        return record.normalized
    })
}

func normalizedSet(_ printed: [PrintedRecord]) -> Set<PrintedRecord> { Set(printed.map(\.normalized)) }

/// "a, b, c" sorted, for readable failure messages.
func show(_ set: Set<PrintedRecord>) -> String {
    set.isEmpty ? "(none)" : set.map(\.description).sorted().joined(separator: "\n    ")
}

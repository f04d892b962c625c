import DNSWire
import Foundation
import ZoneFile

/// A scratch directory with files written from strings; removed when the value is dropped.
final class TempDir {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("zonefile-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit {
        do { try FileManager.default.removeItem(atPath: path) } catch { print("cannot remove \(path): \(error)") }
    }

    /// Writes `text` to `name` (subdirectories created) and returns the full path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }
}

/// Runs `body` and returns the ZoneFileError it throws, or nil when it does not throw.
func zoneError<T>(_ body: () throws(ZoneFileError) -> T) -> ZoneFileError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// The package root (for the real `zones/` directory).
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// A minimal valid apex, to prefix zones in tests.
let apex = """
$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A 192.0.2.1

"""

import Foundation
@testable import GlobalDNSApp
import Logging
import Testing

/// Issue 14: JSON log lines carry numbers as JSON numbers (they were all strings), names stay
/// strings even when they are digits, and each line is valid JSON.
@Suite struct LogFormatTests {
    @Test func jsonLinesCarryNumbersAsNumbers() throws {
        let handler = LineLogHandler(label: "t", settings: LogSettings(level: .info, format: .json))
        let line = handler.render(level: .info, message: "zone reloaded", metadata: [
            "serial": "2024010102", "previous_serial": .stringConvertible(2024010101), "ratio": "0.25",
            "negative": "-3", "zone": "g.example.com.", "nameservice": "123", "padded": "007", "exp": "1e5",
            "flag": .stringConvertible(true), "huge": "1234567890123456789012",
        ])
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["serial"] as? Int == 2024010102)
        #expect(object["previous_serial"] as? Int == 2024010101)
        #expect(object["ratio"] as? Double == 0.25)
        #expect(object["negative"] as? Int == -3)
        for key in ["zone", "nameservice", "padded", "exp", "flag", "huge", "msg", "level", "ts"] {
            #expect(object[key] is String, "\(key) should stay a string")
        }
        #expect(object["nameservice"] as? String == "123")
        // logfmt is unchanged
        let logfmt = LineLogHandler(label: "t", settings: LogSettings(level: .info, format: .logfmt))
            .render(level: .info, message: "m", metadata: ["serial": "7"])
        #expect(logfmt.hasSuffix("level=info msg=m serial=7\n"))
    }
}

import DNSWire
import Testing
import ZoneFile

@Suite struct IncludeTests {
    @Test func includeIsRelativeToTheIncludingFileAndScopesOriginAndTTL() throws {
        let dir = try TempDir()
        let top = try dir.write("top.zone", """
        $ORIGIN example.com.
        $TTL 100
        before IN A 192.0.2.1
        $INCLUDE inc/plain.inc
        $INCLUDE inc/other.inc other
        $INCLUDE "inc/abs.inc" example.org.
        after IN A 192.0.2.9
                IN AAAA 2001:db8::9
        """)
        try dir.write("inc/plain.inc", """
        ; uses the including origin and TTL
        plain IN A 192.0.2.2
        $TTL 200
        $ORIGIN changed.example.com.
        x IN A 192.0.2.3
        """)
        try dir.write("inc/other.inc", "@ IN A 192.0.2.4\nwww IN A 192.0.2.5\n")
        try dir.write("inc/abs.inc", "@ IN A 192.0.2.6\n")

        let records = try ZoneFileParser().parse(file: top)
        let summary = records.map { "\($0.record.owner) \($0.record.ttl) \($0.location.file.split(separator: "/").last!):\($0.location.line)" }
        #expect(summary == [
            "before.example.com. 100 top.zone:3",
            "plain.example.com. 100 plain.inc:2",
            "x.changed.example.com. 200 plain.inc:5",
            "other.example.com. 100 other.inc:1",
            "www.other.example.com. 100 other.inc:2",
            "example.org. 100 abs.inc:1",
            // Origin and $TTL revert after each include (RFC 1035 §5.1), and so does the owner.
            "after.example.com. 100 top.zone:7",
            "after.example.com. 100 top.zone:8",
        ])
        #expect(records[1].location.file == dir.path + "/inc/plain.inc")
    }

    @Test func errorInIncludedFileNamesThatFileAndLine() throws {
        let dir = try TempDir()
        let top = try dir.write("top.zone", "$ORIGIN example.com.\na IN A 192.0.2.1\n$INCLUDE inc/bad.inc\n")
        try dir.write("inc/bad.inc", """
        ; 1
        ok1 IN A 192.0.2.1
        ; 3

        ok2 IN A 192.0.2.2
        ok3 IN TXT "fine"
        broken IN A not-an-address
        ok4 IN A 192.0.2.4
        """)
        let error = zoneError { () throws(ZoneFileError) in try ZoneFileParser().parse(file: top) }
        #expect(error?.code == .syntax)
        #expect(error?.file == dir.path + "/inc/bad.inc")
        #expect(error?.line == 7)
        #expect(error?.message.contains("'not-an-address'") == true)
    }

    @Test func includeLoopIsRefused() throws {
        let dir = try TempDir()
        let top = try dir.write("a.zone", "$ORIGIN example.com.\n$INCLUDE b.inc\n")
        try dir.write("b.inc", "x IN A 192.0.2.1\n\n$INCLUDE a.zone\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneFileParser().parse(file: top) }
        #expect(error?.code == .include)
        #expect(error?.file == dir.path + "/b.inc")
        #expect(error?.line == 3)
        #expect(error?.message.contains("loop") == true)
    }

    @Test func selfIncludeIsRefused() throws {
        let dir = try TempDir()
        let top = try dir.write("self.zone", "$ORIGIN example.com.\n$INCLUDE self.zone\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneFileParser().parse(file: top) }
        #expect(error?.code == .include)
        #expect(error?.line == 2)
    }

    @Test func includeDepthIsLimited() throws {
        let dir = try TempDir()
        let top = try dir.write("top.zone", "$ORIGIN example.com.\n$INCLUDE 1.inc\n")
        for i in 1...20 { try dir.write("\(i).inc", "h\(i) IN A 192.0.2.1\n$INCLUDE \(i + 1).inc\n") }
        try dir.write("21.inc", "last IN A 192.0.2.1\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneFileParser().parse(file: top) }
        #expect(error?.code == .include)
        #expect(error?.file == dir.path + "/16.inc")
        #expect(error?.line == 2)
        #expect(error?.message.contains("deeper than 16") == true)
        // Within the limit it works.
        let shallow = try ZoneFileParser().parse(file: dir.write("ok.zone", "$ORIGIN example.com.\n$INCLUDE 6.inc\n"))
        #expect(shallow.count == 16)
    }

    @Test func missingIncludedFileIsReportedAtTheDirective() throws {
        let dir = try TempDir()
        let top = try dir.write("top.zone", "$ORIGIN example.com.\n\n$INCLUDE nothere.inc\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneFileParser().parse(file: top) }
        #expect(error?.code == .include)
        #expect(error?.file == top)
        #expect(error?.line == 3)
        #expect(error?.message.contains("nothere.inc") == true)
    }

    @Test func malformedIncludeDirective() throws {
        let dir = try TempDir()
        let top = try dir.write("top.zone", "$ORIGIN example.com.\n$INCLUDE\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneFileParser().parse(file: top) }
        #expect(error?.code == .include)
        #expect(error?.line == 2)
    }
}

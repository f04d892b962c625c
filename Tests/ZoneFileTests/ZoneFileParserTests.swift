import DNSWire
import Testing
@testable import ZoneFile

@Suite struct ZoneFileParserTests {
    @Test func directivesNamesAndOwnerInheritance() throws {
        let dir = try TempDir()
        let file = try dir.write("a.zone", """
        $ORIGIN example.com.
        $TTL 1h
        @ IN SOA ns1 hostmaster.example.com. 7 3600 600 86400 60
        www 120 IN A 192.0.2.1
                IN AAAA 2001:db8::1
        ; a comment line

        abs.example.org. IN A 192.0.2.2
        WwW.Mixed IN A 192.0.2.3
        $ORIGIN sub
        host IN A 192.0.2.4
        $ORIGIN example.net.
        @ IN TXT "at the new origin"

        """)
        let records = try ZoneFileParser().parse(file: file)
        #expect(records.map(\.record.owner.description) == [
            "example.com.", "www.example.com.", "www.example.com.", "abs.example.org.", "WwW.Mixed.example.com.",
            "host.sub.example.com.", "example.net.",
        ])
        #expect(records.map(\.location.line) == [3, 4, 5, 8, 9, 11, 13])
        #expect(records.allSatisfy { $0.location.file == file })
        #expect(records[0].record.ttl == 3600)
        #expect(records[1].record.ttl == 120)
        #expect(records[2].record.ttl == 3600)  // no TTL given: the $TTL default
        #expect(records[2].record.type == .aaaa)
        guard case .soa(let soa) = records[0].record.data else { Issue.record("not an SOA"); return }
        #expect(soa.mname == "ns1.example.com.")
        #expect(soa.rname == "hostmaster.example.com.")
        #expect(soa.serial == 7)
        // Case is kept; equality is not case-sensitive.
        #expect(records[4].record.owner.wire.contains(UInt8(ascii: "W")))
        #expect(records[4].record.owner == "www.mixed.example.com.")
    }

    @Test func multiLineRecordsCarryTheirFirstLine() throws {
        let records = try ZoneFileParser(origin: "example.com.").parse(text: """
        ; line 1
        @ IN SOA ns1 hostmaster (
                1   ; serial
                2   ; refresh
                3 4 5 )
        @ IN NS ns1
        txt IN TXT ( "one"
                     "two" ) ; trailing comment
        after IN A 192.0.2.9
        """)
        #expect(records.map(\.location.line) == [2, 6, 7, 9])
        #expect(records.map(\.location.file) == ["<text>", "<text>", "<text>", "<text>"])
        #expect(records[2].record.data == .txt([Array("one".utf8), Array("two".utf8)]))
        guard case .soa(let soa) = records[0].record.data else { Issue.record("not an SOA"); return }
        #expect([soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] == [1, 2, 3, 4, 5])
    }

    @Test func quotedStringsEscapesAndComments() throws {
        let records = try ZoneFileParser(origin: "example.com.").parse(text: #"""
        t1 IN TXT "semi;colon" "quote\"d" "back\\slash" "\065\066C" ; comment "not a string"
        t2 IN TXT "(parens) inside"
        a\046b IN A 192.0.2.1
        \065bc IN A 192.0.2.2
        """#)
        #expect(records.count == 4)
        #expect(records[0].record.data == .txt([
            Array("semi;colon".utf8), Array("quote\"d".utf8), Array("back\\slash".utf8), Array("ABC".utf8),
        ]))
        #expect(records[1].record.data == .txt([Array("(parens) inside".utf8)]))
        // `\046` is a dot inside a label: one label "a.b", not two.
        #expect(records[2].record.owner.wire == [3, 0x61, 0x2E, 0x62, 7] + Array("example".utf8) + [3] + Array("com".utf8) + [0])
        #expect(records[2].record.owner.labelCount == 3)
        #expect(records[3].record.owner == "Abc.example.com.")
    }

    @Test func rfc3597GenericRecords() throws {
        let records = try ZoneFileParser(origin: "example.com.").parse(text: ##"""
        opaque IN TYPE65534 \# 3 abcdef
        empty  IN TYPE65533 \# 0
        known  IN A \# 4 C0000201
        generic CLASS1 TYPE65534 \# 2 0102
        """##)
        #expect(records[0].record.type == RRType(65534))
        #expect(records[0].record.rdata == [0xAB, 0xCD, 0xEF])
        #expect(records[0].record.data.presentation == ##"\# 3 abcdef"##)
        #expect(records[1].record.rdata == [])
        #expect(records[2].record.data == .a(IPv4Address(192, 0, 2, 1)))
        #expect(records[3].record.rrClass == .in)
    }

    @Test func withoutAnOriginNamesAreRelativeToTheRoot() throws {
        let records = try ZoneFileParser().parse(text: "\nwww IN A 192.0.2.1\n", file: "x.zone")
        #expect(records.map(\.record.owner) == ["www."])
        #expect(records.map(\.location) == [SourceLocation(file: "x.zone", line: 2)])
    }

    @Test func nonINClassIsRefused() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: "a IN A 192.0.2.1\n\nversion CH TXT \"1.0\"\n", file: "c.zone")
        }
        #expect(error?.code == .unsupportedClass)
        #expect(error?.line == 3)
        #expect(error?.message.contains("CH") == true)
    }

    @Test func badRDataReportsLineAndToken() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: """
            ; comment
            a IN A 192.0.2.1

            b IN AAAA 2001:db8::1
            bad IN A 192.0.2.999
            c IN A 192.0.2.3
            """, file: "bad.zone")
        }
        #expect(error?.code == .syntax)
        #expect(error?.file == "bad.zone")
        #expect(error?.line == 5)
        #expect(error?.message.contains("'192.0.2.999'") == true)
        #expect(error?.description.hasPrefix("bad.zone:5: ") == true)
    }

    @Test func unknownTypeReportsTheToken() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: "a 300 IN BOGUS 1 2 3\n", file: "t.zone")
        }
        #expect(error?.line == 1)
        #expect(error?.message.hasPrefix("unknown RR type 'BOGUS'") == true)
    }

    @Test func superfluousTextReportsTheToken() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: "a IN A 192.0.2.1\nb IN A 192.0.2.2 extra\n", file: "t.zone")
        }
        #expect(error?.line == 2)
        #expect(error?.message.contains("superfluous text present: 'extra'") == true)
    }

    @Test func badMXPreferenceReportsTheToken() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: "\n\n@ IN MX ten mail\n", file: "t.zone")
        }
        #expect(error?.line == 3)
        #expect(error?.message.contains("'ten'") == true)
    }

    @Test func errorInMultiLineRecordReportsItsFirstLine() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: """
            a IN A 192.0.2.1
            ; the next entry starts on line 3
            @ IN SOA ns1 hostmaster (
                1 2 3
                4 notanumber )
            b IN A 192.0.2.2
            """, file: "m.zone")
        }
        #expect(error?.code == .syntax)
        #expect(error?.line == 3)
    }

    @Test func unclosedParenthesisReportsWhereItOpened() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: """
            a IN A 192.0.2.1
            b IN TXT ( "never"
                       "closed"

            """, file: "p.zone")
        }
        #expect(error?.code == .syntax)
        #expect(error?.line == 2)
    }

    @Test func badTTLDirective() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: "a IN A 192.0.2.1\n$TTL soon\n", file: "t.zone")
        }
        #expect(error?.code == .syntax)
        #expect(error?.line == 2)
        #expect(error?.message.contains("'soon'") == true)
    }

    @Test func oversizedTTLIsRefused() throws {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: "a IN A 192.0.2.1\nb 99999999999 IN A 192.0.2.2\n", file: "t.zone")
        }
        #expect(error?.line == 2)
        #expect(error?.message.contains("'99999999999'") == true)
        let max = try ZoneFileParser(origin: "example.com.").parse(text: "a 2147483647 IN A 192.0.2.1\n  300 IN A 192.0.2.2\n")
        #expect(max.map(\.record.ttl) == [2147483647, 300])
    }

    @Test func ttlDirectiveWithUnits() throws {
        let records = try ZoneFileParser(origin: "example.com.").parse(text: "$TTL 1d2h\na IN A 192.0.2.1\n")
        #expect(records[0].record.ttl == 93600)
    }

    @Test func unknownDirective() {
        let error = zoneError { () throws(ZoneFileError) in
            try ZoneFileParser(origin: "example.com.").parse(text: "a IN A 192.0.2.1\n$GENERATE 1-3 h$ A 192.0.2.$\n", file: "g.zone")
        }
        #expect(error?.line == 2)
        #expect(error?.message.contains("$GENERATE") == true)
    }

    @Test func emptyAndCommentOnlyFiles() throws {
        #expect(try ZoneFileParser(origin: "example.com.").parse(text: "").isEmpty)
        #expect(try ZoneFileParser(origin: "example.com.").parse(text: "; nothing\n\n   \n; at all").isEmpty)
        let noNewline = try ZoneFileParser(origin: "example.com.").parse(text: "a IN A 192.0.2.1")
        #expect(noNewline.count == 1)
    }

    @Test func missingFile() {
        let error = zoneError { () throws(ZoneFileError) in try ZoneFileParser().parse(file: "/nonexistent/x.zone") }
        #expect(error?.code == .io)
        #expect(error?.file == "/nonexistent/x.zone")
        #expect(error?.line == 0)
    }
}

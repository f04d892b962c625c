import DNSWire
import DNSZone
import Foundation
import Testing
import ZoneFile

@Suite struct ZoneLoaderTests {
    @Test func loadsAValidZone() throws {
        let dir = try TempDir()
        let file = try dir.write("example.com.zone", apex + "www IN A 192.0.2.80\n")
        let zone = try ZoneLoader.load(file: file)
        #expect(zone.origin == "example.com.")
        #expect(zone.serial == 1)
    }

    @Test func originComesFromTheSOAThenOriginThenFileName() throws {
        let dir = try TempDir()
        // No $ORIGIN: relative names are completed with the file name.
        let byName = try dir.write("byname.test.zone", """
        @ 300 IN SOA ns1 hostmaster 5 3600 600 86400 60
        @ 300 IN NS ns1
        ns1 300 IN A 192.0.2.1
        """)
        #expect(try ZoneLoader.load(file: byName).origin == "byname.test.")
        // The SOA owner wins over the file name.
        let bySOA = try dir.write("whatever.zone", """
        real.test. 300 IN SOA ns1.real.test. hostmaster.real.test. 5 3600 600 86400 60
        real.test. 300 IN NS ns1.real.test.
        """)
        #expect(try ZoneLoader.load(file: bySOA).origin == "real.test.")
        // An explicit origin wins over everything.
        let explicit = try dir.write("other.zone", apex)
        #expect(try ZoneLoader.load(file: explicit, origin: "example.com.").origin == "example.com.")
    }

    @Test func missingSOAIsRefused() throws {
        let dir = try TempDir()
        let file = try dir.write("nosoa.zone", "$ORIGIN nosoa.test.\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneLoader.load(file: file) }
        #expect(error?.code == .zone)
        #expect(error?.file == file)
        #expect(error?.message.contains("no SOA") == true)
    }

    @Test func missingApexNSIsRefused() throws {
        let dir = try TempDir()
        let file = try dir.write("nons.test.zone", "@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 60\nns1 300 IN A 192.0.2.1\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneLoader.load(file: file) }
        #expect(error?.code == .zone)
        #expect(error?.file == file)
        #expect(error?.message.contains("no NS") == true)
    }

    @Test func outOfZoneOwnerIsReportedAtItsLine() throws {
        let dir = try TempDir()
        let file = try dir.write("example.com.zone", apex + "www IN A 192.0.2.80\nstray.example.org. IN A 192.0.2.81\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneLoader.load(file: file) }
        #expect(error?.code == .zone)
        #expect(error?.file == file)
        #expect(error?.line == 7)
        #expect(error?.message.contains("outside") == true)
    }

    @Test func buildErrorInIncludedFileNamesThatFile() throws {
        let dir = try TempDir()
        let file = try dir.write("example.com.zone", apex + "$INCLUDE inc/data.inc\n")
        try dir.write("inc/data.inc", "www IN A 192.0.2.1\n\nalias IN CNAME www\nalias IN TXT \"clash\"\n")
        let error = zoneError { () throws(ZoneFileError) in try ZoneLoader.load(file: file) }
        #expect(error?.code == .zone)
        #expect(error?.file == dir.path + "/inc/data.inc")
        #expect(error?.line == 3 || error?.line == 4)
        #expect(error?.message.contains("CNAME") == true)
    }

    @Test func loadDirectoryLoadsZoneFilesInNameOrder() throws {
        let dir = try TempDir()
        try dir.write("b.test.zone", apex.replacingOccurrences(of: "example.com.", with: "b.test."))
        try dir.write("a.test.zone", apex.replacingOccurrences(of: "example.com.", with: "a.test."))
        try dir.write("notes.txt", "not a zone")
        try dir.write("include/x.inc", "garbage that is never read as a zone (((")
        try dir.write("sub/c.test.zone", "subdirectories are not scanned")
        let zones = try ZoneLoader.loadDirectory(dir.path)
        #expect(zones.map(\.origin) == ["a.test.", "b.test."])
    }

    @Test func loadDirectoryReportsTheFirstErrorWithFileAndLine() throws {
        let dir = try TempDir()
        try dir.write("a.test.zone", apex.replacingOccurrences(of: "example.com.", with: "a.test."))
        let bad = try dir.write("b.test.zone", apex.replacingOccurrences(of: "example.com.", with: "b.test.") + "x IN A 1.2.3\n")
        try dir.write("c.test.zone", "also broken (((")
        let error = zoneError { () throws(ZoneFileError) in try ZoneLoader.loadDirectory(dir.path) }
        #expect(error?.code == .syntax)
        #expect(error?.file == bad)
        #expect(error?.line == 6)
    }

    @Test func loadDirectoryRefusesTwoFilesForOneOrigin() throws {
        let dir = try TempDir()
        try dir.write("one.zone", apex)
        let second = try dir.write("two.zone", apex)
        let error = zoneError { () throws(ZoneFileError) in try ZoneLoader.loadDirectory(dir.path) }
        #expect(error?.code == .duplicateOrigin)
        #expect(error?.file == second)
        #expect(error?.message.contains("one.zone") == true)
    }

    @Test func loadDirectoryOfAMissingDirectory() {
        let error = zoneError { () throws(ZoneFileError) in try ZoneLoader.loadDirectory("/nonexistent-zones") }
        #expect(error?.code == .io)
    }

    @Test func theShippedZonesDirectoryBuilds() throws {
        let zones = try ZoneLoader.loadDirectory(packageRoot + "/zones")
        #expect(zones.map(\.origin) == ["g.example.com."])
        let zone = try #require(zones.first)
        #expect(zone.serial == 2024060101)
        let records = try ZoneFileParser(origin: "g.example.com.").parse(file: packageRoot + "/zones/g.example.com.zone")
        let owners = Set(records.map(\.record.owner))
        // Included data is there, and the GSLB names are left free.
        #expect(owners.contains("ldap.g.example.com."))
        for gslb: DNSName in ["checkout.g.example.com.", "search.g.example.com.", "api.g.example.com."] {
            #expect(!owners.contains(gslb))
        }
        #expect(records.contains { $0.record.type == RRType(65534) })
        #expect(records.contains { $0.record.owner == "*.static.g.example.com." })
        #expect(records.contains { $0.location.file.hasSuffix("include/static.inc") })
    }
}

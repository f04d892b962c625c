/// The zones the tests serve, in presentation format.
enum TestZones {
    /// `up.test.`: the names the resolver is asked for. `moving` and `later` change between serials.
    static func up(serial: UInt32 = 1, moving: String = "192.0.2.30", withLater: Bool = false) -> String {
        var zone = """
            $ORIGIN up.test.
            $TTL 300
            @        SOA   ns hostmaster \(serial) 3600 600 86400 60
            @        NS    ns
            ns       A     127.0.0.1
            www      A     192.0.2.11
            www      A     192.0.2.10
            www      AAAA  2001:db8::10
            www      AAAA  2001:db8::9
            v4only   A     192.0.2.20
            v6only   AAAA  2001:db8::20
            txtonly  TXT   "no addresses here"
            alias    120   CNAME alias2
            alias2   60    CNAME www
            out      CNAME target.other.test.
            dangling CNAME missing
            loop1    CNAME loop2
            loop2    CNAME loop1
            moving   1     A   \(moving)
            steady   1     A   192.0.2.40
            gone     1     A   192.0.2.50

            """
        if withLater { zone += "later    1     A   192.0.2.60\n" }
        // 100 A records: about 1.6 kB, more than the 1232 bytes a UDP reply may carry.
        for i in 1...100 { zone += "big      A     198.51.100.\(i)\n" }
        return zone
    }

    /// `other.test.`: the target of a CNAME that leaves `up.test.` (knotd does not follow it).
    static let other = """
        $ORIGIN other.test.
        $TTL 300
        @        SOA   ns.up.test. hostmaster.up.test. 1 3600 600 86400 60
        @        NS    ns.up.test.
        target   30    A     203.0.113.5
        target   30    AAAA  2001:db8::5

        """

    static var both: [String: String] { ["up.test.": up(), "other.test.": other] }
}

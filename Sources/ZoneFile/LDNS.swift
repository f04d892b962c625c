import CLDNS
import DNSWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, owning helpers over the ldns C API. Everything that touches an ldns pointer lives in this
/// module; nothing here escapes it except plain Swift values.
enum LDNS {
    typealias RR = UnsafeMutablePointer<ldns_rr>
    typealias RDF = UnsafeMutablePointer<ldns_rdf>

    /// ldns's own text for a status (`ldns_get_errorstr_by_id`).
    static func errorString(_ status: ldns_status) -> String {
        guard let c = ldns_get_errorstr_by_id(status) else { return "ldns status \(status.rawValue)" }
        return String(cString: c)
    }

    /// The bytes of an rdf.
    static func bytes(_ rdf: RDF) -> [UInt8] {
        let size = ldns_rdf_size(rdf)
        guard size > 0, let data = ldns_rdf_data(rdf) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// A dname rdf as a `DNSName`, or nil when it is relative (no root label) or malformed.
    static func name(_ rdf: RDF) -> DNSName? {
        let wire = bytes(rdf)
        do { return try DNSName(wire: wire) } catch { return nil }
    }

    /// A new dname rdf holding `name` (the caller frees it with `ldns_rdf_deep_free`).
    static func rdf(_ name: DNSName) -> RDF? {
        name.wire.withUnsafeBytes { buf in
            ldns_dname_new_frm_data(UInt16(buf.count), buf.baseAddress)
        }
    }

    /// Parses one presentation-format name with ldns; nil when ldns refuses it.
    static func parseName(_ text: String) -> (rdf: RDF, absolute: Bool)? {
        guard let rdf = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_DNAME, text) else { return nil }
        let absolute = ldns_dname_str_absolute(text) != 0
        return (rdf, absolute)
    }

    /// Why an ldns record cannot become a `ResourceRecord`.
    enum ConversionProblem: Error {
        case relativeOwner
        case relativeNameInRData(field: Int)
        case rdataTooLong
    }

    /// Converts rdf by rdf: the owner's wire bytes, then the concatenated RDATA fields (which is how
    /// ldns itself writes uncompressed wire). The class is not checked here.
    static func record(_ rr: RR) throws(ConversionProblem) -> ResourceRecord {
        guard let ownerRDF = ldns_rr_owner(rr), let owner = name(ownerRDF) else { throw .relativeOwner }
        var rdata: [UInt8] = []
        for i in 0..<ldns_rr_rd_count(rr) {
            guard let field = ldns_rr_rdf(rr, i) else { continue }
            let b = bytes(field)
            if ldns_rdf_get_type(field) == LDNS_RDF_TYPE_DNAME {
                guard name(field) != nil else { throw .relativeNameInRData(field: i) }
            }
            rdata += b
        }
        guard rdata.count <= 65535 else { throw .rdataTooLong }
        return ResourceRecord(
            owner: owner,
            type: RRType(UInt16(ldns_rr_get_type(rr).rawValue)),
            rrClass: RRClass(UInt16(ldns_rr_get_class(rr).rawValue)),
            ttl: ldns_rr_ttl(rr),
            rdata: rdata
        )
    }

    /// An ldns rr built from our wire form (owner, type, class, TTL, RDATA), for ldns's printer.
    static func rr(from record: ResourceRecord) -> RR? {
        var wire = record.owner.wire
        wire.appendU16(record.type.rawValue)
        wire.appendU16(record.rrClass.rawValue)
        wire.appendU32(record.ttl)
        wire.appendU16(UInt16(record.rdata.count))
        wire += record.rdata
        var out: RR?
        var pos = 0
        let status = wire.withUnsafeBufferPointer { buf in
            ldns_wire2rr(&out, buf.baseAddress, buf.count, &pos, LDNS_SECTION_ANSWER)
        }
        guard status == LDNS_STATUS_OK, pos == wire.count else {
            if let out { ldns_rr_free(out) }
            return nil
        }
        return out
    }

    /// `ldns_rr2str` without the trailing newline.
    static func string(_ rr: RR) -> String? {
        guard let c = ldns_rr2str(rr) else { return nil }
        defer { free(c) }
        var s = String(cString: c)
        while s.last == "\n" { s.removeLast() }
        return s
    }

    /// ldns's RR type number for a mnemonic, or nil when it has none (`ldns_get_rr_type_by_name`
    /// returns 0 for unknown names).
    static func typeCode(_ mnemonic: String) -> UInt16? {
        let t = ldns_get_rr_type_by_name(mnemonic).rawValue
        return t == 0 ? nil : UInt16(t)
    }
}

/// Presentation-format helpers for tests in this package: they let the test suite compare the
/// DNSWire codec with ldns without importing the C module.
package enum LDNSPresentation {
    /// Parses one RR line with ldns (relative names against `origin`) and returns our record and
    /// ldns's own rendering of it (`ldns_rr2str`, one line, tab separated).
    package static func parse(_ line: String, origin: DNSName, defaultTTL: UInt32 = 3600) -> (record: ResourceRecord, ldnsText: String)? {
        guard let originRDF = LDNS.rdf(origin) else { return nil }
        defer { ldns_rdf_deep_free(originRDF) }
        var rr: LDNS.RR?
        let status = ldns_rr_new_frm_str(&rr, line, defaultTTL, originRDF, nil)
        guard status == LDNS_STATUS_OK, let rr else { return nil }
        defer { ldns_rr_free(rr) }
        guard let text = LDNS.string(rr) else { return nil }
        do {
            return (try LDNS.record(rr), text)
        } catch {
            return nil  // a relative name: the caller passed an origin, so this cannot happen
        }
    }

    /// ldns's rendering (`ldns_rr2str`) of one of our records, built from its wire form.
    package static func render(_ record: ResourceRecord) -> String? {
        guard let rr = LDNS.rr(from: record) else { return nil }
        defer { ldns_rr_free(rr) }
        return LDNS.string(rr)
    }

    /// ldns's status text for a line it refuses, or nil when it parses.
    package static func error(_ line: String, origin: DNSName) -> String? {
        guard let originRDF = LDNS.rdf(origin) else { return "bad origin" }
        defer { ldns_rdf_deep_free(originRDF) }
        var rr: LDNS.RR?
        let status = ldns_rr_new_frm_str(&rr, line, 3600, originRDF, nil)
        if let rr { ldns_rr_free(rr) }
        return status == LDNS_STATUS_OK ? nil : LDNS.errorString(status)
    }
}

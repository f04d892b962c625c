import CLDNS

/// Finds the token ldns choked on, for error messages. ldns only returns a status, so this re-reads
/// the entry: owner, optional TTL and class, type, then the RDATA fields, and tries each
/// single-token field with `ldns_rdf_new_frm_str` until one fails.
enum OffendingToken {
    /// The token at fault, and whether it stands where the type should be and is no type at all.
    static func find(status: ldns_status, tokens: [String], hasOwner: Bool) -> (token: String, unknownType: Bool)? {
        guard let (token, isType) = locate(status: status, tokens: tokens, hasOwner: hasOwner) else { return nil }
        return (token, isType && isUnknownType(token))
    }

    private static func locate(status: ldns_status, tokens: [String], hasOwner: Bool) -> (String, Bool)? {
        func field(_ t: String?) -> (String, Bool)? { t.map { ($0, false) } }
        var i = 0
        let owner: String? = hasOwner && !tokens.isEmpty ? tokens[0] : nil
        if hasOwner { i = 1 }
        var ttlOrClass: [String] = []
        while i < tokens.count && ttlOrClass.count < 2 && (isTTLLike(tokens[i]) || isClass(tokens[i])) {
            ttlOrClass.append(tokens[i])
            i += 1
        }
        let typeToken = i < tokens.count ? tokens[i] : nil
        let rdata = i + 1 < tokens.count ? Array(tokens[(i + 1)...]) : []

        if let typeToken, isUnknownType(typeToken) {
            return (typeToken, true)  // ldns reports an unknown mnemonic in several ways
        }
        switch status {
        case LDNS_STATUS_SYNTAX_SUPERFLUOUS_TEXT_ERR:
            guard let typeToken, let code = LDNS.typeCode(typeToken), let descriptor = ldns_rr_descript(code) else { return nil }
            let maximum = ldns_rr_descriptor_maximum(descriptor)
            guard maximum < rdata.count, rdata.prefix(maximum).allSatisfy({ !$0.hasPrefix("\"") }) else { return nil }
            return (rdata[maximum], false)
        case LDNS_STATUS_SYNTAX_TYPE_ERR:
            return typeToken.map { ($0, true) }
        case LDNS_STATUS_SYNTAX_TTL_ERR:
            return field(ttlOrClass.first(where: isTTLLike) ?? typeToken)
        case LDNS_STATUS_SYNTAX_CLASS_ERR:
            return field(ttlOrClass.first(where: isClass) ?? typeToken)
        case LDNS_STATUS_SYNTAX_DNAME_ERR, LDNS_STATUS_DOMAINNAME_OVERFLOW, LDNS_STATUS_LABEL_OVERFLOW:
            if let owner, owner != "@", !parses(LDNS_RDF_TYPE_DNAME, owner) { return (owner, false) }
            return field(firstBadField(typeToken: typeToken, rdata: rdata))
        default:
            return field(firstBadField(typeToken: typeToken, rdata: rdata))
        }
    }

    private static func firstBadField(typeToken: String?, rdata: [String]) -> String? {
        guard let typeToken, let code = LDNS.typeCode(typeToken), rdata.first != "\\#",
              let descriptor = ldns_rr_descript(code) else { return nil }
        let maximum = ldns_rr_descriptor_maximum(descriptor)
        for (index, token) in rdata.enumerated() where index < maximum {
            let fieldType = ldns_rr_descriptor_field_type(descriptor, index)
            guard singleToken.contains(fieldType) else { return nil }
            if fieldType == LDNS_RDF_TYPE_DNAME && token == "@" { continue }
            if !parses(fieldType, token) { return token }
        }
        return nil
    }

    /// Field types that are always one token, so token N is field N.
    private static let singleToken: [ldns_rdf_type] = [
        LDNS_RDF_TYPE_DNAME, LDNS_RDF_TYPE_INT8, LDNS_RDF_TYPE_INT16, LDNS_RDF_TYPE_INT32,
        LDNS_RDF_TYPE_A, LDNS_RDF_TYPE_AAAA, LDNS_RDF_TYPE_PERIOD, LDNS_RDF_TYPE_TIME,
        LDNS_RDF_TYPE_TYPE, LDNS_RDF_TYPE_CLASS, LDNS_RDF_TYPE_ALG, LDNS_RDF_TYPE_CERT_ALG,
        LDNS_RDF_TYPE_CERTIFICATE_USAGE, LDNS_RDF_TYPE_SELECTOR, LDNS_RDF_TYPE_MATCHING_TYPE,
        LDNS_RDF_TYPE_TAG,
    ]

    private static func parses(_ type: ldns_rdf_type, _ token: String) -> Bool {
        guard let rdf = ldns_rdf_new_frm_str(type, token) else { return false }
        ldns_rdf_deep_free(rdf)
        return true
    }

    /// A TTL written as plain digits beyond 2^31-1 (RFC 2181 §8), which ldns silently wraps.
    static func oversizedTTL(tokens: [String], hasOwner: Bool) -> String? {
        var i = hasOwner ? 1 : 0
        var seen = 0
        while i < tokens.count && seen < 2 && (isTTLLike(tokens[i]) || isClass(tokens[i])) {
            let t = tokens[i]
            if t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                let value = t.utf8.reduce(UInt64(0)) { acc, d in min(acc * 10 + UInt64(d - 0x30), UInt64(UInt32.max) + 1) }
                if value > UInt64(Int32.max) { return t }
            }
            seen += 1
            i += 1
        }
        return nil
    }

    /// Neither a mnemonic ldns knows nor `TYPEnnn`.
    static func isUnknownType(_ token: String) -> Bool {
        LDNS.typeCode(token) == nil && !token.uppercased().hasPrefix("TYPE")
    }

    private static func isTTLLike(_ s: String) -> Bool {
        guard let f = s.utf8.first else { return false }
        return f >= 0x30 && f <= 0x39
    }

    private static func isClass(_ s: String) -> Bool {
        let u = s.uppercased()
        return ["IN", "CH", "CS", "HS", "NONE", "ANY"].contains(u) || u.hasPrefix("CLASS")
    }
}

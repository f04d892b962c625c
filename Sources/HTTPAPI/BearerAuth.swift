/// Bearer-token checks for writes.
enum BearerAuth {
    /// The name of the configured token that `authorization` (`Bearer <secret>`) presents, or nil.
    /// Every configured secret is compared in full and in constant time (no early exit on the first
    /// differing byte or on a match), so timing does not reveal a secret's prefix.
    static func tokenName(authorization: String?, tokens: [String: String]) -> String? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        // RFC 6750 §2.1: "Bearer" 1*SP b64token: any number of spaces before the token.
        let presented = Array(parts[1].drop { $0 == " " }.utf8)
        var match: String?
        for (name, secret) in tokens.sorted(by: { $0.key < $1.key }) {
            if constantTimeEquals(presented, Array(secret.utf8)) && match == nil && !secret.isEmpty {
                match = name
            }
        }
        return match
    }

    /// Compares every byte of the longer input; lengths differ → false, in the same time.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let n = max(a.count, b.count)
        var diff: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0
    }
}

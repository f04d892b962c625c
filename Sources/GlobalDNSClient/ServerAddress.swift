/// Where the GlobalDNS API listens, parsed from `--server` (`http://127.0.0.1:8080`).
///
/// Only plain `http` is spoken: the API is meant for loopback or a private network (a TLS
/// terminator in front of it is out of scope for this client). A path after the authority is a
/// prefix put before every request path, for a server mounted behind a reverse proxy.
public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Empty, or starts with `/` and has no trailing `/`.
    public var pathPrefix: String

    public init(host: String, port: Int, pathPrefix: String = "") {
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
    }

    /// Parses `http://HOST[:PORT][/PREFIX]`; IPv6 literals are bracketed (`http://[::1]:8080`).
    public init(parsing url: String) throws(ClientError) {
        guard url.hasPrefix("http://") else {
            if url.hasPrefix("https://") {
                throw ClientError(.invalidServerURL, "\(url): https is not supported; the API speaks plain http (put a TLS terminator in front of it)")
            }
            throw ClientError(.invalidServerURL, "\(url): the server URL must start with http://")
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var prefix = String(rest.dropFirst(authority.count))
        while prefix.hasSuffix("/") { prefix.removeLast() }

        var hostPart = Substring(authority)
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw ClientError(.invalidServerURL, "\(url): unterminated [ in an IPv6 address")
            }
            let afterClose = hostPart[hostPart.index(after: close)...]
            if afterClose.hasPrefix(":") { portPart = afterClose.dropFirst() } else if !afterClose.isEmpty {
                throw ClientError(.invalidServerURL, "\(url): unexpected \"\(afterClose)\" after the IPv6 address")
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw ClientError(.invalidServerURL, "\(url): no host") }
        var port = 80
        if let portPart {
            guard let p = Int(portPart), (1...65_535).contains(p) else {
                throw ClientError(.invalidServerURL, "\(url): \"\(portPart)\" is not a port number")
            }
            port = p
        }
        self.init(host: String(hostPart), port: port, pathPrefix: prefix)
    }

    /// The `Host` header value.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }

    public var description: String { "http://\(hostHeader)\(pathPrefix)" }
}

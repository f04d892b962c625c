import NIOCore

extension SocketAddress {
    /// `127.0.0.1:5353` or `[::1]:5353`: how error messages name a server.
    var hostAndPort: String {
        switch self {
        case .v4: "\(ipAddress ?? "?"):\(port ?? 0)"
        case .v6: "[\(ipAddress ?? "?")]:\(port ?? 0)"
        case .unixDomainSocket: "\(self)"
        }
    }
}

extension Duration {
    /// `300 ms`, `2 s`, `1.5 s`: for messages.
    var shortDescription: String {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if ms < 1000 { return "\(ms) ms" }
        if ms % 1000 == 0 { return "\(ms / 1000) s" }
        return "\(ms / 1000).\((ms % 1000) / 100) s"
    }
}

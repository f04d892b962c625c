import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 response as read off the socket.
struct HTTPResponse {
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: String
}

/// Whether a TCP connect to 127.0.0.1:`port` succeeds (the connection is closed at once).
func loopbackAccepts(port: Int) -> Bool {
    let fd = socket(AF_INET, sockStream, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let rc = try? LoopbackAddress(family: AF_INET, port: UInt16(port)).withSockaddr { connect(fd, $0, $1) }
    return rc == 0
}

/// One blocking HTTP/1.1 request to 127.0.0.1:`port` (`Connection: close`, 10 s receive timeout),
/// read to the end. Chunked bodies are decoded.
func httpRequest(port: Int, method: String, path: String, headers: [String: String] = [:],
                 body: [UInt8] = []) throws -> HTTPResponse {
    let fd = socket(AF_INET, sockStream, 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    defer { close(fd) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let rc = try LoopbackAddress(family: AF_INET, port: UInt16(port)).withSockaddr { connect(fd, $0, $1) }
    guard rc == 0 else { throw HarnessError("connect to API failed: errno \(errno)") }
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    var request = Array((head + "\r\n").utf8) + body
    guard send(fd, &request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { throw HarnessError("send failed") }
    var raw: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buf, buf.count, 0)
        if n <= 0 { break }
        raw += buf[0..<n]
    }
    let crlf: [UInt8] = [13, 10]
    func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard raw.count >= needle.count else { return nil }
        var i = start
        while i + needle.count <= raw.count {
            if Array(raw[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }
    guard let headerEnd = find(crlf + crlf, from: 0) else {
        throw HarnessError("no HTTP header in \(String(decoding: raw.prefix(200), as: UTF8.self))")
    }
    let lines = String(decoding: raw[..<headerEnd], as: UTF8.self).components(separatedBy: "\r\n")
    guard let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") else {
        throw HarnessError("bad status line \(lines.first ?? "")")
    }
    var fields: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    var payload = Array(raw[(headerEnd + 4)...])
    if fields["transfer-encoding"]?.lowercased() == "chunked" {
        var out: [UInt8] = []
        var i = headerEnd + 4
        while let eol = find(crlf, from: i), let size = Int(String(decoding: raw[i..<eol], as: UTF8.self), radix: 16),
              size > 0, eol + 2 + size <= raw.count {
            out += raw[(eol + 2)..<(eol + 2 + size)]
            i = eol + 2 + size + 2
        }
        payload = out
    }
    return HTTPResponse(status: status, headers: fields, body: String(decoding: payload, as: UTF8.self))
}

/// The same with a text body; the status code and the whole response body.
func httpCall(port: Int, method: String, path: String, body: String = "",
              contentType: String = "application/yaml") throws -> (status: Int, body: String) {
    let r = try httpRequest(port: port, method: method, path: path, headers: ["Content-Type": contentType],
                            body: Array(body.utf8))
    return (r.status, r.body)
}

/// PUT a YAML body; returns the status code.
func httpPut(port: Int, path: String, yaml: String) throws -> Int {
    try httpCall(port: port, method: "PUT", path: path, body: yaml).status
}

/// Sends one UDP datagram to 127.0.0.1:`port` and waits up to `timeout` for one back (nil: none).
func udpExchange(port: UInt16, _ datagram: [UInt8], timeout: Duration = .seconds(1)) throws -> [UInt8]? {
    let fd = socket(AF_INET, sockDgram, 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    defer { close(fd) }
    let rc = try LoopbackAddress(family: AF_INET, port: port).withSockaddr { connect(fd, $0, $1) }
    guard rc == 0 else { throw HarnessError("connect (UDP) failed: errno \(errno)") }
    var bytes = datagram
    guard send(fd, &bytes, bytes.count, 0) == bytes.count else { throw HarnessError("send failed") }
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    guard poll(&pfd, 1, ms) == 1 else { return nil }
    var buf = [UInt8](repeating: 0, count: 65535)
    let n = recv(fd, &buf, buf.count, 0)
    return n > 0 ? Array(buf[0..<n]) : nil
}

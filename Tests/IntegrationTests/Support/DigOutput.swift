import Foundation

/// One resource record as `dig` / `kdig` print it: `name ttl class type rdata…`.
struct PrintedRecord: Hashable, CustomStringConvertible {
    var name: String
    var ttl: UInt32
    var rrClass: String
    var type: String
    var rdata: String

    /// Parses `www.g.example.com.  3600  IN  A  192.0.2.1`; nil for anything else.
    init?(line: String) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count >= 4, let ttl = UInt32(fields[1]) else { return nil }
        name = fields[0]
        self.ttl = ttl
        rrClass = fields[2].uppercased()
        type = fields[3].uppercased()
        rdata = fields.dropFirst(4).joined(separator: " ")
    }

    init(name: String, ttl: UInt32, rrClass: String = "IN", type: String, rdata: String) {
        self.name = name
        self.ttl = ttl
        self.rrClass = rrClass
        self.type = type
        self.rdata = rdata
    }

    /// Names compare case-insensitively (RFC 4343); TXT data does not.
    var normalized: PrintedRecord {
        var copy = self
        copy.name = name.lowercased()
        if !["TXT", "SPF"].contains(type) { copy.rdata = rdata.lowercased() }
        return copy
    }

    var description: String { "\(name) \(ttl) \(rrClass) \(type) \(rdata)" }
}

/// One DNS message as printed by `dig` or `kdig` (both formats are understood), parsed from the
/// header, flags, OPT pseudo-section and the four sections. Lines it does not know are ignored.
struct DigMessage: CustomStringConvertible {
    var opcode = ""
    var status = ""
    var id: UInt16 = 0
    var flags: Set<String> = []
    /// Present when the response carried an OPT record.
    var edns: EDNS?
    var question: [String] = []
    var answer: [PrintedRecord] = []
    var authority: [PrintedRecord] = []
    var additional: [PrintedRecord] = []
    /// Every line that belonged to this message, for failure messages.
    var rawLines: [String] = []

    struct EDNS: Equatable {
        var version: Int?
        var flags: Set<String> = []
        var udpSize: Int?
        var nsid: String?
        var clientSubnet: String?
        var ede: String?
    }

    var aa: Bool { flags.contains("aa") }
    var tc: Bool { flags.contains("tc") }

    var description: String { rawLines.joined(separator: "\n") }

    func records(_ section: Section) -> [PrintedRecord] {
        switch section {
        case .answer: answer
        case .authority: authority
        case .additional: additional
        }
    }

    enum Section: String, CaseIterable { case answer, authority, additional }
}

/// The whole output of one dig/kdig run: its messages in order plus dig's own notes
/// (";; Truncated, retrying in TCP mode.", ";; BADVERS, retrying…", errors).
struct DigOutput: CustomStringConvertible {
    var messages: [DigMessage]
    var notes: [String]
    var text: String

    var description: String { text }

    /// The only (or last) message; throws when the client printed none (timeout, refused...).
    func message() throws -> DigMessage {
        guard let last = messages.last else {
            throw HarnessError("no DNS message in the client's output:\n\(text)")
        }
        return last
    }

    init(parsing text: String) {
        self.text = text
        var messages: [DigMessage] = []
        var notes: [String] = []
        var current: DigMessage?
        var section: String?

        func finish() {
            if let message = current { messages.append(message) }
            current = nil
            section = nil
        }

        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.contains("->>HEADER<<-") {
                finish()
                current = DigMessage()
                current?.rawLines.append(rawLine)
                Self.parseHeader(line, into: &current!)
                continue
            }
            guard current != nil else {
                if line.hasPrefix(";;"), !line.hasPrefix(";; global options"), !line.hasPrefix(";; Got answer") {
                    notes.append(line)
                }
                continue
            }
            current!.rawLines.append(rawLine)
            if line.isEmpty { continue }
            let lower = line.lowercased()
            if lower.hasPrefix(";; flags:") {
                Self.parseFlags(line, into: &current!)
            } else if lower.hasSuffix("section:") && line.hasPrefix(";;") {
                // ";; ANSWER SECTION:", ";; OPT PSEUDOSECTION:", ";; EDNS PSEUDOSECTION:"
                section = lower.replacingOccurrences(of: ";;", with: "").trimmingCharacters(in: .whitespaces)
                if section!.contains("pseudosection"), current!.edns == nil { current!.edns = DigMessage.EDNS() }
            } else if let s = section, s.contains("pseudosection") {
                Self.parseOPT(line, into: &current!.edns!)
            } else if section == "question section:" {
                // dig: ";www.example. IN A"; kdig: ";; www.example. IN A"
                var q = line
                while q.hasPrefix(";") { q.removeFirst() }
                current!.question.append(q.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " "))
            } else if line.hasPrefix(";") {
                // ";; Query time", ";; Received 103 B", ";; MSG SIZE": end of the message body
                if lower.hasPrefix(";; query time") || lower.hasPrefix(";; received") || lower.hasPrefix(";; msg size") {
                    section = nil
                }
                if lower.contains("truncated") || lower.contains("retrying") || lower.contains("error") || lower.contains("warning") {
                    notes.append(line)
                }
            } else if let record = PrintedRecord(line: line) {
                switch section {
                case "answer section:": current!.answer.append(record)
                case "authority section:": current!.authority.append(record)
                case "additional section:": current!.additional.append(record)
                default: break
                }
            }
        }
        finish()
        self.messages = messages
        self.notes = notes
    }

    /// dig:  ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 62211"
    /// kdig: ";; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 41016"
    private static func parseHeader(_ line: String, into message: inout DigMessage) {
        for part in line.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let kv = part.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { continue }
            switch kv[0].lowercased() {
            case let k where k.hasSuffix("opcode"): message.opcode = kv[1].uppercased()
            case "status": message.status = kv[1].uppercased()
            case "id": message.id = UInt16(kv[1]) ?? 0
            default: break
            }
        }
    }

    /// dig: ";; flags: qr aa rd; QUERY: 1, …"; kdig: ";; Flags: qr aa rd; QUERY: 1; …"
    private static func parseFlags(_ line: String, into message: inout DigMessage) {
        guard let colon = line.firstIndex(of: ":") else { return }
        let rest = line[line.index(after: colon)...]
        let flagText = rest.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        message.flags = Set(flagText.split(separator: " ").map { $0.lowercased() })
    }

    /// dig:  "; EDNS: version: 0, flags: do; udp: 1232", "; NSID: 74 65 … ("test")",
    ///       "; CLIENT-SUBNET: 10.1.2.0/24/0", "; EDE: 20 (Not Authoritative)"
    /// kdig: ";; Version: 0; flags: do; UDP size: 1232 B; ext-rcode: NOERROR",
    ///       ";; NSID: 74657374 \"test\"", ";; CLIENT-SUBNET: 10.1.2.0/24/0", ";; EDE: 20 (…)"
    private static func parseOPT(_ line: String, into edns: inout DigMessage.EDNS) {
        var body = line
        while body.hasPrefix(";") { body.removeFirst() }
        body = body.trimmingCharacters(in: .whitespaces)
        let lower = body.lowercased()
        if lower.hasPrefix("edns:") || lower.hasPrefix("version:") {
            if lower.hasPrefix("edns:") { body = String(body.dropFirst(5)) }
            for part in body.split(whereSeparator: { $0 == "," || $0 == ";" }) {
                let kv = part.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count >= 1 else { continue }
                let key = kv[0].lowercased()
                let value = kv.count == 2 ? kv[1] : ""
                switch key {
                case "version": edns.version = Int(value)
                case "flags": edns.flags = Set(value.split(separator: " ").map { $0.lowercased() })
                case "udp", "udp size": edns.udpSize = Int(value.split(separator: " ").first ?? "")
                default: break
                }
            }
        } else if lower.hasPrefix("nsid:") {
            // the printable form is the quoted part; fall back to the hex
            if let open = body.firstIndex(of: "\""), let close = body.lastIndex(of: "\""), open < close {
                edns.nsid = String(body[body.index(after: open)..<close])
            } else {
                edns.nsid = String(body.dropFirst(5)).trimmingCharacters(in: .whitespaces)
            }
        } else if lower.hasPrefix("client-subnet:") {
            edns.clientSubnet = String(body.dropFirst("client-subnet:".count)).trimmingCharacters(in: .whitespaces)
        } else if lower.hasPrefix("ede:") {
            edns.ede = String(body.dropFirst(4)).trimmingCharacters(in: .whitespaces)
        }
    }
}

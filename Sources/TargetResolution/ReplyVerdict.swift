import DNSWire

/// What one reply (a UDP datagram or a TCP frame) means for the query that sent `question` with `id`.
///
/// A reply is accepted only when its ID matches, QR is set, the opcode is QUERY and the question is
/// echoed exactly once (name compared case-insensitively, type and class equal). A reply with a
/// different ID is not ours (a late or forged datagram): it is ignored and the query keeps waiting.
/// Anything else carrying our ID — undecodable, not a response, a different question — is malformed.
enum ReplyVerdict {
    case accepted(DNSMessage)
    case ignored(reason: String)
    case malformed(reason: String)

    static func judge(_ bytes: [UInt8], id: UInt16, question: DNSQuestion) -> ReplyVerdict {
        guard bytes.count >= 12 else { return .ignored(reason: "\(bytes.count)-byte datagram, shorter than a header") }
        let replyID = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard replyID == id else { return .ignored(reason: "ID \(replyID), expected \(id)") }
        let message: DNSMessage
        do {
            message = try DNSMessage(decoding: bytes)
        } catch {
            return .malformed(reason: "does not decode (\(error))")
        }
        guard message.header.qr else { return .malformed(reason: "QR is not set") }
        guard message.header.opcode == .query else {
            return .malformed(reason: "opcode \(message.header.opcode.rawValue), expected QUERY")
        }
        guard message.questions.count == 1, message.questions[0] == question else {
            let echoed = message.questions.map { "\($0.name) \($0.qclass) \($0.type)" }.joined(separator: ", ")
            return .malformed(reason: "question not echoed (got [\(echoed)])")
        }
        return .accepted(message)
    }
}

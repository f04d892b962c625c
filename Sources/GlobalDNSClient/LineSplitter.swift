import NIOCore

/// Cuts a byte stream into `\n`-terminated lines, whatever the chunk boundaries: the framing of a
/// newline-delimited JSON watch stream. A trailing `\r` is dropped and empty lines are skipped
/// (servers may send them as keep-alives).
public struct LineSplitter: Sendable {
    private var pending = ByteBuffer()

    public init() {}

    /// Appends `chunk` and returns every line it completed, in order.
    public mutating func append(_ chunk: ByteBuffer) -> [String] {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        var lines: [String] = []
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            var line = pending.readString(length: length) ?? ""
            pending.moveReaderIndex(forwardBy: 1)
            if line.hasSuffix("\r") { line.removeLast() }
            if !line.isEmpty { lines.append(line) }
        }
        pending.discardReadBytes()
        return lines
    }

    /// The unterminated rest at the end of the stream, if any.
    public mutating func finish() -> String? {
        guard pending.readableBytes > 0, let line = pending.readString(length: pending.readableBytes) else { return nil }
        let trimmed = line.hasSuffix("\r") ? String(line.dropLast()) : line
        return trimmed.isEmpty ? nil : trimmed
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where output goes: results on stdout, errors on stderr. Written straight to the file descriptor
/// (no stdio buffer), so a watch piped into another program shows each event as it happens and
/// nothing is lost when the process exits.
enum Terminal {
    static func print(_ text: String) { write(text + "\n", to: 1) }

    static func error(_ text: String) { write(text + "\n", to: 2) }

    private static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { raw in
                #if canImport(Glibc)
                Glibc.write(fd, raw.baseAddress, raw.count)
                #else
                Darwin.write(fd, raw.baseAddress, raw.count)
                #endif
            }
            if n < 0 {
                if errno == EINTR { continue }
                return  // the reader went away; nothing useful left to do with the text
            }
            bytes = bytes.dropFirst(n)
        }
    }
}

import Glibc

/// Buffered writes to stdout with write(2). A closed pipe (`| head`) ends the
/// output quietly instead of crashing on SIGPIPE.
public final class StandardOutput {
    private var failed = false

    public init() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Writes all of `bytes`, retrying short writes and EINTR.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Writes all of `buffer` (a piece lent by a streaming writer), retrying short
    /// writes and EINTR.
    public func write(_ buffer: UnsafeRawBufferPointer) {
        guard !failed, let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(1, base + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failed = true
                return
            }
            offset += n
        }
    }
}

/// One-line messages to stderr.
public enum StandardError {
    public static func line(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    /// Without leading and trailing whitespace (a line of a --config file or a /proc file).
    public func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

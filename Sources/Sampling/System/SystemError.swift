import Glibc

/// A failed system call: which call, on what, and errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    /// The call that failed (`open`, `readlinkat`, `recvmsg`, ...).
    public let call: String
    /// What it was called on (a path, or a description of the socket).
    public let subject: String
    /// The errno it returned.
    public let errno: Int32

    /// A failure of `call` on `subject` with `errno`.
    public init(call: String, subject: String, errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        "\(call)(\(subject)) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Runs a system call, retrying while it is interrupted by a signal (EINTR), and
/// throws a `SystemError` naming the call when it fails.
@inline(__always)
func retryingEINTR<T: BinaryInteger>(
    _ call: @autoclosure () -> String, _ subject: @autoclosure () -> String, _ body: () -> T
) throws -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(call: call(), subject: subject(), errno: code)
    }
}

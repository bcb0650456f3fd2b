import Glibc
import Synchronization

/// A one-way stop signal a blocked thread can wait on next to its socket: a pipe
/// whose read end becomes readable, and stays so, once `cancel()` is called. The
/// client polls it beside the connection, so a request in flight (connecting,
/// sending, waiting for the answer) ends at once instead of at its timeout, and
/// `sleep` is a pause that `cancel()` cuts short.
public final class Cancellation: Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32
    private let cancelled = Atomic<Bool>(false)

    /// A signal not yet given. Throws naming pipe's error.
    public init() throws {
        var ends: [Int32] = [-1, -1]
        // pipe2 is a GNU extension Glibc's Swift module does not declare: pipe, then fcntl.
        guard pipe(&ends) == 0 else {
            throw HTTPClientError(operation: "pipe for a cancellation signal", errno: errno)
        }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Gives the signal: every wait on it returns now and from now on.
    public func cancel() {
        guard !cancelled.exchange(true, ordering: .sequentiallyConsistent) else { return }
        var byte: UInt8 = 1
        _ = retryingEINTR { write(writeEnd, &byte, 1) }
    }

    /// Whether the signal has been given.
    public var isCancelled: Bool { cancelled.load(ordering: .sequentiallyConsistent) }

    /// Waits `seconds` or until the signal; true when the signal cut it short.
    @discardableResult
    public func sleep(seconds: Double) -> Bool {
        let deadline = monotonicNow() + max(0, seconds)
        while true {
            if isCancelled { return true }
            let left = deadline - monotonicNow()
            if left <= 0 { return false }
            var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if ready > 0 { return true }
        }
    }

    /// The descriptor that becomes readable on cancel, for a poll(2) set.
    var descriptor: Int32 { readEnd }
}

/// Seconds on CLOCK_MONOTONIC.
func monotonicNow() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

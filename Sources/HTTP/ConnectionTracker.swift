internal import CHttp
import Glibc
import Synchronization

/// The connection table behind a lock, the server's counters, and the one place that
/// shuts connections down. The accept thread admits and expires connections;
/// libmicrohttpd's threads report requests starting and ending and sockets closing.
///
/// A socket is only ever shut down while its entry is in the table and the lock is
/// held. libmicrohttpd reports a close (`closed(_:)`, which takes the lock) before it
/// closes the socket, so the number still names the connection being shut down and
/// never a socket that has since reused it.
final class ConnectionTracker: Sendable {
    private struct State {
        var table: ConnectionTable
        var statistics = HTTPServerStatistics()
    }

    /// The limits enforced.
    let limits: ConnectionTable.Limits
    // The standard library's Mutex: the HTTP module does not depend on Sampling's Lock.
    private let state: Mutex<State>

    /// A tracker enforcing `limits`.
    init(limits: ConnectionTable.Limits) {
        self.limits = limits
        state = Mutex(State(table: ConnectionTable(limits: limits)))
    }

    /// Takes in socket `fd` from `client`, shutting down the connections evicted to
    /// make room. False when it is refused: the caller still owns `fd` and closes it.
    func admit(_ fd: Int32, client: String, at now: ContinuousClock.Instant) -> Bool {
        let identity = Self.identity(of: fd) ?? 0
        return state.withLock { state in
            state.statistics.accepted += 1
            switch state.table.admit(fd, client: client, identity: identity, at: now) {
            case .refused:
                state.statistics.refused += 1
                return false
            case .admitted(let victims):
                state.statistics.evicted += Self.shutDown(victims, in: &state.table)
                return true
            }
        }
    }

    /// libmicrohttpd did not take socket `fd` (and has closed it).
    func handOverFailed(_ fd: Int32) {
        state.withLock { state in
            state.table.remove(fd)
            state.statistics.refused += 1
        }
    }

    /// Shuts down every connection past its header deadline at `now`; returns when the
    /// next deadline falls, or nil if no connection is waiting.
    func expire(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        state.withLock { state in
            let expired = state.table.expire(at: now, serverBehind: Self.hasUnreadBytes)
            state.statistics.expired += Self.shutDown(expired, in: &state.table)
            return state.table.nextDeadline
        }
    }

    /// True when bytes wait unread in `fd`'s receive queue (FIONREAD), so libmicrohttpd,
    /// not the client, is behind.
    static func hasUnreadBytes(_ fd: Int32) -> Bool {
        var pending: Int32 = 0
        return ioctl(fd, UInt(FIONREAD), &pending) == 0 && pending > 0
    }

    /// Connection `fd` has delivered a request's headers.
    func headersComplete(_ fd: Int32) {
        state.withLock { $0.table.headersComplete(fd) }
    }

    /// Connection `fd` is being answered.
    func answering(_ fd: Int32) {
        state.withLock { $0.table.answering(fd) }
    }

    /// Connection `fd` has sent its response and waits for another request.
    func waiting(_ fd: Int32) {
        let now = ContinuousClock.now
        state.withLock { $0.table.waiting(fd, since: now) }
    }

    /// libmicrohttpd is about to close connection `fd`.
    func closed(_ fd: Int32) {
        state.withLock { $0.table.remove(fd) }
    }

    /// Forgets every connection (libmicrohttpd has stopped and closed them all).
    func removeAll() {
        state.withLock { state in
            state.table = ConnectionTable(limits: limits)
        }
    }

    /// The counters, and the connections open now.
    func statistics() -> HTTPServerStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.open = state.table.entries.count
            return statistics
        }
    }

    /// Shuts down `fds` (already marked closing in `table`) so that libmicrohttpd sees
    /// them end and closes and frees them itself; returns how many were. A number whose
    /// socket is no longer the one admitted is only forgotten.
    private static func shutDown(_ fds: [Int32], in table: inout ConnectionTable) -> Int {
        var count = 0
        for fd in fds {
            guard let entry = table.entries[fd], identity(of: fd) == entry.identity else {
                table.remove(fd)
                continue
            }
            shutdown(fd, Int32(SHUT_RDWR))
            count += 1
        }
        return count
    }

    /// The inode number of socket `fd`, or nil if `fd` is not an open socket.
    private static func identity(of fd: Int32) -> UInt64? {
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return UInt64(status.st_ino)
    }
}

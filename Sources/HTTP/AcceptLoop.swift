internal import CHttp
import Glibc
import Synchronization

/// The thread that accepts connections on the server's own listening socket, admits
/// them through the `ConnectionTracker` and hands them to libmicrohttpd; between
/// accepts it shuts down connections past their header deadline.
///
/// Why accept here rather than let libmicrohttpd: at its connection limits (total and
/// per IP) libmicrohttpd refuses the newcomer, so connections that never finish a
/// request lock everyone else out; its one timeout is an idle timeout that every byte
/// resets; and its accept-policy callback runs after that limit check and never sees
/// the socket, so it cannot close another connection instead. Here every newcomer is
/// admitted by closing the connection that has waited longest without a complete
/// request, and the deadline is checked on the same thread, so no timer thread is
/// needed. libmicrohttpd (MHD_USE_NO_LISTEN_SOCKET, with ITC so that its threads wake
/// for a connection added from outside) serves what it is handed, with limits set
/// above netstatd's so that it never refuses first.
final class AcceptLoop: @unchecked Sendable {
    // @unchecked: `thread` is written by start() and stop() only, which the owning
    // HTTPServer calls from one thread; the loop thread reads the immutable fields,
    // the tracker (which locks) and `stopping` (atomic).
    private let listener: ListeningSocket
    private let daemon: OpaquePointer
    private let tracker: ConnectionTracker
    /// A socket pair: stop() writes to `wake[1]` so that poll(2) returns at once.
    private let wake: [Int32]
    private let stopping = Atomic<Bool>(false)
    private var thread: pthread_t?

    /// Accepts per wake-up at most, so that deadlines are checked between bursts.
    private static let acceptBatch = 64
    /// How long to stop accepting when out of file descriptors or memory: the listener
    /// stays readable, and retrying at once would spin.
    private static let backoff = Duration.milliseconds(100)

    /// A loop over `listener` handing connections to `daemon`; start() runs it.
    init(listener: ListeningSocket, daemon: OpaquePointer, tracker: ConnectionTracker) throws(HTTPServerError) {
        var pair: [Int32] = [-1, -1]
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        guard socketpair(AF_UNIX, flags, 0, &pair) == 0 else {
            throw HTTPServerError(description: "cannot start the accept thread: socketpair(): \(errorText(errno))")
        }
        self.listener = listener
        self.daemon = daemon
        self.tracker = tracker
        self.wake = pair
    }

    deinit {
        listener.close()
        for fd in wake { close(fd) }
    }

    /// Starts the thread.
    func start() throws(HTTPServerError) {
        guard thread == nil else { return }
        var started = pthread_t()
        // The thread holds the loop until it returns.
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&started, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<AcceptLoop>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<AcceptLoop>.fromOpaque(context).release()
            throw HTTPServerError(description: "cannot start the accept thread: pthread_create(): \(errorText(result))")
        }
        thread = started
    }

    /// Stops the thread, waits for it and closes the listening socket.
    func stop() {
        if let thread {
            stopping.store(true, ordering: .releasing)
            var byte: UInt8 = 1
            _ = retryingEINTR { write(wake[1], &byte, 1) }
            pthread_join(thread, nil)
            self.thread = nil
        }
        listener.close()
    }

    private func run() {
        var pausedUntil: ContinuousClock.Instant?
        while !stopping.load(ordering: .acquiring) {
            let now = ContinuousClock.now
            let nextDeadline = tracker.expire(at: now)
            if let until = pausedUntil, until <= now { pausedUntil = nil }
            var fds = [
                pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0),
                pollfd(fd: listener.fd, events: pausedUntil == nil ? Int16(POLLIN) : 0, revents: 0),
            ]
            let ready = poll(&fds, nfds_t(fds.count), Self.milliseconds(from: now, until: [nextDeadline, pausedUntil].compactMap { $0 }.min()))
            if ready < 0 {
                // poll fails other than by EINTR only when short of memory: try again later.
                if errno != EINTR { pausedUntil = now + Self.backoff }
                continue
            }
            if fds[0].revents != 0 { continue }
            if fds[1].revents != 0 { pausedUntil = acceptAvailable() }
        }
    }

    /// Accepts what is waiting, up to a batch; returns until when to stop accepting if
    /// the process is out of file descriptors or memory.
    private func acceptAvailable() -> ContinuousClock.Instant? {
        for _ in 0..<Self.acceptBatch {
            var peer = SocketAddress()
            let fd = peer.withMutableSockaddr { netstatd_accept(listener.fd, $0, $1) }
            if fd >= 0 {
                hand(fd, from: peer)
                continue
            }
            // accept(2), "Error handling": network errors of the new connection are
            // reported here and mean only that this one is gone.
            switch errno {
            case EAGAIN, EWOULDBLOCK:
                return nil
            case EINTR, ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH:
                continue
            default:
                return ContinuousClock.now + Self.backoff
            }
        }
        return nil
    }

    private func hand(_ fd: Int32, from peer: SocketAddress) {
        guard tracker.admit(fd, client: peer.host, at: .now) else {
            close(fd)
            return
        }
        let added = peer.withSockaddr { MHD_add_connection(daemon, fd, $0, $1) }
        if added != MHD_Result.YES { tracker.handOverFailed(fd) }
    }

    /// poll(2)'s timeout: the milliseconds from `now` until `wakeUp`, rounded up so as
    /// not to wake just before it; at most a second.
    private static func milliseconds(from now: ContinuousClock.Instant, until wakeUp: ContinuousClock.Instant?) -> Int32 {
        guard let wakeUp else { return 1000 }
        let (seconds, attoseconds) = (wakeUp - now).components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(min(1000, max(0, milliseconds)))
    }
}

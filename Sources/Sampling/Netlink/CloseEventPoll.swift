import Glibc
internal import CNetlink

/// Waits on many close-event sockets at once, one per followed network namespace,
/// with one poll(2) on one thread, and an eventfd another thread signals (`wake`)
/// when the set of sockets changes or the reader is to stop.
public final class CloseEventPoll: @unchecked Sendable {
    // @unchecked: only `wake` is called from other threads, and it touches nothing
    // but the immutable eventfd; `watch` and `wait` belong to the polling thread.
    private let wakeFD: Int32
    private var polled: [pollfd]

    /// A poll over no socket yet; throws naming eventfd's errno when it cannot be made.
    public init() throws {
        let fd = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard fd >= 0 else { throw NetlinkError(operation: "eventfd (close-event reader)", errno: errno, sequence: 0) }
        wakeFD = fd
        polled = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
    }

    deinit { close(wakeFD) }

    /// Waits on `sockets` from now on: index i of `wait`'s answers is `sockets[i]`.
    /// The caller keeps them alive while it waits on them (a socket closes in deinit).
    public func watch(_ sockets: [CloseEventSocket]) {
        polled.removeSubrange(1...)
        for socket in sockets { polled.append(pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)) }
    }

    /// Makes the current or next `wait` return at once; safe from any thread.
    public func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    /// Waits up to `timeoutMs` for a socket to have something (events, or an error
    /// such as ENOBUFS, which the socket's `drain` reports) or for `wake`, then calls
    /// `ready` with the index of each socket that has. Returns true when woken.
    @discardableResult
    public func wait(timeoutMs: Int32, ready: (Int) -> Void) throws -> Bool {
        for index in polled.indices { polled[index].revents = 0 }
        let count = poll(&polled, nfds_t(polled.count), timeoutMs)
        if count < 0 {
            if errno == EINTR { return false }
            throw NetlinkError(operation: "poll (close events)", errno: errno, sequence: 0)
        }
        guard count > 0 else { return false }
        let woken = polled[0].revents != 0
        if woken {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, MemoryLayout<UInt64>.size)
        }
        for index in polled.indices.dropFirst() where polled[index].revents != 0 { ready(index - 1) }
        return woken
    }
}

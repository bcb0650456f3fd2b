import Glibc
public import Sampling

/// Follows the kernel's socket close events on a thread of its own and keeps them
/// until the next sample takes them (`drain`). The queue is bounded: past
/// `capacity` events are dropped and counted, so a flood cannot exhaust memory; the
/// kernel's own drops (ENOBUFS) are counted as overflows. Either way the next
/// sample's dump still closes what the events missed.
public final class CloseEventReader: @unchecked Sendable {
    // @unchecked: every mutable field is touched only while holding `lock`; the
    // socket is used by the reader thread alone once started.
    /// What the reader has done, for /api/v1/status and /metrics.
    public struct Statistics: Sendable {
        /// Whether events are being read.
        public var running = false
        /// Why not, when they are not (a missing capability, say).
        public var unavailable: String?
        /// Events received since start.
        public var received = 0
        /// Times the kernel dropped events because the reader fell behind.
        public var overflows = 0
        /// Events dropped because the queue was full.
        public var dropped = 0
        /// The socket's receive buffer, in bytes.
        public var receiveBufferBytes = 0
    }

    private let lock = Lock()
    private let capacity: Int
    private var pending: [CloseEvent] = []
    private var overflowsSinceDrain = 0
    private var stats = Statistics()
    private var stopping = false
    private var thread: JoinableThread?
    private var socket: CloseEventSocket?

    /// A reader holding at most `capacity` events between two samples.
    public init(capacity: Int = 2_000_000) {
        self.capacity = capacity
    }

    /// Subscribes and starts the thread. Returns nil when running, else the reason
    /// it cannot (also kept in `statistics.unavailable`).
    @discardableResult
    public func start(receiveBuffer: Int = 32 << 20) -> String? {
        let opened: CloseEventSocket
        do {
            opened = try CloseEventSocket(receiveBuffer: receiveBuffer)
        } catch let error as NetlinkError where error.errno == EPERM || error.errno == EACCES {
            return unavailable("joining the kernel's close-event groups needs CAP_NET_ADMIN (\(error))")
        } catch {
            return unavailable("\(error)")
        }
        lock.withLock {
            socket = opened
            stats.running = true
            stats.receiveBufferBytes = opened.receiveBufferBytes
        }
        do {
            let handle = try startThread("the close-event reader") { self.loop() }
            lock.withLock { thread = handle }
        } catch {
            return unavailable("\(error)")
        }
        return nil
    }

    private func unavailable(_ reason: String) -> String {
        lock.withLock {
            stats.running = false
            stats.unavailable = reason
        }
        return reason
    }

    /// Stops the thread (within its poll timeout) and closes the socket.
    public func stop() {
        let running = lock.withLock { () -> JoinableThread? in
            stopping = true
            defer { thread = nil }
            return thread
        }
        running?.join()
        lock.withLock {
            socket = nil
            stats.running = false
        }
    }

    /// The events received since the last call, oldest first, and the kernel
    /// overflows meanwhile.
    public func drain() -> (events: [CloseEvent], overflows: Int) {
        lock.withLock {
            defer {
                pending.removeAll(keepingCapacity: pending.count < 65536)
                overflowsSinceDrain = 0
            }
            return (pending, overflowsSinceDrain)
        }
    }

    /// The figures so far.
    public var statistics: Statistics { lock.withLock { stats } }

    private func loop() {
        guard let socket = lock.withLock({ self.socket }) else { return }
        var batch: [CloseEvent] = []
        while !lock.withLock({ stopping }) {
            batch.removeAll(keepingCapacity: true)
            let outcome: CloseEventSocket.Outcome
            do {
                outcome = try socket.receive(timeoutMs: 200) { batch.append($0) }
            } catch {
                _ = unavailable("reading close events failed: \(error)")
                return
            }
            guard outcome.events > 0 || outcome.overflows > 0 else { continue }
            lock.withLock {
                let room = max(0, capacity - pending.count)
                pending.append(contentsOf: batch.prefix(room))
                stats.dropped += max(0, batch.count - room)
                stats.received += batch.count
                stats.overflows += outcome.overflows
                overflowsSinceDrain += outcome.overflows
            }
        }
    }
}

import Glibc
public import Sampling

/// Follows the kernel's socket close events in every network namespace sampled, on
/// one thread of its own, and keeps them until the next sample takes them (`drain`).
///
/// The close-event groups belong to a network namespace, so one socket listens in
/// netstatd's own (opened by `start`) and one inside each other namespace a sample
/// finds (`follow`, called with each sample's namespaces, opens them through the
/// same setns entry thread sampling uses and drops those of namespaces gone). The
/// reader thread polls them all at once; an eventfd wakes it when the set changes.
/// An event read in another namespace carries its inode as `socket.netns`, so the
/// Recorder closes that namespace's rows, never a same-endpoints row of another.
///
/// The queue is bounded: past `capacity` events are dropped and counted, so a flood
/// cannot exhaust memory; the kernel's own drops (ENOBUFS) are counted as
/// overflows, in all and per namespace. Either way the next sample's dump still
/// closes what the events missed.
public final class CloseEventReader: @unchecked Sendable {
    // @unchecked: every mutable field is touched only while holding `lock`; the
    // sockets are read by the reader thread alone once started (`follow` only adds
    // and drops references; a dropped socket closes once the thread lets go of it).
    /// What the reader has done, for /api/v1/status and /metrics.
    public struct Statistics: Sendable {
        /// Whether events are being read.
        public var running = false
        /// Why not, when they are not (a missing capability, say).
        public var unavailable: String?
        /// Events received since start, in every namespace.
        public var received = 0
        /// Times the kernel dropped events because the reader fell behind, in every namespace.
        public var overflows = 0
        /// Events dropped because the queue was full.
        public var dropped = 0
        /// The receive buffer of the socket in netstatd's own namespace, in bytes.
        public var receiveBufferBytes = 0
        /// Network namespaces whose close events are read, netstatd's own included.
        public var namespaces = 0
        /// Each namespace read, by inode: its events and overflows since it was followed.
        public var byNamespace: [NamespaceFigures] = []
        /// Namespaces the last sample found whose close events cannot be read, and why
        /// (no CAP_SYS_ADMIN to enter them, no CAP_NET_ADMIN to join their groups).
        public var notFollowed: [UnreadNamespace] = []
    }

    /// One followed namespace's figures.
    public struct NamespaceFigures: Sendable, Equatable {
        /// The namespace's inode; nil for netstatd's own when it cannot be told.
        public var inode: UInt64?
        /// Its `ip netns` name, if any.
        public var name: String?
        /// Events received from it since it was followed.
        public var received = 0
        /// Times the kernel dropped its events (ENOBUFS).
        public var overflows = 0
        /// The receive buffer of its socket, in bytes.
        public var receiveBufferBytes = 0
    }

    /// One namespace followed: its socket and figures (the figures under `lock`).
    private final class Followed {
        let socket: CloseEventSocket
        var figures: NamespaceFigures

        init(_ socket: CloseEventSocket, inode: UInt64?, name: String?) {
            self.socket = socket
            figures = NamespaceFigures(inode: inode, name: name, receiveBufferBytes: socket.receiveBufferBytes)
        }
    }

    private let lock = Lock()
    private let capacity: Int
    private let procRoot: String
    private let namespaceReceiveBuffer: Int
    private var pending: [CloseEvent] = []
    private var overflowsSinceDrain = 0
    private var stats = Statistics()
    private var stopping = false
    private var thread: JoinableThread?
    private var poller: CloseEventPoll?
    /// Names the cgroups of drained events; touched only while holding `cgroupLock`.
    private let cgroupPaths: CgroupPaths
    private let cgroupLock = Lock()
    private var own: Followed?
    /// Other namespaces followed, by inode.
    private var followed: [UInt64: Followed] = [:]
    /// Namespaces not followed, by inode, with why and whether trying again can help.
    private var notFollowed: [UInt64: (namespace: UnreadNamespace, refused: Bool)] = [:]
    /// Bumped whenever `own` or `followed` changes; the thread re-reads them then.
    private var generation = 0

    /// How long the reader waits after reading events before it looks again: the
    /// most an event's recorded time can trail its read (10 ms).
    static let batchingPauseMicroseconds: UInt32 = 10_000

    /// The default bound of the queue: 128 MiB of events. At 10,000 connections a
    /// second (20,000 events, both ends) that is several samples' worth, so only a
    /// writer stalled for long (a full disk) or a flood beyond what one core can
    /// record reaches it; the events past it are counted as dropped.
    public static let defaultCapacity = (128 << 20) / MemoryLayout<CloseEvent>.stride

    /// A reader holding at most `capacity` events between two samples, entering
    /// other namespaces through `procRoot`, each of their sockets asking for a
    /// `namespaceReceiveBuffer` of its own (the own namespace's is `start`'s).
    public init(capacity: Int = CloseEventReader.defaultCapacity, procRoot: String = "/proc", namespaceReceiveBuffer: Int = 8 << 20,
                cgroupPaths: CgroupPaths = CgroupPaths()) {
        self.capacity = capacity
        self.cgroupPaths = cgroupPaths
        self.procRoot = procRoot
        self.namespaceReceiveBuffer = namespaceReceiveBuffer
    }

    /// Subscribes in netstatd's own namespace and starts the thread. Returns nil when
    /// running, else the reason it cannot (also kept in `statistics.unavailable`).
    /// Other namespaces are followed from the first `follow`.
    @discardableResult
    public func start(receiveBuffer: Int = 32 << 20) -> String? {
        let opened: CloseEventSocket
        let poller: CloseEventPoll
        do {
            opened = try CloseEventSocket(receiveBuffer: receiveBuffer)
            poller = try CloseEventPoll()
        } catch let error as NetlinkError where error.errno == EPERM || error.errno == EACCES {
            return unavailable("joining the kernel's close-event groups needs CAP_NET_ADMIN (\(error))")
        } catch {
            return unavailable("\(error)")
        }
        var info = stat()
        let inode = stat(procRoot + "/self/ns/net", &info) == 0 ? UInt64(info.st_ino) : nil
        lock.withLock {
            own = Followed(opened, inode: inode, name: nil)
            self.poller = poller
            generation += 1
            stats.running = true
            stats.unavailable = nil
            stats.receiveBufferBytes = opened.receiveBufferBytes
        }
        do {
            let handle = try startThread("the close-event reader") { self.loop(poller) }
            lock.withLock { thread = handle }
        } catch {
            lock.withLock {
                own = nil
                self.poller = nil
            }
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

    /// Follows the close events of `namespaces` (a sample's: netstatd's own is
    /// followed from `start`) and of no other: opens a socket inside each new one,
    /// all on one entry thread, and drops those of namespaces no longer listed (each
    /// closes once the reader thread lets go of it, at once: the thread is woken).
    /// Namespaces that cannot be followed are kept in `statistics.notFollowed`; one
    /// refused for lack of privilege is not tried again while it exists. Call from
    /// one thread (the sampler's), after each sample.
    public func follow(_ namespaces: [NetNamespace]) {
        let others = namespaces.filter { !$0.isOwn }
        let present = Set(others.map(\.inode))
        let (running, reason, entering, held, dropped) = lock.withLock { () -> (Bool, String?, [NetNamespace], Int, Bool) in
            let before = followed.count
            followed = followed.filter { present.contains($0.key) }
            let dropped = followed.count != before
            if dropped { generation += 1 }
            notFollowed = notFollowed.filter { present.contains($0.key) && $0.value.refused }
            for namespace in others {
                followed[namespace.inode]?.figures.name = namespace.name
                notFollowed[namespace.inode]?.namespace.name = namespace.name
            }
            let entering = others.filter { followed[$0.inode] == nil && notFollowed[$0.inode] == nil }
            return (stats.running && !stopping, stats.unavailable, entering, followed.count, dropped)
        }
        guard running else {
            // Nothing is read anywhere: every namespace is listed with why.
            let why = reason ?? "the close-event reader is not running"
            lock.withLock {
                for namespace in others where notFollowed[namespace.inode] == nil {
                    notFollowed[namespace.inode] = (UnreadNamespace(inode: namespace.inode, name: namespace.name, reason: why), false)
                }
            }
            return
        }
        let openings = entering.isEmpty ? [:] : CloseEventSocket.open(
            in: entering, procRoot: procRoot, held: held, receiveBuffer: namespaceReceiveBuffer)
        let waker = lock.withLock { () -> CloseEventPoll? in
            guard !stopping else { return nil }
            var changed = false
            for namespace in entering {
                switch openings[namespace.inode] {
                case .opened(let socket)?:
                    followed[namespace.inode] = Followed(socket, inode: namespace.inode, name: namespace.name)
                    changed = true
                case .failed(let reason, let refused)?:
                    notFollowed[namespace.inode] = (UnreadNamespace(inode: namespace.inode, name: namespace.name, reason: reason), refused)
                case .vanished?, nil:
                    break
                }
            }
            if changed { generation += 1 }
            return changed || dropped ? poller : nil
        }
        // The thread takes up the new set, and lets go of the dropped sockets, now.
        waker?.wake()
    }

    /// Stops the thread (at once: it is woken) and closes every socket.
    public func stop() {
        let (running, waker) = lock.withLock { () -> (JoinableThread?, CloseEventPoll?) in
            stopping = true
            defer { thread = nil }
            return (thread, poller)
        }
        waker?.wake()
        running?.join()
        lock.withLock {
            own = nil
            followed = [:]
            poller = nil
            generation += 1
            stats.running = false
        }
    }

    /// The events received since the last call, oldest first within each namespace,
    /// each with its cgroup's path where it can be found, and the kernel overflows
    /// meanwhile.
    public func drain() -> (events: [CloseEvent], overflows: Int) {
        var drained = lock.withLock {
            defer {
                pending.removeAll(keepingCapacity: pending.count < 65536)
                overflowsSinceDrain = 0
            }
            return (events: pending, overflows: overflowsSinceDrain)
        }
        // Outside `lock`: a walk of the cgroup tree must not hold up the reader thread.
        cgroupLock.withLock { cgroupPaths.name(&drained.events) }
        return drained
    }

    /// The figures so far.
    public var statistics: Statistics {
        lock.withLock {
            var figures = stats
            let all = (own.map { [$0] } ?? []) + followed.values.sorted { $0.figures.inode ?? 0 < $1.figures.inode ?? 0 }
            figures.namespaces = all.count
            figures.byNamespace = all.map(\.figures)
            figures.notFollowed = notFollowed.values.map(\.namespace).sorted { $0.inode < $1.inode }
            return figures
        }
    }

    /// The inodes of the namespaces followed now (netstatd's own when known included).
    public var followedNamespaces: Set<UInt64> {
        lock.withLock { Set(followed.keys).union(own?.figures.inode.map { [$0] } ?? []) }
    }

    private func loop(_ poller: CloseEventPoll) {
        var watched: [Followed] = []
        var seen = -1
        var buffer = [UInt8](repeating: 0, count: CloseEventSocket.datagramBufferSize)
        var batch: [CloseEvent] = []
        var failed: [(Followed, String)] = []
        while true {
            let current = lock.withLock { stopping ? nil : generation }
            guard let current else { break }
            if current != seen {
                // Holding them while polling keeps a dropped socket open until here.
                watched = lock.withLock {
                    (own.map { [$0] } ?? []) + followed.values.sorted { $0.figures.inode ?? 0 < $1.figures.inode ?? 0 }
                }
                poller.watch(watched.map(\.socket))
                seen = current
            }
            var read = 0
            do {
                try poller.wait(timeoutMs: 1000) { index in
                    let entry = watched[index]
                    batch.removeAll(keepingCapacity: true)
                    let outcome: CloseEventSocket.Outcome
                    do {
                        outcome = try entry.socket.drain(into: &buffer) { batch.append($0) }
                    } catch {
                        failed.append((entry, "reading close events failed: \(error)"))
                        return
                    }
                    guard outcome.events > 0 || outcome.overflows > 0 else { return }
                    read += outcome.events
                    lock.withLock {
                        let room = max(0, capacity - pending.count)
                        pending.append(contentsOf: batch.prefix(room))
                        stats.dropped += max(0, batch.count - room)
                        stats.received += batch.count
                        stats.overflows += outcome.overflows
                        overflowsSinceDrain += outcome.overflows
                        entry.figures.received += batch.count
                        entry.figures.overflows += outcome.overflows
                    }
                }
            } catch {
                halt("waiting for close events failed: \(error)")
                return
            }
            // Under churn, let events gather for a moment before the next wait: woken
            // for every one or two events, the thread spent more on poll and recv than
            // on the events (a third of netstatd's CPU at 1,000 connections a second).
            // An event's time is when it is read, so the pause bounds how late that can
            // be; the buffers hold far more than a pause brings.
            if read > 0 { usleep(Self.batchingPauseMicroseconds) }
            if !failed.isEmpty {
                let ownFailed = drop(failed)
                failed.removeAll()
                if let ownFailed {
                    halt(ownFailed)
                    return
                }
            }
        }
    }

    /// Stops reading namespaces whose socket failed: listed as not followed (and
    /// not tried again while they exist). Returns why netstatd's own failed, if it did.
    private func drop(_ failures: [(Followed, String)]) -> String? {
        lock.withLock {
            var ownFailed: String?
            for (entry, reason) in failures {
                if entry === own {
                    ownFailed = reason
                } else if let inode = entry.figures.inode, followed[inode] === entry {
                    followed[inode] = nil
                    notFollowed[inode] = (UnreadNamespace(inode: inode, name: entry.figures.name, reason: reason), true)
                }
            }
            generation += 1
            return ownFailed
        }
    }

    /// Ends reading everywhere (the thread returns next): the reader is unavailable
    /// for `reason`, and `follow` lists every namespace with it.
    private func halt(_ reason: String) {
        lock.withLock {
            own = nil
            followed = [:]
            generation += 1
            stats.running = false
            stats.unavailable = reason
        }
    }
}

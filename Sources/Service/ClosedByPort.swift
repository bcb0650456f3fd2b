public import Sampling

/// Connections closed, and their bytes, by the listening port that accepted them:
/// counted from the kernel's close events, for /metrics. Bounded by the number of
/// listening ports (a client socket's ephemeral port is never a label). A port sums
/// every namespace's, but an event counts only when its own namespace listens there.
public final class ClosedByPort: @unchecked Sendable {
    // @unchecked: `totals` is only touched while holding `lock`.
    /// One port's counts since start.
    public struct Totals: Sendable, Equatable {
        public var closed: UInt64 = 0
        public var bytesSent: UInt64 = 0
        public var bytesReceived: UInt64 = 0
    }

    private let lock = Lock()
    private var totals: [UInt16: Totals] = [:]

    public init() {}

    /// Counts the events whose local port is a TCP port `snapshot` listens on in the
    /// event's namespace (an event without one is from netstatd's own).
    public func observe(_ events: [CloseEvent], in snapshot: Snapshot) {
        guard !events.isEmpty else { return }
        struct Listening: Hashable {
            var netns: UInt64?
            var port: UInt16
        }
        var listening = Set<Listening>()
        for socket in snapshot.sockets where socket.proto == .tcp && socket.state == .listen {
            listening.insert(Listening(netns: socket.netns, port: socket.local.port))
        }
        let own = snapshot.namespaces.first { $0.isOwn }?.inode
        lock.withLock {
            for event in events where event.socket.proto == .tcp
                && listening.contains(Listening(netns: event.socket.netns ?? own, port: event.socket.local.port)) {
                var entry = totals[event.socket.local.port] ?? Totals()
                entry.closed &+= 1
                entry.bytesSent &+= event.socket.tcpInfo?.bytesAcked ?? 0
                entry.bytesReceived &+= event.socket.tcpInfo?.bytesReceived ?? 0
                totals[event.socket.local.port] = entry
            }
        }
    }

    /// The counts so far, by port.
    public var current: [UInt16: Totals] { lock.withLock { totals } }
}

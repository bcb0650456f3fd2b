public import Sampling

/// TCP sockets in CLOSE_WAIT (the peer closed, the local process has not) counted by
/// the port of the service involved, so a leak shows up against a port: a connection
/// accepted on a local listening port counts against that port (`inbound`), any other
/// against its remote port (`outbound`, e.g. a client pool to :5432). Keyed so the
/// ephemeral side of a connection never becomes a label.
public enum CloseWaitPorts {
    /// Which end of the connection the port is.
    public enum Direction: String, Sendable {
        /// The local port, which something listens on.
        case inbound
        /// The remote port: a connection this host opened.
        case outbound
    }

    /// CLOSE_WAIT sockets for one port and direction.
    public struct Row: Sendable, Equatable {
        /// The service's port.
        public var port: UInt16
        /// Whether the port is local (inbound) or remote (outbound).
        public var direction: Direction
        /// Number of sockets.
        public var count: Int
    }

    /// The rows for `snapshot`, by direction then port.
    public static func count(_ snapshot: Snapshot) -> [Row] {
        var listening = Set<UInt16>()
        var counts: [Int: Int] = [:]
        // Read in place: copying a Socket retains its owners (see README, design notes).
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            for index in sockets.indices where sockets[index].proto == .tcp && sockets[index].state == .listen {
                listening.insert(sockets[index].local.port)
            }
            for index in sockets.indices where sockets[index].proto == .tcp && sockets[index].state == .closeWait {
                let local = sockets[index].local.port
                let key = listening.contains(local) ? Int(local) : 1 << 16 | Int(sockets[index].remote.port)
                counts[key, default: 0] += 1
            }
        }
        return counts.sorted { $0.key < $1.key }.map { key, count in
            Row(port: UInt16(key & 0xffff), direction: key >> 16 == 0 ? .inbound : .outbound, count: count)
        }
    }
}

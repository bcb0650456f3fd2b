public import Sampling

/// One process that holds sockets, as `GET /api/v1/processes` lists it.
public struct ProcessSummary: Sendable {
    /// Process id.
    public var pid: Int32
    /// Start time in clock ticks since boot; with the pid, the process's identity.
    public var startTime: UInt64
    /// Command name.
    public var name: String
    /// The uid of its sockets (the first seen), and its name.
    public var uid: UInt32
    /// The user name for `uid`.
    public var user: String
    /// Ports it listens on (TCP LISTEN and bound UDP), sorted, by protocol.
    public var listening: [(proto: TransportProtocol, port: UInt16)]
    /// Number of sockets by netstat state name.
    public var states: [String: Int]
    /// Total sockets held.
    public var socketCount: Int

    /// Every process holding a socket in `snapshot`, ordered by pid.
    public static func all(in snapshot: Snapshot, namespaces: Set<UInt64>? = nil) -> [ProcessSummary] {
        var byPid: [Int32: ProcessSummary] = [:]
        for socket in snapshot.sockets where namespaces.map({ socket.netns.map($0.contains) ?? false }) ?? true {
            for owner in socket.processes {
                var summary = byPid[owner.pid] ?? ProcessSummary(
                    pid: owner.pid, startTime: owner.startTime, name: owner.name, uid: socket.uid,
                    user: snapshot.userName(socket.uid), listening: [], states: [:], socketCount: 0)
                summary.socketCount += 1
                summary.states[socket.stateName, default: 0] += 1
                if socket.isListening && !summary.listening.contains(where: { $0.proto == socket.proto && $0.port == socket.local.port }) {
                    summary.listening.append((socket.proto, socket.local.port))
                }
                byPid[owner.pid] = summary
            }
        }
        return byPid.values
            .map { summary in
                var sorted = summary
                sorted.listening.sort { ($0.proto.rawValue, $0.port) < ($1.proto.rawValue, $1.port) }
                return sorted
            }
            .sorted { $0.pid < $1.pid }
    }
}

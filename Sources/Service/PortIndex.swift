public import Sampling

/// Positions of a snapshot's sockets by port (local and remote), built once per
/// snapshot, so `ports/{port}` and port filters touch a hundred sockets, not 200,000.
public final class PortIndex: Sendable {
    /// The snapshot this index describes (its `takenAt`).
    public let takenAt: Double
    private let positions: [UInt16: [Int]]

    /// Indexes `snapshot`.
    public init(_ snapshot: Snapshot) {
        takenAt = snapshot.takenAt
        var positions: [UInt16: [Int]] = [:]
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            for index in sockets.indices {
                let local = sockets[index].local.port
                let remote = sockets[index].remote.port
                positions[local, default: []].append(index)
                if remote != local && remote != 0 { positions[remote, default: []].append(index) }
            }
        }
        self.positions = positions
    }

    /// Positions of the sockets whose local or remote port is `port`, in snapshot order.
    public func sockets(usingPort port: UInt16) -> [Int] {
        positions[port] ?? []
    }
}

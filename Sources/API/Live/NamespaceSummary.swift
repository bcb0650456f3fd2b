public import Sampling

/// One network namespace of a snapshot with what is in it: the answer of
/// `GET /api/v1/namespaces` (`ip netns` with `ss -s` per namespace).
public struct NamespaceSummary: Sendable {
    /// The namespace, as the sample found it.
    public var namespace: NetNamespace
    /// Its TCP and UDP sockets.
    public var sockets: Int
    /// Its listening TCP sockets and bound, unconnected UDP sockets.
    public var listeners: Int
    /// Socket counts by netstat state name.
    public var byState: [String: Int]

    /// Every namespace of `snapshot`, in its order (the host's first), with its counts.
    /// One pass over the sockets.
    public static func all(in snapshot: Snapshot) -> [NamespaceSummary] {
        var position: [UInt64: Int] = [:]
        var summaries: [NamespaceSummary] = []
        summaries.reserveCapacity(snapshot.namespaces.count)
        for namespace in snapshot.namespaces {
            position[namespace.inode] = summaries.count
            summaries.append(NamespaceSummary(namespace: namespace, sockets: 0, listeners: 0, byState: [:]))
        }
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            for index in sockets.indices {
                guard let inode = sockets[index].netns, let at = position[inode] else { continue }
                summaries[at].sockets += 1
                if sockets[index].isListening { summaries[at].listeners += 1 }
                summaries[at].byState[sockets[index].stateName, default: 0] += 1
            }
        }
        return summaries
    }
}

import Sampling

/// The listeners of one snapshot, for what closed in it: a connection whose local
/// port is a listener's in its namespace was accepted (its peer's port is the
/// ephemeral one), and a socket seen only through its close event was accepted by
/// the TCP listener on its local address and port, whose processes own it.
struct SampleListeners {
    private struct PortKey: Hashable {
        /// 0: unknown (as in EndpointsKey).
        var netns: UInt64
        var proto: TransportProtocol
        var port: UInt16
    }

    private var ports = Set<PortKey>()
    /// TCP listeners held by some process, by namespace and port.
    private var owned: [PortKey: [Socket]] = [:]

    init(_ snapshot: Snapshot) {
        for socket in snapshot.sockets where Self.isListener(proto: socket.proto, state: socket.state, remote: socket.remote) {
            let key = PortKey(netns: socket.netns ?? 0, proto: socket.proto, port: socket.local.port)
            ports.insert(key)
            if socket.proto == .tcp && !socket.processes.isEmpty { owned[key, default: []].append(socket) }
        }
    }

    /// A TCP listener or an unconnected UDP socket: not a connection.
    static func isListener(proto: TransportProtocol, state: SocketState, remote: Endpoint) -> Bool {
        proto == .tcp ? state == .listen : remote.port == 0
    }

    /// Whether this sample listens on `port` in `netns`.
    func accepts(netns: UInt64?, proto: TransportProtocol, port: UInt16) -> Bool {
        ports.contains(PortKey(netns: netns ?? 0, proto: proto, port: port))
    }

    /// The owners of the listener in namespace `netns` that accepted `socket` (that
    /// address, or a wildcard one of its family; an IPv6 wildcard that is not v6only
    /// also takes IPv4), or none.
    func owners(accepting socket: Socket, in netns: UInt64?) -> SocketOwners {
        guard socket.proto == .tcp,
              let listeners = owned[PortKey(netns: netns ?? 0, proto: .tcp, port: socket.local.port)] else { return [] }
        let exact = listeners.first { $0.local.address == socket.local.address }
        let wildcard = listeners.first { listener in
            listener.local.address.isUnspecified
                && (listener.family == socket.family || (listener.family == .ipv6 && socket.family == .ipv4 && listener.v6only != true))
        }
        return (exact ?? wildcard)?.processes ?? []
    }
}

public import Sampling
public import Service

/// The filters of `GET /api/v1/connections` (and of every endpoint that lists sockets),
/// parsed once per request and applied to each socket.
public struct ConnectionFilter: Sendable {
    /// Protocols to keep (nil: all).
    public var protocols: Set<TransportProtocol>?
    /// For each protocol kept, the families kept with it (`tcp6` keeps TCP over IPv6 only).
    public var protocolFamilies: [TransportProtocol: Set<AddressFamily>] = [:]
    /// Families to keep (nil: all).
    public var families: Set<AddressFamily>?
    /// States to keep (nil: all). UNCONN is stored as `.close`.
    public var states: Set<SocketState>?
    /// Local or remote port.
    public var port: UInt16?
    /// Local port.
    public var localPort: UInt16?
    /// Remote port.
    public var remotePort: UInt16?
    /// Local address or block.
    public var localAddress: AddressMatcher?
    /// Remote address or block.
    public var remoteAddress: AddressMatcher?
    /// Owning process id.
    public var pid: Int32?
    /// Owning process name (exact, as /proc/<pid>/comm shows it).
    public var process: String?
    /// Owning user, by name or uid.
    public var user: String?
    /// Only listeners (true) or only non-listeners (false).
    public var listening: Bool?
    /// Network namespaces, as given: inodes, `ip netns` names or `host` (nil: all).
    /// Resolved against each snapshot's namespaces (`namespaceInodes`).
    public var namespaces: [String]?
    /// A container: a prefix of its id, or its name (machine or unit).
    public var container: String?

    /// The names this filter reads from a query string.
    public static let parameterNames = [
        "proto", "family", "state", "port", "local_port", "remote_port", "local_addr", "remote_addr",
        "pid", "process", "user", "listening", "netns", "container",
    ]

    /// No filtering.
    public init() {}

    /// Parses the filter parameters of `query`; throws a 400 naming the bad one.
    public init(query: QueryParameters) throws {
        for text in try query.nonEmptyList("proto") {
            // `tcp6` means TCP over IPv6 and `tcp4` TCP over IPv4, as netstat prints
            // them; each item narrows only its own protocol, so `tcp6,udp` keeps IPv4 UDP.
            let lower = text.lowercased()
            let suffix = lower.last.flatMap { $0 == "4" || $0 == "6" ? $0 : nil }
            let base = suffix == nil ? lower : String(lower.dropLast())
            guard let proto = TransportProtocol(rawValue: base) else {
                throw Problem.badParameter("proto", text, accepts: "tcp, udp, tcp4, tcp6, udp4, udp6 (comma-separated or repeated)")
            }
            protocols = (protocols ?? []).union([proto])
            let families: Set<AddressFamily> = suffix == "6" ? [.ipv6] : suffix == "4" ? [.ipv4] : [.ipv4, .ipv6]
            protocolFamilies[proto, default: []].formUnion(families)
        }
        for text in try query.nonEmptyList("family") {
            switch text.lowercased() {
            case "ipv4", "inet", "4": families = (families ?? []).union([.ipv4])
            case "ipv6", "inet6", "6": families = (families ?? []).union([.ipv6])
            default: throw Problem.badParameter("family", text, accepts: "ipv4 or ipv6")
            }
        }
        for text in try query.nonEmptyList("state") {
            guard let state = SocketState.parse(text) else {
                throw Problem.badParameter(
                    "state", text,
                    accepts: "a netstat state name in any case, with - or _ (ESTABLISHED, estab, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, time-wait, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, UNCONN)")
            }
            states = (states ?? []).union(state == .synRecv ? [.synRecv, .newSynRecv] : [state])
        }
        port = try query.port("port")
        localPort = try query.port("local_port")
        remotePort = try query.port("remote_port")
        localAddress = try Self.address(query, "local_addr")
        remoteAddress = try Self.address(query, "remote_addr")
        if let text = try query.string("pid") {
            guard let value = Int32(text), value > 0 else {
                throw Problem.badParameter("pid", text, accepts: "a process id (a positive integer)")
            }
            pid = value
        }
        process = try query.string("process")
        user = try query.string("user")
        listening = try query.bool("listening")
        let netns = try query.nonEmptyList("netns")
        if !netns.isEmpty { namespaces = netns }
        if let text = try query.string("container") {
            guard !text.isEmpty else { throw Problem.badParameter("container", text, accepts: "a container id (or a prefix of it) or name") }
            container = text
        }
    }

    /// The inodes of the namespaces `netns=` names in `snapshot` (nil without the
    /// filter). A name no namespace of the snapshot answers to is a 404 naming it;
    /// with `inodesOfThePast`, a bare inode is taken as given (history holds
    /// namespaces that are gone).
    @discardableResult
    public func namespaceInodes(in snapshot: Snapshot, inodesOfThePast: Bool = false) throws -> Set<UInt64>? {
        guard let namespaces else { return nil }
        return try Self.namespaceInodes(namespaces, in: snapshot, inodesOfThePast: inodesOfThePast)
    }

    /// The inodes of the namespaces `names` (as `netns=` takes them) in `snapshot`;
    /// a name none answers to is a 404 naming it.
    public static func namespaceInodes(_ namespaces: [String], in snapshot: Snapshot, inodesOfThePast: Bool = false) throws -> Set<UInt64> {
        var inodes: Set<UInt64> = []
        for text in namespaces {
            guard let found = snapshot.namespaces.first(where: { $0.isNamed(text) }) else {
                if inodesOfThePast, let inode = UInt64(text) {
                    inodes.insert(inode)
                    continue
                }
                let known = snapshot.namespaces.map { $0.name ?? String($0.inode) }
                let nearest = Suggestions.nearest(text, in: known, count: 5)
                var problem = Problem.notFound(
                    "netns=\(text.debugDescription) names no network namespace netstatd sees; give an inode, an `ip netns` name or host"
                        + (nearest.isEmpty ? "." : " (nearest: \(nearest.joined(separator: ", "))); GET /api/v1/namespaces lists them all."))
                problem.parameter = "netns"
                throw problem
            }
            inodes.insert(found.inode)
        }
        return inodes
    }

    private static func address(_ query: QueryParameters, _ name: String) throws -> AddressMatcher? {
        guard let text = try query.string(name) else { return nil }
        guard let matcher = AddressMatcher(text) else {
            throw Problem.badParameter(name, text, accepts: "an IPv4 or IPv6 address or CIDR block (10.0.0.0/8, ::1, fe80::/10)")
        }
        return matcher
    }

    /// Positions in `snapshot.sockets` of the sockets passing every filter.
    ///
    /// Sockets are read in place through a buffer pointer and never copied: a copy
    /// retains the socket's owner array, and HTTP threads retaining the same shared
    /// objects fight over their reference counts (measured: 85% of CPU under wrk).
    /// With a port filter and the snapshot's `PortIndex`, only the sockets on that
    /// port are examined.
    /// A `netns=` name the snapshot does not know matches nothing here; routes check
    /// names first with `namespaceInodes(in:)` to answer 404.
    public func matchingIndices(in snapshot: Snapshot, portIndex: PortIndex? = nil) -> [Int] {
        let uids = user.map { name in Set(snapshot.userNames.filter { $0.value == name }.keys + (UInt32(name).map { [$0] } ?? [])) }
        let scope = Scope(self, snapshot: snapshot)
        var result: [Int] = []
        // Port 0 (unconnected remotes) is not indexed: every listener has it.
        let indexed = (port ?? localPort ?? remotePort).flatMap { $0 == 0 ? nil : $0 }
        let narrowed = portIndex.flatMap { index in indexed.map { index.sockets(usingPort: $0) } }
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            if let narrowed {
                for index in narrowed where matches(at: index, in: sockets, uids: uids, scope: scope) { result.append(index) }
            } else {
                for index in sockets.indices where matches(at: index, in: sockets, uids: uids, scope: scope) { result.append(index) }
            }
        }
        return result
    }

    /// True when `socket` passes every filter. `userName` resolves the socket's uid;
    /// `names`, when given, the namespace names `netns=` may use (a past socket is
    /// matched against the namespaces netstatd sees now). Without it `netns=` matches
    /// inodes only and `container=` owners only.
    public func matches(_ socket: Socket, userName: (UInt32) -> String, names: Snapshot? = nil) -> Bool {
        let uids: Set<UInt32>? = user.map { name in userName(socket.uid) == name || String(socket.uid) == name ? [socket.uid] : [] }
        let scope = Scope(self, snapshot: names)
        return [socket].withUnsafeBufferPointer { matches(at: 0, in: $0, uids: uids, scope: scope) }
    }

    /// The namespace and container filters resolved once per request.
    private struct Scope {
        /// Inodes `netns=` allows (nil: no filter).
        var namespaces: Set<UInt64>?
        /// Namespaces whose container `container=` names: every socket in them matches,
        /// TIME_WAITs without an owner included.
        var containerNamespaces: Set<UInt64> = []

        init(_ filter: ConnectionFilter, snapshot: Snapshot?) {
            if let names = filter.namespaces {
                let known = snapshot?.namespaces ?? []
                namespaces = Set(names.compactMap { text in known.first { $0.isNamed(text) }?.inode ?? UInt64(text) })
            }
            if let container = filter.container, let snapshot {
                containerNamespaces = Set(snapshot.namespaces.filter { $0.container?.matches(container) == true }.map(\.inode))
            }
        }
    }

    /// The filter test on `sockets[index]`, read in place; `uids` are the uids the
    /// `user` filter allows (nil: no user filter).
    @inline(__always)
    private func matches(at index: Int, in sockets: UnsafeBufferPointer<Socket>, uids: Set<UInt32>?, scope: Scope) -> Bool {
        if let protocols, !protocols.contains(sockets[index].proto) { return false }
        if let kept = protocolFamilies[sockets[index].proto], !kept.contains(sockets[index].family) { return false }
        if let families, !families.contains(sockets[index].family) { return false }
        if let states, !states.contains(sockets[index].state) { return false }
        if let port, sockets[index].local.port != port && sockets[index].remote.port != port { return false }
        if let localPort, sockets[index].local.port != localPort { return false }
        if let remotePort, sockets[index].remote.port != remotePort { return false }
        if let localAddress, !localAddress.matches(sockets[index].local.address) { return false }
        if let remoteAddress, !remoteAddress.matches(sockets[index].remote.address) { return false }
        if let pid, !sockets[index].processes.contains(where: { $0.pid == pid }) { return false }
        if let process, !sockets[index].processes.contains(where: { $0.name == process }) { return false }
        if let uids, !uids.contains(sockets[index].uid) { return false }
        if let listening, sockets[index].isListening != listening { return false }
        if let allowed = scope.namespaces, !(sockets[index].netns.map(allowed.contains) ?? false) { return false }
        if let container {
            let inNamespace = sockets[index].netns.map(scope.containerNamespaces.contains) ?? false
            if !inNamespace && !sockets[index].processes.contains(where: { $0.container?.matches(container) == true }) {
                return false
            }
        }
        return true
    }
}

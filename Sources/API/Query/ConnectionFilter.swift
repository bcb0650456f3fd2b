import Sampling

/// The filters of `GET /api/v1/connections` (and of every endpoint that lists sockets),
/// parsed once per request and applied to each socket.
public struct ConnectionFilter: Sendable {
    /// Protocols to keep (nil: all).
    public var protocols: Set<TransportProtocol>?
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

    /// The names this filter reads from a query string.
    public static let parameterNames = [
        "proto", "family", "state", "port", "local_port", "remote_port", "local_addr", "remote_addr",
        "pid", "process", "user", "listening",
    ]

    /// No filtering.
    public init() {}

    /// Parses the filter parameters of `query`; throws a 400 naming the bad one.
    public init(query: QueryParameters) throws {
        for text in query.list("proto") {
            // `tcp6` means TCP over IPv6, as netstat prints it.
            let lower = text.lowercased()
            let base = lower.hasSuffix("6") ? String(lower.dropLast()) : lower
            guard let proto = TransportProtocol(rawValue: base) else {
                throw Problem.badParameter("proto", text, accepts: "tcp, udp, tcp6, udp6 (comma-separated or repeated)")
            }
            protocols = (protocols ?? []).union([proto])
            if lower.hasSuffix("6") { families = (families ?? []).union([.ipv6]) }
        }
        for text in query.list("family") {
            switch text.lowercased() {
            case "ipv4", "inet", "4": families = (families ?? []).union([.ipv4])
            case "ipv6", "inet6", "6": families = (families ?? []).union([.ipv6])
            default: throw Problem.badParameter("family", text, accepts: "ipv4 or ipv6")
            }
        }
        for text in query.list("state") {
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
    }

    private static func address(_ query: QueryParameters, _ name: String) throws -> AddressMatcher? {
        guard let text = try query.string(name) else { return nil }
        guard let matcher = AddressMatcher(text) else {
            throw Problem.badParameter(name, text, accepts: "an IPv4 or IPv6 address or CIDR block (10.0.0.0/8, ::1, fe80::/10)")
        }
        return matcher
    }

    /// True when `socket` passes every filter. `userName` resolves the socket's uid.
    public func matches(_ socket: Socket, userName: (UInt32) -> String) -> Bool {
        if let protocols, !protocols.contains(socket.proto) { return false }
        if let families, !families.contains(socket.family) { return false }
        if let states, !states.contains(socket.state) { return false }
        if let port, socket.local.port != port && socket.remote.port != port { return false }
        if let localPort, socket.local.port != localPort { return false }
        if let remotePort, socket.remote.port != remotePort { return false }
        if let localAddress, !localAddress.matches(socket.local.address) { return false }
        if let remoteAddress, !remoteAddress.matches(socket.remote.address) { return false }
        if let pid, !socket.processes.contains(where: { $0.pid == pid }) { return false }
        if let process, !socket.processes.contains(where: { $0.name == process }) { return false }
        if let user, userName(socket.uid) != user && String(socket.uid) != user { return false }
        if let listening, socket.isListening != listening { return false }
        return true
    }
}

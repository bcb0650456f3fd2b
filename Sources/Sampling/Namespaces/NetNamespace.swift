/// One network namespace on the host, as a sample found it. Its identity is
/// `inode` (the nsfs inode, `net:[inode]` in `readlink /proc/<pid>/ns/net`, which
/// every socket in it carries as `Socket.netns`) and, where `ip netns add` made it,
/// `name`.
public struct NetNamespace: Sendable, Hashable {
    /// The namespace's nsfs inode: its identity while it exists.
    public var inode: UInt64
    /// The `ip netns` name (a file in /run/netns), nil when it has none.
    public var name: String?
    /// True for the host's namespace (the one of pid 1).
    public var isHost: Bool
    /// True for the namespace netstatd itself runs in (read without entering it).
    public var isOwn: Bool
    /// The lowest pid of the processes in it, nil when no process is (only a bind mount holds it).
    public var pid: Int32?
    /// How many processes have it as their network namespace (1, netstatd, when only
    /// netstatd's own namespace is looked at: processes are then not walked).
    public var processCount: Int
    /// A bind mount that holds it open (`/run/netns/NAME`, `/run/docker/netns/ID`), if any.
    public var mountPath: String?
    /// The container of `pid`, from its cgroup (nil for the host's namespace and for
    /// namespaces without a process).
    public var container: ContainerReference?
    /// The kernel's cookie for it (SO_NETNS_COOKIE, Linux 5.14+): unlike the inode,
    /// never reused by a later namespace, so the key to keep it by across time. nil
    /// when its sockets were not read or the kernel is older.
    public var cookie: UInt64?
    /// Why its sockets were not read in this sample (no CAP_SYS_ADMIN, a table
    /// refused); nil when they were.
    public var unreadReason: String?
    /// Its `net.ipv4.tcp_ehash_entries`, as read inside it: the buckets of a TCP
    /// table of its own, or, negated, those of the host's table it shares (every dump
    /// of it then walks the host's whole table: see `SharedTCPTable`). Fixed when the
    /// namespace is made; nil when it was not entered or the kernel (before 6.1) lacks it.
    public var tcpTableBuckets: Int?

    /// Whether it shares the host's TCP table; nil when not known.
    public var sharesHostTCPTable: Bool? { tcpTableBuckets.map { $0 < 0 } }

    /// A namespace from its parts.
    public init(
        inode: UInt64, name: String? = nil, isHost: Bool = false, isOwn: Bool = false, pid: Int32? = nil,
        processCount: Int = 0, mountPath: String? = nil, container: ContainerReference? = nil,
        unreadReason: String? = nil
    ) {
        self.inode = inode
        self.name = name
        self.isHost = isHost
        self.isOwn = isOwn
        self.pid = pid
        self.processCount = processCount
        self.mountPath = mountPath
        self.container = container
        self.unreadReason = unreadReason
    }

    /// True when its sockets are in the snapshot.
    public var wasRead: Bool { unreadReason == nil }

    /// A short label for tables and messages: the `ip netns` name, `host`, the
    /// container's runtime and short id, or the inode.
    public var label: String {
        if let name { return name }
        if isHost { return "host" }
        if let container, container.runtime != .systemd {
            return container.runtime.rawValue + ":" + String(container.id.prefix(12))
        }
        return String(inode)
    }

    /// True when `text` names this namespace: its inode in decimal, its `ip netns`
    /// name, or `host` for the host's.
    public func isNamed(_ text: String) -> Bool {
        if let name, name == text { return true }
        if UInt64(text) == inode { return true }
        return isHost && text == "host"
    }
}

/// A namespace that was seen but whose sockets could not be read.
public struct UnreadNamespace: Sendable, Hashable {
    /// The namespace's inode.
    public var inode: UInt64
    /// Its `ip netns` name, if any.
    public var name: String?
    /// Why: the failing call and errno (`setns: Operation not permitted`).
    public var reason: String

    /// A record from its parts.
    public init(inode: UInt64, name: String?, reason: String) {
        self.inode = inode
        self.name = name
        self.reason = reason
    }
}

/// Where a snapshot's socket list came from.
public enum SocketSource: String, Sendable, Hashable {
    /// NETLINK_SOCK_DIAG (inet_diag), as `ss` reads it.
    case netlink
    /// `/proc/net/{tcp,tcp6,udp,udp6}`, as netstat reads it.
    case procfs
}

/// What could not be read while a snapshot was taken. A snapshot is always produced;
/// these counts say what it may be missing, so nothing is dropped silently.
public struct SamplingProblems: Sendable, Hashable {
    /// Processes that exited between listing /proc and reading their fds or stat.
    public var processesVanished: Int = 0
    /// fd directories that could not be opened (permission, or a kernel thread that hides them).
    public var fdDirectoriesUnreadable: Int = 0
    /// Socket tables (per proto and family) that could not be read by either source.
    public var socketTablesUnreadable: [String] = []
    /// True when netlink was asked for but refused, so /proc/net was read instead.
    public var netlinkFellBack: Bool = false
    /// The reason netlink was refused, for the log and /status.
    public var netlinkError: String?
    /// Lines of /proc/net files that could not be parsed, with the file's name.
    public var malformedLines: Int = 0
    /// Network namespaces seen but not read (no CAP_SYS_ADMIN to enter them, say), with why.
    public var namespacesNotRead: [UnreadNamespace] = []
    /// Dumps the kernel flagged inconsistent (a table changed while it was dumped,
    /// NLM_F_DUMP_INTR) and that were therefore taken again.
    public var dumpsRestarted: Int = 0
    /// Network namespaces that disappeared between being found and being entered.
    /// Not a problem by itself (nothing is missing: they are gone), so not in `isEmpty`.
    public var namespacesVanished: Int = 0

    /// A record of no problems.
    public init() {}

    /// True when everything was read.
    public var isEmpty: Bool {
        processesVanished == 0 && fdDirectoriesUnreadable == 0 && socketTablesUnreadable.isEmpty
            && !netlinkFellBack && malformedLines == 0 && namespacesNotRead.isEmpty
    }
}

/// Everything known about the host's sockets at one moment. Immutable once built;
/// the live API, the recorder and the CLI all read the same value.
public struct Snapshot: Sendable {
    /// Wall-clock time the sample started, in seconds since the Unix epoch.
    public let takenAt: Double
    /// How long the sample took, in seconds (dump plus owner walk).
    public let duration: Double
    /// Where the sockets were read from.
    public let source: SocketSource
    /// Every TCP and UDP socket, IPv4 and IPv6, every state.
    public let sockets: [Socket]
    /// What could not be read.
    public let problems: SamplingProblems
    /// uid -> user name, for every uid that appears in `sockets`.
    public let userNames: [UInt32: String]
    /// The network namespaces the sample looked at (the host's first), each saying
    /// whether it was read; every socket's `netns` is one of their inodes. Empty when
    /// namespaces were not looked at (a captured proc tree, a snapshot from history).
    public let namespaces: [NetNamespace]

    /// A snapshot from its parts.
    public init(
        takenAt: Double, duration: Double, source: SocketSource, sockets: [Socket],
        problems: SamplingProblems, userNames: [UInt32: String], namespaces: [NetNamespace] = []
    ) {
        self.takenAt = takenAt
        self.duration = duration
        self.source = source
        self.sockets = sockets
        self.problems = problems
        self.userNames = userNames
        self.namespaces = namespaces
    }

    /// The namespace with `inode`, if the sample looked at it.
    public func namespace(_ inode: UInt64?) -> NetNamespace? {
        guard let inode else { return nil }
        return namespaces.first { $0.inode == inode }
    }

    /// The user name for a uid, or the number as text when /etc/passwd lacks it.
    public func userName(_ uid: UInt32) -> String {
        userNames[uid] ?? String(uid)
    }
}

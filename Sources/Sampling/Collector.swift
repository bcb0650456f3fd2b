import Glibc

/// How a Collector reads: which tables, from where, and how much detail.
public struct CollectorOptions: Sendable {
    /// Which reader produces the socket list.
    public enum Source: String, Sendable, CaseIterable {
        /// netlink, falling back to /proc/net per table when the kernel refuses it.
        case auto
        /// netlink only; a refused table is reported, not replaced.
        case netlink
        /// /proc/net/{tcp,tcp6,udp,udp6} only.
        case procfs
    }

    /// The proc tree to read (`/proc`, or a captured one such as a sosreport's `proc/`).
    /// netlink always describes the live kernel, so with any other root `auto` reads procfs.
    public var procRoot: String = "/proc"
    /// Which reader to use.
    public var source: Source = .auto
    /// Protocols to read.
    public var protocols: Set<TransportProtocol> = [.tcp, .udp]
    /// Families to read.
    public var families: Set<AddressFamily> = [.ipv4, .ipv6]
    /// Only listening sockets (TCP LISTEN, unconnected UDP); filtered in the kernel.
    public var listeningOnly = false
    /// Ask the kernel for tcp_info (rtt, cwnd, bytes) of every TCP socket.
    public var tcpInfo = false
    /// Walk /proc/<pid>/fd to find each socket's processes.
    public var owners = true
    /// Read each owning process's /proc/<pid>/cgroup for its container.
    public var containers = true
    /// Which network namespaces to read (netlink only; /proc/net shows netstatd's own).
    public var namespaces: NamespaceScope = .preferred
    /// Namespaces dumped at once; nil for one per CPU, at most 4.
    public var dumpThreads: Int?
    /// In a long-running collector, trust cached fd -> socket links for this many
    /// samples before walking every fd again. 1 means always walk everything.
    public var fullOwnerWalkEvery = 1

    /// Options with the defaults above.
    public init() {}

    /// The proc root from `PROC_ROOT` when set, as `ss` honours it, else `/proc`.
    public static func defaultProcRoot(environment: [String: String]) -> String {
        if let root = environment["PROC_ROOT"], !root.isEmpty { return root }
        return "/proc"
    }
}

/// Takes snapshots: reads every socket table of every network namespace in scope,
/// then finds each socket's owners with one host-wide walk of /proc.
/// Keeps its netlink sockets (one per namespace) and owner cache between samples, so
/// one Collector should live as long as the process that samples. Not thread-safe:
/// sample from one task.
public final class Collector {
    /// The options this collector was made with.
    public let options: CollectorOptions
    private var diag: SockDiagReader?
    private var diagError: String?
    private let owners: SocketOwnerResolver
    private var userNames: UserNames
    /// Receive buffers for the netlink sockets, one per thread dumping at once.
    private let receiveBuffers: [NetlinkReceiveBuffer]
    private let tableDump: TableDump
    private let discovery: NamespaceDiscovery
    private let entered: NamespaceReaderTable

    /// A collector with `options`.
    public init(options: CollectorOptions) {
        self.options = options
        owners = SocketOwnerResolver(
            procRoot: options.procRoot, fullWalkEvery: options.fullOwnerWalkEvery, containers: options.containers)
        userNames = UserNames.load(procRoot: options.procRoot)
        discovery = NamespaceDiscovery(procRoot: options.procRoot)
        entered = NamespaceReaderTable(procRoot: options.procRoot)
        tableDump = TableDump(options: options)
        let dumpers = options.namespaces == .host
            ? 1 : max(1, options.dumpThreads ?? min(4, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        receiveBuffers = (0..<dumpers).map { _ in NetlinkReceiveBuffer() }
    }

    /// How many other network namespaces this collector holds a netlink socket in.
    public var enteredNamespaces: Int { entered.count }

    /// Whether netlink is to be tried for this collector's options.
    private var wantsNetlink: Bool {
        switch options.source {
        case .netlink: return true
        case .procfs: return false
        case .auto: return options.procRoot == "/proc"
        }
    }

    /// One snapshot of every socket. Never throws: what could not be read is counted
    /// in the snapshot's `problems`.
    public func sample() -> Snapshot {
        // Whole milliseconds: the precision times are stored and served at, so the
        // time a client reads back names this sample exactly.
        let started = Clock.seconds(milliseconds: Clock.milliseconds(Clock.wallSeconds()))
        let startedMonotonic = Clock.monotonicSeconds()
        var problems = SamplingProblems()
        // A walk that needs nothing from the dump (a one-shot collector's) runs while
        // the kernel dumps: the dump is one thread's work and would leave the other
        // CPUs idle, the walk is split across them.
        let walk = options.owners ? owners.startWalk() : nil
        var sockets: [Socket] = []
        if let totals = ProcNetSockstat.read(procRoot: options.procRoot) {
            sockets.reserveCapacity(totals.expectedSockets)
        }
        var source: SocketSource = .netlink
        var namespaces: [NetNamespace] = []

        if wantsNetlink {
            source = readNamespaces(into: &sockets, namespaces: &namespaces, problems: &problems)
        } else {
            source = .procfs
            sockets = readProcfs(tables: allTables, problems: &problems)
            // /proc/net is netstatd's own namespace; a captured tree's is unknown.
            if options.procRoot == "/proc", let own = discovery.ownOnly().first {
                namespaces = [own]
                for index in sockets.indices { sockets[index].netns = own.inode }
            }
        }
        if options.owners {
            owners.resolve(&sockets, started: walk, problems: &problems)
        }
        // By index, not `for socket in`: a copied socket retains and releases its owner list.
        var names: [UInt32: String] = [:]
        for index in sockets.indices where names[sockets[index].uid] == nil {
            let uid = sockets[index].uid
            names[uid] = userNames.name(uid) ?? String(uid)
        }
        return Snapshot(
            takenAt: started, duration: Clock.monotonicSeconds() - startedMonotonic, source: source,
            sockets: sockets, problems: problems, userNames: names, namespaces: namespaces)
    }

    /// Reads the namespaces in scope: netstatd's own through its own socket, every
    /// other through the socket kept open inside it. Each socket is labelled with its
    /// namespace. Returns where netstatd's own namespace was read from.
    private func readNamespaces(
        into sockets: inout [Socket], namespaces: inout [NetNamespace], problems: inout SamplingProblems
    ) -> SocketSource {
        let found: [NetNamespace]
        switch options.namespaces {
        case .host: found = discovery.ownOnly()
        case .all: found = discovery.all()
        case .only(let names): found = discovery.all().filter { namespace in names.contains { namespace.isNamed($0) } }
        }
        guard !found.isEmpty else {
            // None in scope now (every named one gone, say): the sockets held in
            // namespaces found before are closed all the same.
            _ = entered.update([])
            // No namespace could be identified (no /proc/self/ns/net): read our own,
            // unlabelled, as before namespaces were known.
            return options.namespaces == .host || options.namespaces == .all
                ? readNetlink(into: &sockets, problems: &problems) : .netlink
        }
        let update = entered.update(found)
        problems.namespacesVanished += update.vanished.count
        let present = found.filter { !update.vanished.contains($0.inode) }
        // Every entered namespace is dumped at once, several at a time; the sockets
        // are then laid out namespace by namespace in `found`'s order (the host's first).
        let others = present.filter { !$0.isOwn }.compactMap { namespace in
            entered.reader(namespace.inode).map { (inode: namespace.inode, reader: $0) }
        }
        let results = tableDump.run(others.map(\.reader), buffers: receiveBuffers)
        problems.dumpsRestarted += others.reduce(0) { $0 + $1.reader.takeRestarts() }
        var resultAt: [UInt64: Int] = [:]
        for (position, other) in others.enumerated() { resultAt[other.inode] = position }

        var source = SocketSource.netlink
        namespaces.reserveCapacity(present.count)
        for var namespace in present {
            let before = sockets.count
            if namespace.isOwn {
                source = readNetlink(into: &sockets, problems: &problems)
                namespace.cookie = diag?.namespaceCookie
                namespace.tcpTableBuckets = diag?.tcpTableBuckets
            } else if let position = resultAt[namespace.inode] {
                namespace.cookie = entered.reader(namespace.inode)?.namespaceCookie
                namespace.tcpTableBuckets = entered.reader(namespace.inode)?.tcpTableBuckets
                sockets += results[position].sockets
                namespace.unreadReason = fallBack(namespace, results[position], into: &sockets, problems: &problems)
            } else {
                namespace.unreadReason = update.failures[namespace.inode] ?? "not entered: no process or mount to enter it through"
            }
            if let reason = namespace.unreadReason {
                problems.namespacesNotRead.append(UnreadNamespace(inode: namespace.inode, name: namespace.name, reason: reason))
            }
            for index in before..<sockets.count { sockets[index].netns = namespace.inode }
            namespaces.append(namespace)
        }
        return source
    }

    /// For an entered namespace whose dump the kernel refused some tables of, reads
    /// those from `/proc/<pid>/net` of a process inside it (in `auto` mode, when one
    /// is). Returns why some tables could not be read, nil when all were.
    private func fallBack(
        _ namespace: NetNamespace, _ dumped: TableDump.Result, into sockets: inout [Socket],
        problems: inout SamplingProblems
    ) -> String? {
        let (refused, error) = (dumped.refused, dumped.error)
        guard !refused.isEmpty else { return nil }
        if options.source == .auto, let pid = namespace.pid {
            var local = SamplingProblems()
            var fallback = ProcNetSockets.read(procRoot: "\(options.procRoot)/\(pid)", tables: refused, problems: &local)
            if options.listeningOnly { fallback.removeAll { !$0.isListening } }
            sockets += fallback
            problems.malformedLines += local.malformedLines
            if local.socketTablesUnreadable.isEmpty { return nil }
            return "tables unreadable: " + local.socketTablesUnreadable.joined(separator: "; ")
        }
        return "tables refused (" + refused.map { "\($0.0.rawValue)/\($0.1.rawValue)" }.joined(separator: ", ")
            + "): " + (error ?? "?")
    }

    private var allTables: [(TransportProtocol, AddressFamily)] { tableDump.tables }

    /// Reads each table over netlink; a table the kernel refuses (no udp_diag module,
    /// say) is read from /proc/net instead in `auto` mode.
    private func readNetlink(into sockets: inout [Socket], problems: inout SamplingProblems) -> SocketSource {
        if diag == nil && diagError == nil {
            do { diag = try SockDiagReader() } catch { diagError = String(describing: error) }
        }
        guard let diag else {
            problems.netlinkError = diagError
            if options.source == .auto {
                problems.netlinkFellBack = true
                // Appended: another namespace (the host's) may have been read before ours.
                sockets += readProcfs(tables: allTables, problems: &problems)
                return .procfs
            }
            problems.socketTablesUnreadable = allTables.map { "\($0.0.rawValue)/\($0.1.rawValue)" }
            return .netlink
        }
        let (refused, error) = tableDump.run(diag, buffer: receiveBuffers[0], into: &sockets)
        problems.dumpsRestarted += diag.takeRestarts()
        if let error { problems.netlinkError = error }
        if !refused.isEmpty {
            if options.source == .auto {
                problems.netlinkFellBack = true
                sockets += readProcfs(tables: refused, problems: &problems)
            } else {
                problems.socketTablesUnreadable += refused.map { "\($0.0.rawValue)/\($0.1.rawValue)" }
            }
        }
        return .netlink
    }

    private func readProcfs(tables: [(TransportProtocol, AddressFamily)], problems: inout SamplingProblems) -> [Socket] {
        var sockets = ProcNetSockets.read(procRoot: options.procRoot, tables: tables, problems: &problems)
        if options.listeningOnly { sockets.removeAll { !$0.isListening } }
        return sockets
    }
}

/// Wall and monotonic clocks in seconds, shared by every module.
public enum Clock {
    /// Seconds since the Unix epoch.
    public static func wallSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Whole milliseconds since the epoch of `seconds` (rounded), the one precision
    /// times are stored and served at. Non-finite or out-of-range values are clamped
    /// (years 0000 to 9999) instead of trapping.
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in milliseconds: the range
    /// RFC 3339's four-digit years can write, and so the range of every stored time.
    public static let earliestMilliseconds: Int64 = -62_167_219_200_000
    public static let latestMilliseconds: Int64 = 253_402_300_799_999

    public static func milliseconds(_ seconds: Double) -> Int64 {
        let earliest = earliestMilliseconds, latest = latestMilliseconds
        guard seconds.isFinite else { return seconds > 0 ? latest : earliest }
        let millis = (seconds * 1000).rounded()
        if millis <= Double(earliest) { return earliest }
        if millis >= Double(latest) { return latest }
        return Int64(millis)
    }

    /// Seconds of whole milliseconds since the epoch.
    public static func seconds(milliseconds: Int64) -> Double {
        Double(milliseconds) / 1000
    }

    /// Seconds on a clock that never goes back, for durations.
    public static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

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

/// Takes snapshots: reads every socket table, then finds each socket's owners.
/// Keeps its netlink socket and owner cache between samples, so one Collector should
/// live as long as the process that samples. Not thread-safe: sample from one task.
public final class Collector {
    /// The options this collector was made with.
    public let options: CollectorOptions
    private var diag: SockDiagReader?
    private var diagError: String?
    private let owners: SocketOwnerResolver
    private var userNames: UserNames

    /// A collector with `options`.
    public init(options: CollectorOptions) {
        self.options = options
        owners = SocketOwnerResolver(procRoot: options.procRoot, fullWalkEvery: options.fullOwnerWalkEvery)
        userNames = UserNames.load(procRoot: options.procRoot)
    }

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
        var sockets: [Socket] = []
        if let totals = ProcNetSockstat.read(procRoot: options.procRoot) {
            sockets.reserveCapacity(totals.expectedSockets)
        }
        var source: SocketSource = .netlink

        if wantsNetlink {
            source = readNetlink(into: &sockets, problems: &problems)
        } else {
            source = .procfs
            sockets = readProcfs(tables: allTables, problems: &problems)
        }
        if options.owners {
            owners.resolve(&sockets, problems: &problems)
        }
        var names: [UInt32: String] = [:]
        for socket in sockets where names[socket.uid] == nil {
            names[socket.uid] = userNames.name(socket.uid) ?? String(socket.uid)
        }
        return Snapshot(
            takenAt: started, duration: Clock.monotonicSeconds() - startedMonotonic, source: source,
            sockets: sockets, problems: problems, userNames: names)
    }

    private var allTables: [(TransportProtocol, AddressFamily)] {
        var tables: [(TransportProtocol, AddressFamily)] = []
        for proto in [TransportProtocol.tcp, .udp] where options.protocols.contains(proto) {
            for family in [AddressFamily.ipv4, .ipv6] where options.families.contains(family) {
                tables.append((proto, family))
            }
        }
        return tables
    }

    private func stateMask(for proto: TransportProtocol) -> UInt32 {
        guard options.listeningOnly else { return SocketState.allStatesMask }
        return 1 << UInt32(proto == .tcp ? SocketState.listen.rawValue : SocketState.close.rawValue)
    }

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
                sockets = readProcfs(tables: allTables, problems: &problems)
                return .procfs
            }
            problems.socketTablesUnreadable = allTables.map { "\($0.0.rawValue)/\($0.1.rawValue)" }
            return .netlink
        }
        var refused: [(TransportProtocol, AddressFamily)] = []
        var tables = allTables
        if options.protocols.contains(.tcp) && options.families.count == 2 {
            let before = sockets.count
            do {
                try diag.dumpTCPBothFamilies(states: stateMask(for: .tcp), tcpInfo: options.tcpInfo, into: &sockets)
                tables.removeAll { $0.0 == .tcp }
            } catch {
                // Kernels without the compat request answer per family below.
                sockets.removeSubrange(before...)
            }
        }
        for (proto, family) in tables {
            let before = sockets.count
            do {
                try diag.dump(family: family, proto: proto, states: stateMask(for: proto),
                              tcpInfo: options.tcpInfo, into: &sockets)
            } catch {
                sockets.removeSubrange(before...)
                problems.netlinkError = String(describing: error)
                refused.append((proto, family))
            }
        }
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
    public static func milliseconds(_ seconds: Double) -> Int64 {
        let earliest: Int64 = -62_167_219_200_000, latest: Int64 = 253_402_300_799_999
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

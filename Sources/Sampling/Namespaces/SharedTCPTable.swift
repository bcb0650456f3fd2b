/// Whether network namespaces share the host's TCP connection table, which decides
/// what sampling many namespaces costs.
///
/// A sock_diag dump walks every bucket of the TCP established hash
/// (inet_diag_dump_icsk), keeping the sockets of the namespace asked about. By default
/// every namespace shares the host's hash (one bucket per ~100 KB of RAM: 262,144 on
/// a 24 GB machine), so each namespace's dump, netstatd's and `ss`'s alike, walks all
/// of it: 100 namespaces cost 3.7 times their sockets in one namespace
/// (`bench/namespaces`). No other kernel interface lists a namespace's sockets
/// without that walk. `net.ipv4.tcp_child_ehash_entries` (Linux 6.1+) gives
/// namespaces made after it is set a table of their own, and the walks then cost
/// what their sockets do. netstatd cannot change it for namespaces that exist: it
/// reads each namespace's table as it enters it (`NetNamespace.tcpTableBuckets`) and
/// says once what to do when enough of them share the host's.
public struct SharedTCPTable: Sendable, Equatable {
    /// `net.ipv4.tcp_child_ehash_entries` in netstatd's namespace (which decides the
    /// table of namespaces made from it, as container runtimes on the host do); nil
    /// where the kernel lacks it (before 6.1) or it cannot be read.
    public var childEntries: Int?

    /// Namespaces from which the extra walks are worth a line: a walk of a shared
    /// table takes 1-3 ms, so ten of them are tens of milliseconds a sample.
    public static let adviceThreshold = 10

    public init(childEntries: Int?) {
        self.childEntries = childEntries
    }

    /// The setting under `<procRoot>/sys/net/ipv4`.
    public static func read(procRoot: String) -> SharedTCPTable {
        SharedTCPTable(childEntries: setting("tcp_child_ehash_entries", procRoot: procRoot))
    }

    /// `tcp_ehash_entries` of the namespace the calling thread is in: its own
    /// table's buckets, or negated the host's it shares (`NetNamespace.tcpTableBuckets`).
    public static func ownBuckets(procRoot: String) -> Int? {
        setting("tcp_ehash_entries", procRoot: procRoot)
    }

    private static func setting(_ name: String, procRoot: String) -> Int? {
        guard let text = try? FileContents.text(atPath: "\(procRoot)/sys/net/ipv4/\(name)") else { return nil }
        return Int(Substring(text).trimmingCharacters(in: " \n\t"))
    }

    /// How many of `namespaces` share the host's TCP table.
    public static func sharing(_ namespaces: [NetNamespace]) -> Int {
        namespaces.lazy.filter { $0.sharesHostTCPTable == true }.count
    }

    /// What to tell an operator about the namespaces of a sample, or nil when there
    /// is nothing to do: few of them share the host's table, or the kernel lacks the
    /// setting.
    public func advice(for namespaces: [NetNamespace]) -> String? {
        let sharing = Self.sharing(namespaces)
        guard sharing >= Self.adviceThreshold, let childEntries else { return nil }
        // A namespace that shares the host's table shows the host's size, negated.
        let hostBuckets = namespaces.lazy.compactMap(\.tcpTableBuckets).first { $0 < 0 }.map { -$0 }
        let walk = "each one's dump walks " + (hostBuckets.map { "all \($0) buckets of it" } ?? "all of it")
        let counted = "\(sharing) of the \(namespaces.count) network namespaces sampled"
        if childEntries == 0 {
            return "\(counted) share the host's TCP table (net.ipv4.tcp_child_ehash_entries = 0): \(walk). "
                + "Setting it (for example sysctl -w net.ipv4.tcp_child_ehash_entries=1024) gives namespaces made "
                + "afterwards a table of their own, and their samples cost what their sockets do (README: Namespaces)."
        }
        return "\(counted) still share the host's TCP table, and \(walk): net.ipv4.tcp_child_ehash_entries is "
            + "\(childEntries) in netstatd's namespace, so they were made before it was set or from a namespace "
            + "where it is not. They get a table of their own when made again (a container restarted); "
            + "/api/v1/namespaces says which (tcp_table)."
    }
}

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
/// what their sockets do. netstatd cannot change it for namespaces that exist, so it
/// says so once, at start.
public struct SharedTCPTable: Sendable, Equatable {
    /// `net.ipv4.tcp_child_ehash_entries` in netstatd's namespace (which decides the
    /// table of namespaces made from it, as container runtimes on the host do); nil
    /// where the kernel lacks it (before 6.1) or it cannot be read.
    public var childEntries: Int?
    /// `net.ipv4.tcp_ehash_entries` of netstatd's namespace: the buckets each shared
    /// walk covers; nil where unknown.
    public var hostBuckets: Int?

    /// Namespaces from which the extra walks are worth a line: a walk of a shared
    /// table takes 1-3 ms, so ten of them are tens of milliseconds a sample.
    public static let adviceThreshold = 10

    public init(childEntries: Int?, hostBuckets: Int?) {
        self.childEntries = childEntries
        self.hostBuckets = hostBuckets
    }

    /// The two settings under `<procRoot>/sys/net/ipv4`.
    public static func read(procRoot: String) -> SharedTCPTable {
        func value(_ name: String) -> Int? {
            guard let text = try? FileContents.text(atPath: "\(procRoot)/sys/net/ipv4/\(name)") else { return nil }
            return Int(Substring(text).trimmingCharacters(in: " \n\t"))
        }
        // A namespace sharing the host's table (netstatd in a container) shows its
        // size negated.
        return SharedTCPTable(childEntries: value("tcp_child_ehash_entries"), hostBuckets: value("tcp_ehash_entries").map(abs))
    }

    /// What to tell an operator sampling `namespaces` network namespaces, or nil when
    /// there is nothing to do: few namespaces, a table per namespace already, or a
    /// kernel without the setting.
    public func advice(namespaces: Int) -> String? {
        guard namespaces >= Self.adviceThreshold, childEntries == 0 else { return nil }
        let buckets = hostBuckets.map { "all \($0) buckets of it" } ?? "all of it"
        return "\(namespaces) network namespaces are sampled, and with net.ipv4.tcp_child_ehash_entries = 0 "
            + "namespaces share the host's TCP table: each one's dump walks \(buckets). "
            + "Setting it (for example sysctl -w net.ipv4.tcp_child_ehash_entries=1024) gives namespaces made "
            + "afterwards a table of their own, and their samples cost what their sockets do (README: Namespaces)."
    }
}

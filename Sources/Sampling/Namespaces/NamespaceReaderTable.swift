import Glibc

/// The sock_diag sockets a Collector holds in other network namespaces, by namespace
/// inode. A socket is opened (through `NamespaceEntry`) the first time its namespace
/// is seen, kept across samples, and closed in the first sample that no longer finds
/// the namespace. That close matters beyond the fd: an open socket keeps its network
/// namespace alive in the kernel, so a deleted namespace lingers at most one interval.
///
/// Not thread-safe: one table belongs to one Collector, which samples serially.
final class NamespaceReaderTable {
    /// What `update` found.
    struct Update {
        /// Namespaces that could not be entered, with why (`setns: Operation not permitted`).
        var failures: [UInt64: String] = [:]
        /// Namespaces gone between being found and being entered (their process
        /// exited, their pid now names a process elsewhere): not an error, nothing is lost.
        var vanished: Set<UInt64> = []
    }

    private let procRoot: String
    private var readers: [UInt64: SockDiagReader] = [:]
    /// Namespaces that refused entry for lack of privilege (EPERM, EACCES): not tried
    /// again while they exist, since retrying cannot succeed and costs a thread.
    private var refused: [UInt64: String] = [:]

    /// A table entering namespaces through `procRoot`.
    init(procRoot: String) {
        self.procRoot = procRoot
    }

    /// How many namespaces a socket is held open in.
    var count: Int { readers.count }

    /// The reader for the namespace `inode`, if one is open.
    func reader(_ inode: UInt64) -> SockDiagReader? { readers[inode] }


    /// Brings the table in line with `namespaces` (netstatd's own excluded: it is
    /// read without entering): closes the sockets of namespaces that are gone and
    /// opens one in each new namespace, all new ones on one entry thread.
    func update(_ namespaces: [NetNamespace]) -> Update {
        var result = Update()
        let present = Set(namespaces.lazy.filter { !$0.isOwn }.map(\.inode))
        // Dropping a reader closes its socket (NetlinkSocket's deinit).
        readers = readers.filter { present.contains($0.key) }
        refused = refused.filter { present.contains($0.key) }

        var entering: [NetNamespace] = []
        for namespace in namespaces where !namespace.isOwn && readers[namespace.inode] == nil {
            if let reason = refused[namespace.inode] {
                result.failures[namespace.inode] = reason
            } else {
                entering.append(namespace)
            }
        }
        let entered = NamespaceEntry.enter(entering, procRoot: procRoot, held: readers.count) {
            let socket = NetlinkSocket.openSockDiag()
            guard socket >= 0 else { return .failed(call: "socket", errno: errno) }
            // /proc/sys shows the reading thread's namespace: this one, now.
            return .socket(socket, tcpTableBuckets: SharedTCPTable.ownBuckets(procRoot: "/proc"))
        }
        for (inode, socket) in entered.sockets {
            readers[inode] = SockDiagReader(socket: NetlinkSocket(adopting: socket), tcpTableBuckets: entered.tcpTableBuckets[inode])
        }
        for (inode, failure) in entered.failures {
            result.failures[inode] = failure.reason
            if failure.refused { refused[inode] = failure.reason }
        }
        result.vanished = entered.vanished
        return result
    }

    /// Closes every socket.
    func removeAll() {
        readers.removeAll()
        refused.removeAll()
    }
}

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

        var pending: [(inode: UInt64, fd: Int32)] = []
        defer { for entry in pending { close(entry.fd) } }
        for namespace in namespaces where !namespace.isOwn && readers[namespace.inode] == nil {
            if let reason = refused[namespace.inode] {
                result.failures[namespace.inode] = reason
                continue
            }
            // A bind mount names the namespace for good; a pid may already name a
            // different process, which the inode check below catches.
            guard let path = namespace.mountPath ?? namespace.pid.map({ "\(procRoot)/\($0)/ns/net" }) else { continue }
            if readers.count + pending.count + 32 >= Self.fileLimit() { Self.raiseFileLimit() }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                switch code {
                case ENOENT, ESRCH:
                    result.vanished.insert(namespace.inode)
                case EACCES, EPERM:
                    refused[namespace.inode] = "open \(path): \(Self.text(code))"
                    result.failures[namespace.inode] = refused[namespace.inode]
                default:
                    result.failures[namespace.inode] = "open \(path): \(Self.text(code))"
                }
                continue
            }
            var info = stat()
            guard fstat(fd, &info) == 0, UInt64(info.st_ino) == namespace.inode else {
                close(fd)
                result.vanished.insert(namespace.inode)
                continue
            }
            pending.append((namespace.inode, fd))
        }

        let outcomes = NamespaceEntry.openSockDiag(inNamespaces: pending.map(\.fd))
        for (entry, outcome) in zip(pending, outcomes) {
            switch outcome {
            case .socket(let socket):
                readers[entry.inode] = SockDiagReader(socket: NetlinkSocket(adopting: socket))
            case .failed(let call, let code):
                var reason = "\(call): \(Self.text(code))"
                if call == "setns" && code == EPERM {
                    reason += " (entering another network namespace needs CAP_SYS_ADMIN)"
                    refused[entry.inode] = reason
                }
                result.failures[entry.inode] = reason
            }
        }
        return result
    }

    /// Closes every socket.
    func removeAll() {
        readers.removeAll()
        refused.removeAll()
    }

    private static func text(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }

    private static func fileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return Int.max }
        return limit.rlim_cur >= UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// One socket per namespace can pass the usual soft limit of 1,024 fds on a host
    /// with many containers; the hard limit is what the administrator allows.
    private static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

import Glibc
internal import CNetlink

/// Opens sockets inside other network namespaces: a NETLINK_SOCK_DIAG socket to dump
/// their tables (`NamespaceReaderTable`), one subscribed to their close events
/// (`CloseEventSocket.open(in:)`).
///
/// setns(2) moves only the calling thread, and a socket stays in the namespace it
/// was made in whichever thread uses it later (net/core/sock.c takes the creator's
/// `current->nsproxy->net_ns`). So a batch runs on a thread of its own: it enters
/// each namespace in turn, opens a socket there, and exits, taking its changed
/// namespace with it. The caller waits for it (pthread_join): no thread outlives a
/// call, and no thread that sampling or HTTP uses ever leaves netstatd's namespace.
/// The namespace fds stay the caller's to close.
enum NamespaceEntry {
    /// The entry thread's name (`/proc/<pid>/task/<tid>/comm`), so a leak would show.
    static let threadName = "netstatd-setns"

    /// What entering one namespace gave.
    enum Outcome: Sendable, Equatable {
        /// A socket inside it, now the caller's to close, and the namespace's
        /// `tcp_ehash_entries` when the opener read it.
        case socket(Int32, tcpTableBuckets: Int? = nil)
        /// The call that failed (`setns`, `socket`, `bind`, `pthread_create`) and its errno.
        case failed(call: String, errno: Int32)
    }

    /// Why a namespace could not be entered.
    struct Failure: Sendable, Equatable {
        /// The failing call and errno in words (`setns: Operation not permitted (errno 1)`),
        /// with the capability it lacked where that is the cause.
        var reason: String
        /// True when privilege is what is missing (EPERM, EACCES): trying again while
        /// the namespace exists cannot succeed and costs a thread.
        var refused: Bool
    }

    /// What `enter` made of a batch of namespaces, by inode.
    struct Entered {
        /// The sockets opened, now the caller's to close.
        var sockets: [UInt64: Int32] = [:]
        /// The namespaces' `tcp_ehash_entries`, where the opener read them.
        var tcpTableBuckets: [UInt64: Int] = [:]
        /// Namespaces that could not be entered, with why.
        var failures: [UInt64: Failure] = [:]
        /// Namespaces gone between being found and being entered (their process
        /// exited, their pid now names a process elsewhere): not an error, nothing is lost.
        var vanished: Set<UInt64> = []
    }

    /// Opens a socket with `opening` inside each of `namespaces` (none of them
    /// netstatd's own), all on one entry thread: each is entered through its bind
    /// mount, else `<procRoot>/<pid>/ns/net`, checked to be still that namespace.
    /// `held` is how many namespaces the caller already holds a socket in.
    static func enter(
        _ namespaces: [NetNamespace], procRoot: String, held: Int, opening: @escaping @Sendable () -> Outcome
    ) -> Entered {
        var result = Entered()
        guard !namespaces.isEmpty else { return result }
        // Each namespace can cost netstatd two sockets (a dump socket and a close-event
        // one) and, while entering, its namespace file: the usual soft limit of 1,024
        // fds is passed on a host with a few hundred containers.
        if 3 * (held + namespaces.count) + 64 >= fileLimit() { raiseFileLimit() }
        var pending: [(inode: UInt64, fd: Int32)] = []
        defer { for entry in pending { close(entry.fd) } }
        for namespace in namespaces {
            // A bind mount names the namespace for good; a pid may already name a
            // different process, which the inode check below catches.
            guard let path = namespace.mountPath ?? namespace.pid.map({ "\(procRoot)/\($0)/ns/net" }) else {
                result.failures[namespace.inode] = Failure(reason: "not entered: no process or mount to enter it through", refused: false)
                continue
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                switch code {
                case ENOENT, ESRCH:
                    result.vanished.insert(namespace.inode)
                default:
                    result.failures[namespace.inode] = Failure(reason: "open \(path): \(text(code))", refused: code == EACCES || code == EPERM)
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

        let outcomes = run(inNamespaces: pending.map(\.fd), opening: opening)
        for (entry, outcome) in zip(pending, outcomes) {
            switch outcome {
            case .socket(let socket, let buckets):
                result.sockets[entry.inode] = socket
                if let buckets { result.tcpTableBuckets[entry.inode] = buckets }
            case .failed(let call, let code):
                var reason = "\(call): \(text(code))"
                let refused = code == EPERM || code == EACCES
                if call == "setns" && refused {
                    reason += " (entering another network namespace needs CAP_SYS_ADMIN)"
                }
                result.failures[entry.inode] = Failure(reason: reason, refused: refused)
            }
        }
        return result
    }

    /// What `opening` gave in each namespace of `namespaceFDs`, in the same order;
    /// `opening` runs on the entry thread once it has entered each.
    static func run(inNamespaces namespaceFDs: [Int32], opening: @escaping @Sendable () -> Outcome) -> [Outcome] {
        guard !namespaceFDs.isEmpty else { return [] }
        let batch = Batch(namespaceFDs: namespaceFDs, opening: opening)
        let context = Unmanaged.passRetained(batch).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let batch = Unmanaged<Batch>.fromOpaque(context!).takeRetainedValue()
            batch.run()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Batch>.fromOpaque(context).release()
            return namespaceFDs.map { _ in .failed(call: "pthread_create", errno: created) }
        }
        pthread_join(thread, nil)
        return batch.outcomes
    }

    /// An errno in words, with its number.
    static func text(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }

    private static func fileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return Int.max }
        return limit.rlim_cur >= UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// Raises the soft fd limit to the hard one: the hard limit is what the
    /// administrator allows.
    private static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// The work of one entry thread.
    private final class Batch: @unchecked Sendable {
        // @unchecked: `outcomes` is written by the entry thread alone, and read by
        // the caller only after pthread_join has returned (which orders the two).
        let namespaceFDs: [Int32]
        let opening: @Sendable () -> Outcome
        var outcomes: [Outcome] = []

        init(namespaceFDs: [Int32], opening: @escaping @Sendable () -> Outcome) {
            self.namespaceFDs = namespaceFDs
            self.opening = opening
            outcomes.reserveCapacity(namespaceFDs.count)
        }

        /// Runs on the entry thread.
        func run() {
            // Named through /proc (Glibc's Swift module lacks pthread_setname_np),
            // before leaving netstatd's namespace.
            let comm = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if comm >= 0 {
                _ = NamespaceEntry.threadName.withCString { write(comm, $0, strlen($0)) }
                close(comm)
            }
            for fd in namespaceFDs {
                guard netstatd_setns(fd, NETSTATD_CLONE_NEWNET) == 0 else {
                    outcomes.append(.failed(call: "setns", errno: errno))
                    continue
                }
                outcomes.append(opening())
            }
        }
    }
}

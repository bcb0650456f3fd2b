import Glibc
internal import CNetlink

/// Opens NETLINK_SOCK_DIAG sockets inside other network namespaces.
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
        /// A NETLINK_SOCK_DIAG socket inside it, now the caller's to close.
        case socket(Int32)
        /// The call that failed (`setns`, `socket`, `pthread_create`) and its errno.
        case failed(call: String, errno: Int32)
    }

    /// One socket (or failure) per fd in `namespaceFDs`, each an open
    /// `/proc/<pid>/ns/net` or `/run/netns/NAME`, in the same order.
    static func openSockDiag(inNamespaces namespaceFDs: [Int32]) -> [Outcome] {
        guard !namespaceFDs.isEmpty else { return [] }
        let batch = Batch(namespaceFDs: namespaceFDs)
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

    /// The work of one entry thread.
    private final class Batch: @unchecked Sendable {
        // @unchecked: `outcomes` is written by the entry thread alone, and read by
        // the caller only after pthread_join has returned (which orders the two).
        let namespaceFDs: [Int32]
        var outcomes: [Outcome] = []

        init(namespaceFDs: [Int32]) {
            self.namespaceFDs = namespaceFDs
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
                let socket = NetlinkSocket.openSockDiag()
                outcomes.append(socket >= 0 ? .socket(socket) : .failed(call: "socket", errno: errno))
            }
        }
    }
}

import Glibc

extension CloseEventSocket {
    /// What opening a close-event socket inside one namespace gave.
    public enum Opening {
        /// A socket subscribed inside the namespace (its `netns` is the namespace's inode).
        case opened(CloseEventSocket)
        /// The namespace could not be followed, and why (naming the capability when
        /// one is missing). `refused` says privilege is what is missing: trying again
        /// while the namespace exists cannot succeed.
        case failed(reason: String, refused: Bool)
        /// The namespace was gone before it could be entered: nothing to follow.
        case vanished
    }

    /// Opens one socket subscribed to the close events inside each of `namespaces`
    /// (netstatd's own is skipped: `init(receiveBuffer:)` opens that one), entering them
    /// all on one short-lived thread as sampling does (`NamespaceEntry`): setns(2)
    /// needs CAP_SYS_ADMIN, joining the groups CAP_NET_ADMIN in the namespace.
    /// `held` is how many namespaces the caller already follows (to raise the fd
    /// limit in time); `receiveBuffer` is each socket's, as in `init(receiveBuffer:)`.
    public static func open(
        in namespaces: [NetNamespace], procRoot: String = "/proc", held: Int = 0, receiveBuffer: Int = 8 << 20
    ) -> [UInt64: Opening] {
        let others = namespaces.filter { !$0.isOwn }
        let entered = NamespaceEntry.enter(others, procRoot: procRoot, held: held) {
            openDescriptor(receiveBuffer: receiveBuffer)
        }
        var openings: [UInt64: Opening] = [:]
        for (inode, fd) in entered.sockets {
            openings[inode] = .opened(CloseEventSocket(adopting: fd, netns: inode))
        }
        for (inode, failure) in entered.failures {
            var reason = failure.reason
            // net/core/sock_diag.c (sock_diag_bind) asks for CAP_NET_ADMIN over the
            // namespace's user namespace.
            if failure.refused && reason.hasPrefix("bind") { reason += " (joining the close-event groups needs CAP_NET_ADMIN)" }
            openings[inode] = .failed(reason: reason, refused: failure.refused)
        }
        for inode in entered.vanished { openings[inode] = .vanished }
        return openings
    }
}

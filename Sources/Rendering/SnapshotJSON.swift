public import Sampling

/// The document `netstatd snapshot --json` prints:
/// `{"taken_at", "source", "problems", "namespaces": [...], "sockets": [...]}`, written in pieces so a
/// 200,000-socket snapshot never sits in memory twice.
public enum SnapshotJSON {
    /// Writes `snapshot` (only the sockets passing `include`), lending each filled
    /// piece of roughly `chunkSize` bytes to `emit` (valid only during the call: the
    /// one buffer is reused for the next piece).
    public static func write(
        _ snapshot: Snapshot, detail: SocketJSON.Detail, chunkSize: Int = 1 << 18,
        include: (borrowing Socket) -> Bool = { _ in true }, emit: (UnsafeRawBufferPointer) -> Void
    ) {
        var json = JSONWriter(capacity: chunkSize + 4096)
        json.beginObject()
        json.key("taken_at"); json.string(Timestamp.rfc3339(snapshot.takenAt))
        json.key("duration_ms"); json.number((snapshot.duration * 1e6).rounded() / 1e3)
        json.key("source"); json.string(snapshot.source.rawValue)
        json.key("problems"); problems(snapshot.problems, to: &json)
        json.key("namespaces")
        json.beginArray()
        for namespace in snapshot.namespaces { NamespaceJSON.write(namespace, to: &json) }
        json.endArray()
        json.key("sockets")
        json.beginArray()
        // Read in place: a `for socket in` loop copies each socket (retaining its
        // owner list) only to write it. The user name is looked up again only when
        // the uid differs from the previous socket's: most of a host's sockets
        // belong to one or two users.
        var user: (uid: UInt32, name: String)?
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            for index in sockets.indices where include(sockets[index]) {
                let uid = sockets[index].uid
                if user?.uid != uid { user = (uid, snapshot.userName(uid)) }
                SocketJSON.write(sockets[index], user: user!.name, detail: detail, to: &json)
                if json.bytes.count >= chunkSize { json.flush(emit) }
            }
        }
        json.endArray()
        json.endObject()
        json.newline()
        json.flush(emit)
    }

    /// Writes the `problems` object: what the sample could not read.
    public static func problems(_ problems: SamplingProblems, to json: inout JSONWriter) {
        json.beginObject()
        json.key("processes_vanished"); json.number(problems.processesVanished)
        json.key("fd_directories_unreadable"); json.number(problems.fdDirectoriesUnreadable)
        json.key("socket_tables_unreadable")
        json.beginArray()
        for table in problems.socketTablesUnreadable { json.string(table) }
        json.endArray()
        json.key("netlink_fell_back"); json.bool(problems.netlinkFellBack)
        json.key("netlink_error")
        if let error = problems.netlinkError { json.string(error) } else { json.null() }
        json.key("malformed_lines"); json.number(problems.malformedLines)
        json.key("dumps_restarted"); json.number(problems.dumpsRestarted)
        json.key("namespaces_not_read")
        json.beginArray()
        for unread in problems.namespacesNotRead {
            json.beginObject()
            json.key("inode"); json.number(unread.inode)
            json.key("name")
            if let name = unread.name { json.string(name) } else { json.null() }
            json.key("reason"); json.string(unread.reason)
            json.endObject()
        }
        json.endArray()
        json.key("namespaces_vanished"); json.number(problems.namespacesVanished)
        json.endObject()
    }
}

import Rendering
import Sampling
import Service
import Store

/// JSON shapes of history answers.
enum HistoryJSON {
    static func connection(_ connection: HistoricConnection, user: String, to json: inout JSONWriter) {
        json.beginObject()
        identity(connection, user: user, to: &json)
        // A connection seen only through its close event opened at an unknown moment
        // after the sample before its close: null, not a made-up time.
        json.key("first_seen")
        if connection.firstSeenKnown { json.string(Timestamp.rfc3339(connection.firstSeen)) } else { json.null() }
        json.key("last_seen")
        if let last = connection.lastSeen { json.string(Timestamp.rfc3339(last)) } else { json.null() }
        json.key("closed_during_gap"); json.bool(connection.closedDuringGap)
        json.key("duration_ms"); if let duration = connection.durationMs { json.number(duration.rounded()) } else { json.null() }
        json.key("totals"); totals(connection.totals, to: &json)
        json.key("container")
        if let container = connection.cgroup.flatMap({ ProcPidCgroup.classify(Substring($0)) }) {
            NamespaceJSON.container(container, to: &json)
        } else {
            json.null()
        }
        json.key("states"); json.beginArray()
        for entry in connection.states {
            json.beginObject()
            json.key("at"); json.string(Timestamp.rfc3339(entry.at))
            json.key("state"); json.string(entry.state.name(for: connection.proto))
            json.endObject()
        }
        json.endArray()
        json.key("owners"); json.beginArray()
        for owner in connection.owners { self.owner(owner, to: &json) }
        json.endArray()
        json.key("backlog"); json.beginArray()
        for episode in connection.backlog {
            json.beginObject()
            json.key("start"); json.string(Timestamp.rfc3339(episode.start))
            json.key("end")
            if let end = episode.end { json.string(Timestamp.rfc3339(end)) } else { json.null() }
            json.key("peak_recv_q"); json.number(episode.peakRecvQ)
            json.key("peak_send_q"); json.number(episode.peakSendQ)
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }

    // The shapes the event feed shares: one writer, in Service's EventLine.
    static func totals(_ totals: ConnectionTotals?, to json: inout JSONWriter) {
        EventLine.totals(totals, to: &json)
    }

    static func identity(_ connection: HistoricConnection, user: String, to json: inout JSONWriter) {
        EventLine.identity(connection, user: user, to: &json)
    }

    static func owner(_ owner: HistoricOwner, to json: inout JSONWriter) {
        EventLine.owner(owner, to: &json)
    }

    /// The socket as it stood at `time`: state and owners then. Queues are not kept
    /// per sample (see the backlog episodes), so they read 0.
    static func socket(_ connection: HistoricConnection, at time: Double) -> Socket {
        let owners = connection.owners(at: time)
        let queues = connection.queues(at: time)
        return Socket(
            proto: connection.proto, family: connection.family, state: connection.state(at: time),
            local: connection.local, remote: connection.remote,
            recvQ: queues?.recv ?? Socket.unknownQueue, sendQ: queues?.send ?? Socket.unknownQueue, uid: connection.uid,
            inode: connection.inode, cookie: connection.cookie,
            processes: socketOwners(owners), netns: connection.netns)
    }

    /// Owners as a socket's: a process as it was recorded (its container was not).
    static func socketOwners(_ owners: [HistoricOwner]) -> SocketOwners {
        SocketOwners(owners.map { SocketOwner(pid: $0.pid, startTime: $0.startTime, name: $0.name, fd: $0.fd) })
    }
}

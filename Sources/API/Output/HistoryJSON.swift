import Rendering
import Sampling
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

    /// The final counters, or null where none are known.
    static func totals(_ totals: ConnectionTotals?, to json: inout JSONWriter) {
        guard let totals else { json.null(); return }
        json.beginObject()
        for (key, value) in [("bytes_sent", totals.bytesSent), ("bytes_received", totals.bytesReceived), ("segs_out", totals.segsOut),
                             ("segs_in", totals.segsIn), ("retransmits", totals.retransmits), ("rtt_us", totals.rttUs),
                             ("min_rtt_us", totals.minRttUs)] {
            json.key(key)
            if let value { json.number(value) } else { json.null() }
        }
        json.endObject()
    }

    static func identity(_ connection: HistoricConnection, user: String, to json: inout JSONWriter) {
        // The kernel's close event carries no uid or inode: unknown, not 0.
        let sampled = !connection.origin.contains(.closeEvent)
        json.key("proto"); json.string(connection.proto.rawValue)
        json.key("family"); json.string(connection.family.rawValue)
        json.key("local"); SocketJSON.endpoint(connection.local, to: &json)
        json.key("remote"); SocketJSON.endpoint(connection.remote, to: &json)
        json.key("seen"); json.string(sampled ? "sampled" : "close_event")
        json.key("uid"); if sampled { json.number(connection.uid) } else { json.null() }
        json.key("user"); if sampled { json.string(user) } else { json.null() }
        json.key("inode"); if sampled { json.number(connection.inode) } else { json.null() }
        json.key("cookie")
        if let cookie = connection.cookie { json.number(cookie) } else { json.null() }
        json.key("netns")
        if let netns = connection.netns { json.number(netns) } else { json.null() }
    }

    static func owner(_ owner: HistoricOwner, to json: inout JSONWriter) {
        json.beginObject()
        json.key("pid"); json.number(owner.pid)
        json.key("name"); json.string(owner.name)
        json.key("fd"); json.number(owner.fd)
        json.key("start_time"); json.number(owner.startTime)
        json.key("owner_inferred"); json.bool(owner.inferred)
        json.key("from"); json.string(Timestamp.rfc3339(owner.from))
        json.key("to")
        if let to = owner.to { json.string(Timestamp.rfc3339(to)) } else { json.null() }
        json.endObject()
    }

    /// The socket as it stood at `time`: state and owners then. Queues are not kept
    /// per sample (see the backlog episodes), so they read 0.
    static func socket(_ connection: HistoricConnection, at time: Double) -> Socket {
        let owners = connection.owners(at: time)
        return Socket(
            proto: connection.proto, family: connection.family, state: connection.state(at: time),
            local: connection.local, remote: connection.remote, recvQ: 0, sendQ: 0, uid: connection.uid,
            inode: connection.inode, cookie: connection.cookie,
            processes: owners.map { SocketOwner(pid: $0.pid, startTime: $0.startTime, name: $0.name, fd: $0.fd) },
            netns: connection.netns)
    }
}

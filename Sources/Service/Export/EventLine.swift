public import Rendering
import Sampling
public import Store

/// One line of the event feed, the JSON object `GET /api/v1/events` serves and the
/// exporter sends: the one writer of it, so both carry the same fields. The parts
/// a history answer shares with it (a connection's identity, an owner, the final
/// totals) are written here too, for `history/connections` to use.
public enum EventLine {
    /// The events as NDJSON, one object per line. `leading` fields come first in
    /// every line (the exporter's `host` and `instance`); `userNames` names uids.
    public static func ndjson(_ events: [HistoryEvent], userNames: [UInt32: String],
                              leading: [(key: String, value: String)] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(events.count * 600)
        for event in events {
            // A writer per line: each line is a top-level value of its own.
            var json = JSONWriter(capacity: 512)
            write(event, user: userNames[event.connection.uid] ?? String(event.connection.uid), leading: leading, to: &json)
            out += json.bytes
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// One event as a JSON object: cursor, time, kind, the connection's identity, and
    /// what the kind carries (the state, an owner, the owners it opened with, the
    /// close with its totals, queues or their peaks).
    public static func write(_ event: HistoryEvent, user: String, leading: [(key: String, value: String)] = [],
                             to json: inout JSONWriter) {
        json.beginObject()
        for field in leading { json.key(field.key); json.string(field.value) }
        json.key("cursor"); json.string(event.cursor.text)
        json.key("at"); json.string(Timestamp.rfc3339(event.at))
        json.key("kind"); json.string(event.kind.name)
        json.key("connection"); json.beginObject()
        identity(event.connection, user: user, to: &json)
        json.endObject()
        if let state = event.state { json.key("state"); json.string(state.name(for: event.connection.proto)) }
        if let owner = event.owner { json.key("owner"); self.owner(owner, to: &json) }
        if event.kind == .opened {
            json.key("owners"); json.beginArray()
            for owner in event.owners { self.owner(owner, to: &json) }
            json.endArray()
        }
        if event.kind == .closed {
            json.key("closed_during_gap"); json.bool(event.closedDuringGap)
            json.key("closed_at"); if let at = event.connection.closedAt { json.string(Timestamp.rfc3339(at)) } else { json.null() }
            json.key("totals"); totals(event.connection.totals, to: &json)
            json.key("duration_ms"); if let duration = event.connection.durationMs { json.number(duration.rounded()) } else { json.null() }
        }
        if let queues = event.queues {
            json.key(event.kind == .backlogEnded ? "peak" : "queues"); json.beginObject()
            json.key("recv_q"); json.number(queues.recv)
            json.key("send_q"); json.number(queues.send)
            json.endObject()
        }
        json.endObject()
    }

    /// A connection's identity, as fields of the enclosing object: protocol, family,
    /// endpoints, how it was seen, uid and user, inode, cookie, network namespace.
    public static func identity(_ connection: HistoricConnection, user: String, to json: inout JSONWriter) {
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
        // The cgroup its close event named: the unit or container that made it, for a
        // client socket whose process is long gone too.
        json.key("cgroup")
        if let cgroup = connection.cgroup { json.string(cgroup) } else { json.null() }
    }

    /// A process that held a connection, with when.
    public static func owner(_ owner: HistoricOwner, to json: inout JSONWriter) {
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

    /// The final counters, or null where none are known.
    public static func totals(_ totals: ConnectionTotals?, to json: inout JSONWriter) {
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
}

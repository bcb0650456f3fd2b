public import Sampling

/// The JSON shape of a socket, shared by `netstatd snapshot --json` and the API
/// (see `Socket` in openapi.yaml).
public enum SocketJSON {
    /// What to add beyond the always-present fields.
    public struct Detail: Sendable {
        /// Include the `tcp` object (tcp_info) where the socket has one.
        public var tcpInfo = false
        /// Include the `timer` object (`ss -o`).
        public var timer = false

        /// Only the always-present fields.
        public init(tcpInfo: Bool = false, timer: Bool = false) {
            self.tcpInfo = tcpInfo
            self.timer = timer
        }
    }

    /// A queue length, or null when it is not known.
    static func queue(_ value: UInt32?, to json: inout JSONWriter) {
        if let value { json.number(value) } else { json.null() }
    }

    /// Writes one socket as a JSON object; `extra` adds fields of the caller's (a
    /// listener's `exposure`) before it closes.
    public static func write(
        _ socket: borrowing Socket, user: String, detail: Detail, to json: inout JSONWriter,
        extra: ((Socket, inout JSONWriter) -> Void)? = nil
    ) {
        json.beginObject()
        json.key("proto"); json.string(socket.proto.rawValue)
        json.key("family"); json.string(socket.family.rawValue)
        json.key("state"); json.string(socket.stateName)
        json.key("local"); endpoint(socket.local, to: &json)
        json.key("remote"); endpoint(socket.remote, to: &json)
        json.key("recv_q"); queue(socket.knownRecvQ, to: &json)
        json.key("send_q"); queue(socket.knownSendQ, to: &json)
        if socket.proto == .tcp && socket.state == .listen {
            // For a listener the kernel reports the accept queue in Recv-Q and the
            // backlog limit in Send-Q; spelt out so nobody has to know that.
            json.key("accept_queue")
            json.beginObject()
            json.key("depth"); queue(socket.knownRecvQ, to: &json)
            json.key("backlog"); queue(socket.knownSendQ, to: &json)
            json.endObject()
        }
        json.key("uid"); json.number(socket.uid)
        json.key("user"); json.string(user)
        json.key("inode"); json.number(socket.inode)
        json.key("netns")
        if let netns = socket.netns { json.number(netns) } else { json.null() }
        json.key("cookie")
        if let cookie = socket.cookie { json.number(cookie) } else { json.null() }
        if socket.family == .ipv6 {
            json.key("v6only")
            if let v6only = socket.v6only { json.bool(v6only) } else { json.null() }
        }
        json.key("drops")
        if let drops = socket.drops { json.number(drops) } else { json.null() }
        json.key("processes")
        json.beginArray()
        for owner in socket.processes {
            json.beginObject()
            json.key("pid"); json.number(owner.pid)
            json.key("name"); json.string(owner.name)
            json.key("fd"); json.number(owner.fd)
            json.key("start_time"); json.number(owner.startTime)
            if let container = owner.container {
                json.key("container"); NamespaceJSON.container(container, to: &json)
            }
            json.endObject()
        }
        json.endArray()
        if detail.timer {
            json.key("timer")
            if let timer = socket.timer { write(timer, to: &json) } else { json.null() }
        }
        if detail.tcpInfo && socket.proto == .tcp {
            json.key("tcp")
            if let info = socket.tcpInfo { write(info, to: &json) } else { json.null() }
        }
        if let extra { extra(copy socket, &json) }
        json.endObject()
    }

    /// Writes `{"address": "...", "port": N}`.
    public static func endpoint(_ endpoint: Endpoint, to json: inout JSONWriter) {
        json.beginObject()
        json.key("address"); json.address(endpoint.address)
        json.key("port"); json.number(endpoint.port)
        json.endObject()
    }

    static func write(_ timer: SocketTimer, to json: inout JSONWriter) {
        json.beginObject()
        json.key("kind"); json.string(timer.kind.rawValue)
        json.key("expires_ms"); json.number(timer.expiresMs)
        json.key("retransmits"); json.number(timer.retransmits)
        json.endObject()
    }

    static func write(_ info: TCPInfo, to json: inout JSONWriter) {
        func optional<T: UnsignedInteger & FixedWidthInteger>(_ value: T?, _ json: inout JSONWriter) {
            if let value { json.number(value) } else { json.null() }
        }
        json.beginObject()
        json.key("rtt_us"); json.number(info.rttUs)
        json.key("rttvar_us"); json.number(info.rttVarUs)
        json.key("min_rtt_us"); optional(info.minRttUs, &json)
        json.key("rto_us"); json.number(info.rtoUs)
        json.key("cwnd"); json.number(info.sendCwnd)
        json.key("ssthresh"); json.number(info.sendSsthresh)
        json.key("snd_mss"); json.number(info.sendMss)
        json.key("rcv_mss"); json.number(info.recvMss)
        json.key("unacked"); json.number(info.unacked)
        json.key("lost"); json.number(info.lost)
        json.key("retrans"); json.number(info.retransCurrent)
        json.key("total_retrans"); json.number(info.totalRetrans)
        json.key("bytes_acked"); optional(info.bytesAcked, &json)
        json.key("bytes_received"); optional(info.bytesReceived, &json)
        json.key("bytes_sent"); optional(info.bytesSent, &json)
        json.key("bytes_retrans"); optional(info.bytesRetrans, &json)
        json.key("segs_out"); optional(info.segsOut, &json)
        json.key("segs_in"); optional(info.segsIn, &json)
        json.key("last_send_ms"); json.number(info.lastSendMs)
        json.key("last_recv_ms"); json.number(info.lastRecvMs)
        json.key("pacing_rate_bps"); optional(info.pacingRate, &json)
        json.key("delivery_rate_bps"); optional(info.deliveryRate, &json)
        json.key("notsent_bytes"); optional(info.notsentBytes, &json)
        json.endObject()
    }
}

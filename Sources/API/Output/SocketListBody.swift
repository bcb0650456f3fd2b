public import Rendering
public import Sampling

/// Renders a list of sockets in the chosen format: the JSON envelope
/// `{"taken_at", "count", "items", "next"}`, NDJSON (one socket a line), CSV, or
/// netstat's table.
public enum SocketListBody {
    /// The body bytes for the sockets of `snapshot` at `indices`.
    public static func render(
        _ indices: [Int], total: Int, next: String?, snapshot: Snapshot,
        format: OutputFormat, detail: SocketJSON.Detail,
        extra: ((Socket, inout JSONWriter) -> Void)? = nil,
        heading: String = "Active Internet connections (servers and established)"
    ) -> [UInt8] {
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            render(indices, sockets, total: total, next: next, snapshot: snapshot, format: format, detail: detail, extra: extra,
                   heading: heading)
        }
    }

    private static func render(
        _ indices: [Int], _ all: UnsafeBufferPointer<Socket>, total: Int, next: String?, snapshot: Snapshot,
        format: OutputFormat, detail: SocketJSON.Detail, extra: ((Socket, inout JSONWriter) -> Void)?, heading: String
    ) -> [UInt8] {
        switch format {
        case .json:
            let json = ListEnvelope.write(indices, about: .sample(takenAt: snapshot.takenAt), next: next, fields: { json in
                json.key("total"); json.number(total)
            }) { index, json in
                SocketJSON.write(all[index], user: snapshot.userName(all[index].uid), detail: detail, to: &json, extra: extra)
            }
            return json.bytes
        case .ndjson:
            var out: [UInt8] = []
            out.reserveCapacity(indices.count * 300)
            for index in indices {
                var json = JSONWriter(capacity: 512)
                SocketJSON.write(all[index], user: snapshot.userName(all[index].uid), detail: detail, to: &json, extra: extra)
                out += json.bytes
                out.append(UInt8(ascii: "\n"))
            }
            return out
        case .csv:
            var text = "proto,family,state,local_address,local_port,remote_address,remote_port,recv_q,send_q,uid,user,inode,pids,processes,netns\n"
            for index in indices {
                let socket = all[index]
                let pids = socket.processes.map { String($0.pid) }.joined(separator: " ")
                let names = socket.processes.map(\.name).joined(separator: " ")
                let fields: [String] = [
                    socket.proto.rawValue, socket.family.rawValue, socket.stateName,
                    socket.local.address.description, String(socket.local.port),
                    socket.remote.address.description, String(socket.remote.port),
                    socket.knownRecvQ.map(String.init) ?? "", socket.knownSendQ.map(String.init) ?? "", String(socket.uid),
                    snapshot.userName(socket.uid), String(socket.inode), pids, names,
                    socket.netns.map { String($0) } ?? "",
                ]
                text += fields.map(UntrustedText.csvCell).joined(separator: ",") + "\n"
            }
            return Array(text.utf8)
        case .table:
            // netstat's heading line, with the moment the table describes.
            let table = NetstatTable(showOwners: true)
            var text = heading + " at " + Timestamp.rfc3339(snapshot.takenAt) + "\n" + table.header + "\n"
            for index in indices { text += table.line(all[index]) + "\n" }
            return Array(text.utf8)
        }
    }
}

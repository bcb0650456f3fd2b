public import Foundation
import Sampling

/// One socket reduced to what `ss -tuanp` and `netstatd snapshot --json` both show,
/// so the two can be compared field by field.
public struct SocketRow: Hashable, CustomStringConvertible {
    /// A row from its fields.
    public init(proto: String, state: UInt8, local: String, remote: String, recvQ: Int, sendQ: Int, pids: [Int]) {
        self.proto = proto; self.state = state; self.local = local; self.remote = remote
        self.recvQ = recvQ; self.sendQ = sendQ; self.pids = pids
    }

    public var proto: String
    public var state: UInt8
    public var local: String
    public var remote: String
    public var recvQ: Int
    public var sendQ: Int
    public var pids: [Int]

    /// Matching key: a socket is known by its protocol and its two endpoints.
    public var key: String { "\(proto) \(local) \(remote)" }

    public var description: String {
        "\(proto) \(SocketState(rawValue: state)?.netstatName ?? "?") \(local) -> \(remote) q=\(recvQ)/\(sendQ) pids=\(pids)"
    }

    /// Normalizes `addr:port` text: brackets dropped, `*` port is 0, ss's `*` host
    /// (a dual-stack `::` socket) is `::`.
    public static func endpoint(_ text: Substring) -> String {
        guard let colon = text.lastIndex(of: ":") else { return String(text) }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        if let percent = host.firstIndex(of: "%") { host = String(host[..<percent]) }
        if host == "*" { host = "::" }
        let port = portText == "*" ? 0 : Int(portText) ?? -1
        return "\(host):\(port)"
    }

    /// Parses `ss -tuanp` output.
    public static func parseSS(_ text: String) -> [SocketRow] {
        var rows: [SocketRow] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, let state = SocketState.parse(String(fields[1])) else { continue }
            var pids: [Int] = []
            if fields.count > 6 {
                let rest = fields[6...].joined(separator: " ")
                for part in rest.components(separatedBy: "pid=").dropFirst() {
                    if let pid = Int(part.prefix { $0.isNumber }) { pids.append(pid) }
                }
            }
            rows.append(SocketRow(
                proto: String(fields[0]), state: state.rawValue, local: endpoint(fields[4]),
                remote: endpoint(fields[5]), recvQ: Int(fields[2]) ?? -1, sendQ: Int(fields[3]) ?? -1,
                pids: pids.sorted()))
        }
        return rows
    }

    /// Parses the `sockets` of `netstatd snapshot --json`.
    public static func parseSnapshot(_ data: Data) throws -> [SocketRow] {
        let document = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let sockets = document?["sockets"] as? [[String: Any]] ?? []
        return sockets.map { socket in
            func endpointText(_ key: String) -> String {
                let e = socket[key] as? [String: Any] ?? [:]
                return "\(e["address"] as? String ?? "?"):\(e["port"] as? Int ?? -1)"
            }
            let owners = socket["processes"] as? [[String: Any]] ?? []
            return SocketRow(
                proto: socket["proto"] as? String ?? "?",
                state: SocketState.parse(socket["state"] as? String ?? "")?.rawValue ?? 0,
                local: endpointText("local"), remote: endpointText("remote"),
                recvQ: socket["recv_q"] as? Int ?? -1, sendQ: socket["send_q"] as? Int ?? -1,
                pids: Array(Set(owners.compactMap { $0["pid"] as? Int })).sorted())
        }
    }
}

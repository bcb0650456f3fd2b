/// Socket totals from `/proc/net/sockstat` and `sockstat6` (what `ss -s` prints), e.g.
/// `TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1`. The Collector uses them to size its
/// socket array once instead of growing it by doubling (which at 200,000 sockets
/// would briefly hold two copies).
public struct ProcNetSockstat: Sendable, Hashable {
    /// Counters by protocol line (`TCP`, `UDP`, `TCP6`, ...) and field (`inuse`, `tw`, ...).
    public var values: [String: [String: UInt64]]

    /// Parses sockstat text; lines of the form `PROTO: key value key value ...`.
    public static func parse(_ text: String) -> ProcNetSockstat {
        var values: [String: [String: UInt64]] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let proto = String(line[..<colon])
            let fields = line[line.index(after: colon)...].split(separator: " ")
            var entry: [String: UInt64] = [:]
            var i = 0
            while i + 1 < fields.count {
                if let value = UInt64(fields[i + 1]) { entry[String(fields[i])] = value }
                i += 2
            }
            values[proto] = entry
        }
        return ProcNetSockstat(values: values)
    }

    /// Reads `<procRoot>/net/sockstat` and `sockstat6` together; nil when neither is readable.
    public static func read(procRoot: String) -> ProcNetSockstat? {
        var text = ""
        for name in ["sockstat", "sockstat6"] {
            if let part = try? FileContents.text(atPath: procRoot + "/net/" + name) { text += part + "\n" }
        }
        return text.isEmpty ? nil : parse(text)
    }

    /// An upper estimate of the TCP and UDP sockets a dump will return: sockets in use
    /// of both families, TIME_WAIT (`tw`, shared by both), plus slack for those made
    /// while dumping.
    public var expectedSockets: Int {
        let tcp = (values["TCP"]?["inuse"] ?? 0) + (values["TCP6"]?["inuse"] ?? 0) + (values["TCP"]?["tw"] ?? 0)
        let udp = (values["UDP"]?["inuse"] ?? 0) + (values["UDP6"]?["inuse"] ?? 0)
        let total = Int(truncatingIfNeeded: tcp + udp)
        return total + total / 16 + 64
    }
}

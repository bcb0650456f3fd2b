/// `/proc/net/snmp` and `/proc/net/netstat` (what `netstat -s` prints): pairs of lines,
/// a header naming the fields and a line of values, per group (`Tcp:`, `TcpExt:`,
/// `IpExt:`, `MPTcpExt:` ...). Names are taken from the header, never from positions,
/// so whatever the running kernel has is read (net/ipv4/proc.c).
public enum ProcNetSNMP {
    /// Reads both files under `<procRoot>/net`; a missing one is skipped (older kernels
    /// lack some groups) and named in `missing`.
    public static func read(procRoot: String, missing: inout [String]) -> [Counter] {
        var counters: [Counter] = []
        for name in ["snmp", "netstat"] {
            guard let text = try? FileContents.text(atPath: procRoot + "/net/" + name) else {
                missing.append(name)
                continue
            }
            counters += parse(text)
        }
        return counters
    }

    /// Parses header/value line pairs. A value line whose field count differs from
    /// its header is read as far as both go.
    public static func parse(_ text: String) -> [Counter] {
        var counters: [Counter] = []
        var header: (group: Substring, names: [Substring])?
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let group = line[..<colon]
            let fields = line[line.index(after: colon)...].split(separator: " ")
            if let pending = header, pending.group == group {
                for (name, value) in zip(pending.names, fields) {
                    if let parsed = CounterValue.parse(value) {
                        counters.append(Counter(group: String(group), name: String(name), value: parsed))
                    }
                }
                header = nil
            } else {
                header = (group, fields)
            }
        }
        return counters
    }
}

/// `/proc/net/snmp6`: one `Name value` per line; the group is the name's protocol
/// prefix (`Ip6`, `Icmp6`, `Udp6`, `UdpLite6`), as `netstat -s` groups it.
public enum ProcNetSNMP6 {
    /// Reads `<procRoot>/net/snmp6`; nil when the file is missing (IPv6 disabled).
    public static func read(procRoot: String) -> [Counter]? {
        guard let text = try? FileContents.text(atPath: procRoot + "/net/snmp6") else { return nil }
        return parse(text)
    }

    /// Parses the file's lines.
    public static func parse(_ text: String) -> [Counter] {
        var counters: [Counter] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2, let value = CounterValue.parse(fields[1]) else { continue }
            let name = fields[0]
            let prefixes = ["UdpLite6", "Icmp6", "Udp6", "Ip6"]
            let group = prefixes.first { name.hasPrefix($0) } ?? "Ip6"
            counters.append(Counter(group: group, name: String(name.dropFirst(group.count)), value: value))
        }
        return counters
    }
}

/// Counter values: the kernel keeps every counter as an unsigned 64-bit number and
/// prints it so, except a few fields it prints signed (`Tcp: MaxConn -1`, "no limit");
/// those are kept as their 64 bits (`CounterKey.isPrintedSigned` says which to show signed).
public enum CounterValue {
    /// Parses a decimal up to 2^64-1, or a negative one as its two's complement bits.
    public static func parse<S: StringProtocol>(_ text: S) -> UInt64? {
        if let value = UInt64(text) { return value }
        if let value = Int64(text) { return UInt64(bitPattern: value) }
        return nil
    }
}

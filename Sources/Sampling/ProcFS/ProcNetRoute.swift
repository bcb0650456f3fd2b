/// One route, IPv4 or IPv6, as `netstat -rn` shows it.
public struct Route: Sendable, Hashable {
    public var family: AddressFamily
    public var destination: IPAddress
    public var prefixLength: Int
    public var gateway: IPAddress
    /// RTF_* flags: U (up), G (gateway), H (host), ...
    public var flags: UInt32
    public var metric: UInt32
    public var interface: String
    /// MTU of the route (0: the interface's).
    public var mtu: UInt32
    /// IPv4: the route's window and initial RTT (netstat -rn's Window and irtt); nil for IPv6.
    public var window: UInt32? = nil
    public var irtt: UInt32? = nil
    /// IPv6: the route's reference and use counts (netstat -rn -6's Ref and Use); nil for IPv4.
    public var references: UInt32? = nil
    public var uses: UInt32? = nil

    /// The flags as netstat letters (`UG`, `U`, `UH`; for IPv6 net-tools' set, `Un`, `!n`).
    public var flagLetters: String {
        if family == .ipv6 {
            // RTF_* of include/uapi/linux/ipv6_route.h and route.h, in net-tools' order.
            let letters: [(UInt32, String)] = [
                (0x1, "U"), (0x200, "!"), (0x2, "G"), (0x4, "H"), (0x10000, "D"), (0x40000, "A"), (0x100_0000, "C"),
                (0x20000, "a"), (0x40_0000, "e"), (0x20, "m"), (0x20_0000, "n"), (0x200_0000, "f"),
            ]
            return letters.filter { flags & $0.0 != 0 }.map(\.1).joined()
        }
        var letters = ""
        if flags & 0x1 != 0 { letters += "U" }
        if flags & 0x2 != 0 { letters += "G" }
        if flags & 0x4 != 0 { letters += "H" }
        if flags & 0x10 != 0 { letters += "D" }
        if flags & 0x20 != 0 { letters += "M" }
        if flags & 0x200 != 0 { letters += "!" }
        return letters
    }
}

/// `/proc/net/route` (IPv4; columns named by its header, addresses as little-endian
/// hex words) and `/proc/net/ipv6_route` (fixed columns, net/ipv6/route.c).
public enum ProcNetRoute {
    /// Reads both tables; a missing one (IPv6 disabled) contributes nothing.
    public static func read(procRoot: String) -> [Route] {
        var routes: [Route] = []
        if let text = try? FileContents.text(atPath: procRoot + "/net/route") { routes += parseIPv4(text) }
        if let text = try? FileContents.text(atPath: procRoot + "/net/ipv6_route") { routes += parseIPv6(text) }
        return routes
    }

    /// Parses `/proc/net/route`.
    public static func parseIPv4(_ text: String) -> [Route] {
        let lines = text.split(separator: "\n")
        guard let header = lines.first?.split(whereSeparator: { $0 == "\t" || $0 == " " }) else { return [] }
        func column(_ name: String) -> Int? { header.firstIndex { $0 == name } }
        guard let iface = column("Iface"), let destination = column("Destination"), let gateway = column("Gateway"),
              let flags = column("Flags"), let mask = column("Mask") else { return [] }
        let metric = column("Metric"), mtu = column("MTU"), window = column("Window"), irtt = column("IRTT")
        var routes: [Route] = []
        for line in lines.dropFirst() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count > max(iface, destination, gateway, flags, mask),
                  let dst = UInt32(fields[destination], radix: 16), let gw = UInt32(fields[gateway], radix: 16),
                  let flagBits = UInt32(fields[flags], radix: 16), let maskBits = UInt32(fields[mask], radix: 16)
            else { continue }
            routes.append(Route(
                family: .ipv4, destination: IPAddress(ipv4: dst.byteSwapped), prefixLength: maskBits.nonzeroBitCount,
                gateway: IPAddress(ipv4: gw.byteSwapped), flags: flagBits,
                metric: metric.flatMap { fields.count > $0 ? UInt32(fields[$0]) : nil } ?? 0,
                interface: String(fields[iface]), mtu: mtu.flatMap { fields.count > $0 ? UInt32(fields[$0]) : nil } ?? 0,
                window: window.flatMap { fields.count > $0 ? UInt32(fields[$0]) : nil },
                irtt: irtt.flatMap { fields.count > $0 ? UInt32(fields[$0]) : nil }))
        }
        return routes
    }

    /// Parses `/proc/net/ipv6_route`: dest, dest prefix, src, src prefix, next hop,
    /// metric, refcount, use, flags, interface.
    public static func parseIPv6(_ text: String) -> [Route] {
        var routes: [Route] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, let destination = ipv6(fields[0]), let prefix = Int(fields[1], radix: 16),
                  let gateway = ipv6(fields[4]), let metric = UInt32(fields[5], radix: 16), let flags = UInt32(fields[8], radix: 16)
            else { continue }
            routes.append(Route(family: .ipv6, destination: destination, prefixLength: prefix, gateway: gateway,
                                flags: flags, metric: metric, interface: String(fields[9]), mtu: 0,
                                references: UInt32(fields[6], radix: 16), uses: UInt32(fields[7], radix: 16)))
        }
        return routes
    }

    private static func ipv6(_ hex: Substring) -> IPAddress? {
        guard hex.count == 32, let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16) else { return nil }
        return IPAddress(ipv6: high, low)
    }
}

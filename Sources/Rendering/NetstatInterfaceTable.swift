public import Sampling

/// `netstat -i`'s table: one line per interface with packet counters and flags.
public enum NetstatInterfaceTable {
    /// The whole table, heading included: interfaces sorted by name, as net-tools
    /// does, and only those up unless `all` (netstat -ia).
    public static func render(_ interfaces: [ProcNetDev.Interface], links: [String: SysClassNet.Link], all: Bool = false) -> String {
        var text = "Kernel Interface table\n"
        text += "Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n"
        for interface in interfaces.sorted(by: { $0.name < $1.name }) {
            let link = links[interface.name] ?? SysClassNet.Link()
            if !all, let flags = link.flags, flags & 0x1 == 0 { continue }
            func value(_ key: String) -> String {
                guard let number = interface.counters[key], number >= 0 else { return "-" }
                return String(number)
            }
            text += pad(UntrustedText.terminal(interface.name), 15) + " " + leftPad(link.mtu.map(String.init) ?? "-", 5) + " "
                + leftPad(value("rx_packets"), 8) + " " + leftPad(value("rx_errs"), 6) + " " + leftPad(value("rx_drop"), 6) + " "
                + pad(value("rx_fifo"), 6) + " " + leftPad(value("tx_packets"), 8) + " " + leftPad(value("tx_errs"), 6) + " "
                + leftPad(value("tx_drop"), 6) + " " + leftPad(value("tx_fifo"), 6) + " " + (link.netstatFlags ?? "-") + "\n"
        }
        return text
    }
}

/// `netstat -rn`'s tables: IPv4 (`Kernel IP routing table`) and IPv6.
public enum NetstatRouteTable {
    /// The IPv4 routes, numeric, netstat's columns.
    public static func ipv4(_ routes: [Route]) -> String {
        var text = "Kernel IP routing table\n"
        text += "Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n"
        for route in routes where route.family == .ipv4 {
            let mask = route.prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - min(32, route.prefixLength))
            text += pad(route.destination.description, 15) + " " + pad(route.gateway.description, 15) + " "
                + pad(IPAddress(ipv4: mask).description, 15) + " " + pad(route.flagLetters, 5) + " "
                + leftPad(String(route.mtu), 5) + " " + pad(route.window.map(String.init) ?? "-", 6) + " "
                + leftPad(route.irtt.map(String.init) ?? "-", 5) + " " + UntrustedText.terminal(route.interface) + "\n"
        }
        return text
    }

    /// The IPv6 routes, numeric: a metric of 2^32-1 (unreachable) prints as -1, as netstat does.
    public static func ipv6(_ routes: [Route]) -> String {
        var text = "Kernel IPv6 routing table\n"
        text += "Destination                    Next Hop                   Flag Met Ref  Use If\n"
        for route in routes where route.family == .ipv6 {
            let metric = route.metric == UInt32.max ? "-1" : String(route.metric)
            text += pad("\(route.destination)/\(route.prefixLength)", 30) + " " + pad(route.gateway.description, 26) + " "
                + pad(route.flagLetters, 4) + " " + pad(metric, 3) + " " + pad(route.references.map(String.init) ?? "-", 1) + " "
                + leftPad(route.uses.map(String.init) ?? "-", 6) + " " + UntrustedText.terminal(route.interface) + "\n"
        }
        return text
    }
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

private func leftPad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// What a recorded counter is: a protocol counter (`Tcp.InSegs`) or an interface's
/// (`rx_bytes` of `eth0.100`). One type makes and reads the stored names, so an
/// interface name with dots (`eth0.100`, `br.5`) is never split in the wrong place.
public enum CounterKey: Hashable, Sendable {
    /// A `/proc/net/{snmp,netstat,snmp6}` counter: its group and name.
    case protocolCounter(group: String, name: String)
    /// A `/proc/net/dev` counter of one interface.
    case interface(name: String, field: String)

    private static let interfacePrefix = "interface."

    /// True for the fields the kernel prints signed (`Tcp.MaxConn`, -1 for "no limit";
    /// snmp_seq_show_tcp_udp): their value is shown as a signed number.
    public var isPrintedSigned: Bool {
        if case let .protocolCounter(group, name) = self { return group == "Tcp" && name == "MaxConn" }
        return false
    }

    /// The name it is stored under: `Tcp.InSegs`, `interface.eth0.100.rx_bytes`.
    public var storageName: String {
        switch self {
        case let .protocolCounter(group, name): return group + "." + name
        case let .interface(name, field): return Self.interfacePrefix + name + "." + field
        }
    }

    /// The key stored as `storageName`. Interface fields never hold a dot (they are
    /// /proc/net/dev column names), so the field is what follows the last one.
    public init?(storageName: String) {
        if storageName.hasPrefix(Self.interfacePrefix) {
            let rest = storageName.dropFirst(Self.interfacePrefix.count)
            guard let dot = rest.lastIndex(of: "."), dot != rest.startIndex, rest.index(after: dot) != rest.endIndex else { return nil }
            self = .interface(name: String(rest[..<dot]), field: String(rest[rest.index(after: dot)...]))
        } else {
            guard let dot = storageName.firstIndex(of: "."), dot != storageName.startIndex,
                  storageName.index(after: dot) != storageName.endIndex else { return nil }
            self = .protocolCounter(group: String(storageName[..<dot]), name: String(storageName[storageName.index(after: dot)...]))
        }
    }
}

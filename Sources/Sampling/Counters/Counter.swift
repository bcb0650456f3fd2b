/// One protocol counter (`Tcp.RetransSegs`) and its value when read.
public struct Counter: Sendable, Hashable {
    /// The group as the kernel names it (`Tcp`, `TcpExt`, `Ip6` ...).
    public var group: String
    /// The field name within the group (`RetransSegs`).
    public var name: String
    /// Its value. Counters are held as Double: exact up to 2^53, which a counter
    /// incremented a billion times a second reaches after 104 days of uptime; beyond
    /// that the last digits round, and rates stay right.
    public var value: Double

    /// A counter from its parts.
    public init(group: String, name: String, value: Double) {
        self.group = group
        self.name = name
        self.value = value
    }

    /// `Group.Name`, the form the API's `counter=` takes.
    public var key: String { group + "." + name }
}

/// One protocol counter (`Tcp.RetransSegs`) and its value when read.
public struct Counter: Sendable, Hashable {
    /// The group as the kernel names it (`Tcp`, `TcpExt`, `Ip6` ...).
    public var group: String
    /// The field name within the group (`RetransSegs`).
    public var name: String
    /// Its value, the kernel's 64 bits (see `CounterValue`; `printed` shows it as the
    /// kernel does).
    public var value: UInt64

    /// A counter from its parts.
    public init(group: String, name: String, value: UInt64) {
        self.group = group
        self.name = name
        self.value = value
    }

    /// `Group.Name`, the form the API's `counter=` takes.
    public var key: String { group + "." + name }

    /// Its key in history and the API.
    public var counterKey: CounterKey { .protocolCounter(group: group, name: name) }

    /// The value as the kernel prints it: signed for the few fields it prints signed.
    public var printed: String {
        counterKey.isPrintedSigned ? String(Int64(bitPattern: value)) : String(value)
    }
}

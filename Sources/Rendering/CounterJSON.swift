public import Sampling

extension JSONWriter {
    /// A counter's value as the kernel prints it: its 64 bits unsigned, except the few
    /// fields the kernel prints signed (`Tcp.MaxConn` -1).
    public mutating func counterValue(_ value: UInt64, of key: CounterKey) {
        if key.isPrintedSigned { number(Int64(bitPattern: value)) } else { number(value) }
    }
}

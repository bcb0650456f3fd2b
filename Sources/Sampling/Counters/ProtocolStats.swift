import Glibc

/// Everything `netstat -s`, `ss -s` and `netstat -i` read, at one moment.
public struct ProtocolStats: Sendable {
    /// Wall time of the read (Unix seconds).
    public var takenAt: Double
    /// Monotonic time of the read, for rates.
    public var monotonic: Double
    /// Counters of /proc/net/snmp, netstat and snmp6, in file order.
    public var counters: [Counter]
    /// Files that could not be read (`snmp6` with IPv6 disabled, say).
    public var missing: [String]
    /// /proc/net/sockstat{,6}.
    public var sockstat: ProcNetSockstat?
    /// /proc/net/dev.
    public var interfaces: [ProcNetDev.Interface]
    /// Same value, same counters in the same order (set by a CounterReader; 0 means
    /// unknown). Lets /metrics reuse what it built from the names.
    public var layout: Int = 0

    /// Reads all of it under `procRoot`.
    public static func read(procRoot: String) -> ProtocolStats {
        let wall = Clock.wallSeconds()
        let monotonic = Clock.monotonicSeconds()
        var missing: [String] = []
        var counters = ProcNetSNMP.read(procRoot: procRoot, missing: &missing)
        if let six = ProcNetSNMP6.read(procRoot: procRoot) { counters += six } else { missing.append("snmp6") }
        let sockstat = ProcNetSockstat.read(procRoot: procRoot)
        if sockstat == nil { missing.append("sockstat") }
        let interfaces = ProcNetDev.read(procRoot: procRoot)
        if interfaces == nil { missing.append("dev") }
        return ProtocolStats(takenAt: wall, monotonic: monotonic, counters: counters, missing: missing,
                             sockstat: sockstat, interfaces: interfaces ?? [])
    }

    /// Counter values by `Group.Name`.
    public var byKey: [String: UInt64] {
        Dictionary(counters.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}

/// How much a counter grew between two readings. One rule for live rates and history
/// buckets, Prometheus' `rate()` rule: a counter that went down was reset (a namespace
/// recreated, a module reloaded) and counted again from zero, so the value after the
/// reset is the increase.
public struct CounterIncrease: Sendable, Equatable {
    /// The growth.
    public var amount: UInt64
    /// True when the counter went down between the readings.
    public var reset: Bool

    /// The increase from `previous` to `current`.
    public init(from previous: UInt64, to current: UInt64) {
        reset = current < previous
        amount = reset ? current : current - previous
    }
}

/// A per-second rate between two readings of a counter.
public struct CounterRate: Sendable, Equatable {
    /// Per second; nil when there is no earlier reading or no time between them.
    public var perSecond: Double?
    /// True when the counter went down since the last reading (see `CounterIncrease`).
    public var reset: Bool

    /// The rate of a counter that went from `previous` to `current` in `seconds`.
    public static func between(_ previous: UInt64?, _ current: UInt64, seconds: Double) -> CounterRate {
        guard let previous, seconds > 0 else { return CounterRate(perSecond: nil, reset: false) }
        let increase = CounterIncrease(from: previous, to: current)
        return CounterRate(perSecond: Double(increase.amount) / seconds, reset: increase.reset)
    }
}

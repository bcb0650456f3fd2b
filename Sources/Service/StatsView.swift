import Glibc
public import Sampling

/// The latest protocol counters and the reading before them, for rates. Like
/// LiveView, "current" means at most a second old and concurrent requests share one
/// read; a rate is over the interval between the two newest readings.
public final class StatsView: @unchecked Sendable {
    // @unchecked: `reader`, `latest` and `previous` are only touched while holding `lock`.
    private let reader: CounterReader
    private let lock = Lock()
    private var latest: ProtocolStats?
    private var previous: ProtocolStats?

    /// A view reading under `procRoot`.
    public init(procRoot: String) {
        reader = CounterReader(procRoot: procRoot)
    }

    /// The newest reading not older than `maxAge`, and the one before it.
    public func current(maxAge: Double = 1.0) -> (now: ProtocolStats, before: ProtocolStats?) {
        lock.withLock {
            if let latest, Clock.monotonicSeconds() - latest.monotonic <= maxAge { return (latest, previous) }
            let fresh = reader.read()
            previous = latest
            latest = fresh
            return (fresh, previous)
        }
    }

    /// Reads now (the sampler's call, so rates exist before the first request), and
    /// returns every counter, protocol and interface ones, by its key.
    @discardableResult
    public func refresh() -> [CounterKey: UInt64] {
        let fresh = lock.withLock { () -> ProtocolStats in
            let fresh = reader.read()
            previous = latest
            latest = fresh
            return fresh
        }
        var counters: [CounterKey: UInt64] = [:]
        counters.reserveCapacity(fresh.counters.count + fresh.interfaces.count * 16)
        for counter in fresh.counters { counters[.protocolCounter(group: counter.group, name: counter.name)] = counter.value }
        for interface in fresh.interfaces {
            for (field, value) in interface.counters { counters[.interface(name: interface.name, field: field)] = value }
        }
        return counters
    }
}

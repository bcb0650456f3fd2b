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
    private let procRoot: String
    /// Other namespaces' readings (the newest two each), by inode; bounded.
    private var others: [UInt64: (latest: ProtocolStats, previous: ProtocolStats?)] = [:]

    /// A view reading under `procRoot`.
    public init(procRoot: String) {
        self.procRoot = procRoot
        reader = CounterReader(procRoot: procRoot)
    }

    /// Another network namespace's counters, read through `/proc/<pid>/net/*` of a
    /// process inside it (those files show the process's namespace), with the reading
    /// before for rates. Nil when that process is gone.
    public func current(namespace inode: UInt64, through pid: Int32, maxAge: Double = 1.0) -> (now: ProtocolStats, before: ProtocolStats?)? {
        lock.withLock {
            if let entry = others[inode], Clock.monotonicSeconds() - entry.latest.monotonic <= maxAge { return (entry.latest, entry.previous) }
            let fresh = ProtocolStats.read(procRoot: "\(procRoot)/\(pid)")
            // A process that exited (or a pid reused elsewhere) reads nothing or the
            // wrong namespace: its ns link must still name this one.
            guard !fresh.counters.isEmpty, Self.namespaceInode(procRoot: procRoot, pid: pid) == inode else { return nil }
            if others.count >= 1024, others[inode] == nil { others.removeAll() }
            let previous = others[inode]?.latest
            others[inode] = (fresh, previous)
            return (fresh, previous)
        }
    }

    private static func namespaceInode(procRoot: String, pid: Int32) -> UInt64? {
        var info = stat()
        guard stat("\(procRoot)/\(pid)/ns/net", &info) == 0 else { return nil }
        return UInt64(info.st_ino)
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

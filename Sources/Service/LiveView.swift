import Glibc
public import Sampling

/// The latest snapshot, shared by every request. Handlers never wait for the periodic
/// sampler: they read the newest immutable `Snapshot`. When it is older than a
/// request allows ("current" means at most a second old), the request takes a fresh
/// sample; requests arriving meanwhile wait for that one sample instead of each
/// taking their own.
public final class LiveView: @unchecked Sendable {
    // @unchecked: `collector` is used only while holding `samplingLock`, and every
    // other stored property only while holding `stateLock`.
    private let collector: Collector
    private let samplingLock = Lock()
    private let stateLock = Lock()
    private var latest: (snapshot: Snapshot, monotonic: Double)?
    private var latestPortIndex: PortIndex?
    private var stats = SamplerStats()

    /// The proc tree the collector reads.
    public let procRoot: String

    /// A view sampling with `collector`; nothing is sampled until asked.
    public init(collector: Collector) {
        self.collector = collector
        procRoot = collector.options.procRoot
    }

    /// The newest snapshot not older than `maxAge` seconds, sampling if needed.
    public func current(maxAge: Double = 1.0) -> Snapshot {
        if let fresh = freshEnough(maxAge) { return fresh }
        return samplingLock.withLock {
            // Another request may have sampled while this one waited for the lock.
            if let fresh = freshEnough(maxAge) { return fresh }
            return takeSample()
        }
    }

    /// Takes a sample now (the periodic sampler's call).
    @discardableResult
    public func refresh() -> Snapshot {
        samplingLock.withLock { takeSample() }
    }

    /// The newest snapshot, however old, or nil before the first sample.
    public var newest: Snapshot? { stateLock.withLock { latest?.snapshot } }

    /// The port index of `snapshot`, built on first use and shared while it is the newest.
    public func portIndex(for snapshot: Snapshot) -> PortIndex {
        if let cached = stateLock.withLock({ latestPortIndex }), cached.takenAt == snapshot.takenAt { return cached }
        let built = PortIndex(snapshot)
        stateLock.withLock {
            if latest?.snapshot.takenAt == snapshot.takenAt { latestPortIndex = built }
        }
        return built
    }

    /// Counters about sampling, for /api/v1/status and /healthz.
    public var samplerStats: SamplerStats { stateLock.withLock { stats } }

    private func freshEnough(_ maxAge: Double) -> Snapshot? {
        stateLock.withLock {
            guard let latest, Clock.monotonicSeconds() - latest.monotonic <= maxAge else { return nil }
            return latest.snapshot
        }
    }

    private func takeSample() -> Snapshot {
        let started = Clock.monotonicSeconds()
        let snapshot = collector.sample()
        stateLock.withLock {
            latest = (snapshot, started)
            stats.samples += 1
            stats.lastDuration = snapshot.duration
            stats.lastTakenAt = snapshot.takenAt
            stats.lastProblems = snapshot.problems
            if !snapshot.problems.isEmpty { stats.samplesWithProblems += 1 }
        }
        return snapshot
    }

}

/// What the sampler has done so far.
public struct SamplerStats: Sendable {
    /// Samples taken since start.
    public var samples = 0
    /// Samples that could not read everything.
    public var samplesWithProblems = 0
    /// Seconds the last sample took.
    public var lastDuration: Double?
    /// When the last sample was taken (Unix seconds).
    public var lastTakenAt: Double?
    /// What the last sample could not read.
    public var lastProblems = SamplingProblems()
}


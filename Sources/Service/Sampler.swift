import Glibc
import Sampling

/// Runs `work` on its own thread at a fixed cadence: slot n starts at start + n x
/// interval, whatever the previous work cost. Work that overruns its slot makes the
/// sampler skip the slots it ran into (counted and handed to the next call as
/// `missedSlots`) instead of drifting: a 5 s interval stays on a 5 s grid.
public final class Sampler: @unchecked Sendable {
    // @unchecked: `stopping`, `missedTotal` and `thread` are only touched while
    // holding `mutex`; `work` runs on the sampler thread alone.
    private let interval: Double
    private let work: (_ missedSlots: Int) -> Void
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private var stopping = false
    private var missedTotal = 0
    private var thread: JoinableThread?

    /// A sampler calling `work` every `interval` seconds once started.
    public init(interval: Double, work: @escaping (_ missedSlots: Int) -> Void) {
        self.interval = interval
        self.work = work
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        wake = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Waits are on the monotonic clock: a wall clock set back must not stall sampling.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(wake, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(wake)
        wake.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Slots skipped so far because work overran them.
    public var missedSlots: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return missedTotal
    }

    /// Starts the thread; throws naming pthread_create's error when it cannot.
    public func start() throws {
        let handle = try startThread("the sampler thread") { self.loop() }
        pthread_mutex_lock(mutex)
        thread = handle
        pthread_mutex_unlock(mutex)
    }

    /// Stops the loop and waits for it: at most the work in flight.
    public func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(wake)
        let running = thread
        thread = nil
        pthread_mutex_unlock(mutex)
        running?.join()
    }

    private func loop() {
        let start = Clock.monotonicSeconds()
        var slot = 1
        var missed = 0
        while true {
            var deadline = Self.timespec(monotonic: start + Double(slot) * interval)
            pthread_mutex_lock(mutex)
            while !stopping && pthread_cond_timedwait(wake, mutex, &deadline) != ETIMEDOUT {}
            let done = stopping
            pthread_mutex_unlock(mutex)
            if done { return }
            work(missed)
            // The next slot that has not begun yet; the ones passed meanwhile are missed.
            let elapsed = Clock.monotonicSeconds() - start
            let next = max(slot + 1, Int((elapsed / interval).rounded(.down)) + 1)
            missed = next - slot - 1
            if missed > 0 {
                pthread_mutex_lock(mutex)
                missedTotal += missed
                pthread_mutex_unlock(mutex)
            }
            slot = next
        }
    }

    private static func timespec(monotonic seconds: Double) -> Glibc.timespec {
        let whole = seconds.rounded(.down)
        return Glibc.timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9))
    }
}

import API
import Dispatch
import Glibc
import Sampling
import Service
import Testing

/// "Current" means at most a second old, and requests arriving together share one sample.
struct LiveViewTests {
    @Test func concurrentRequestsShareOneFreshSample() {
        var options = CollectorOptions()
        options.protocols = [.tcp]
        let live = LiveView(collector: Collector(options: options))
        let first = live.refresh()
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            _ = live.current(maxAge: 60)
        }
        #expect(live.samplerStats.samples == 1, "a fresh snapshot is reused, not resampled")
        #expect(live.newest?.takenAt == first.takenAt)

        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            _ = live.current(maxAge: 0)
        }
        // Each request that found the snapshot stale sampled or waited for the one in flight;
        // maxAge 0 means every waiter after the lock resamples, so this only bounds it.
        #expect(live.samplerStats.samples >= 2 && live.samplerStats.samples <= 17)
    }

    @Test func aSnapshotOlderThanAllowedIsReplaced() throws {
        var options = CollectorOptions()
        options.protocols = [.tcp]
        let live = LiveView(collector: Collector(options: options))
        let first = live.refresh()
        usleep(30_000)
        let second = live.current(maxAge: 0.01)
        #expect(second.takenAt > first.takenAt)
        #expect(live.current(maxAge: 10).takenAt == second.takenAt)
    }
}

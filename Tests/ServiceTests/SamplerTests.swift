import Glibc
import Sampling
import Service
import Testing

/// The sampler keeps a fixed cadence: slow work skips slots (counted), it never
/// pushes every later sample back.
struct SamplerTests {
    /// Start times of each call and the missed slots it was told about.
    final class Calls: @unchecked Sendable {
        // @unchecked: written by the sampler thread, read after stop() joined it.
        var starts: [Double] = []
        var missed: [Int] = []
    }

    @Test("work shorter than the interval runs on the grid, without drift")
    func noDrift() throws {
        let calls = Calls()
        let interval = 0.1
        let sampler = Sampler(interval: interval) { missed in
            calls.starts.append(Clock.monotonicSeconds())
            calls.missed.append(missed)
            // Work that costs 30% of the interval: the old loop started the next
            // interval after it only when it overran, but any scheduling from "now"
            // accumulates this.
            usleep(30_000)
        }
        let begun = Clock.monotonicSeconds()
        try sampler.start()
        usleep(1_050_000)
        sampler.stop()
        #expect(calls.starts.count >= 9 && calls.starts.count <= 11)
        for (index, start) in calls.starts.enumerated() {
            let planned = begun + Double(index + 1) * interval
            #expect(abs(start - planned) < 0.05, "call \(index) started \(start - planned) s off its slot")
        }
        #expect(calls.missed.allSatisfy { $0 == 0 })
    }

    @Test("work that overruns skips the slots it ran into and says so")
    func overrunSkipsSlots() throws {
        let calls = Calls()
        let interval = 0.1
        let sampler = Sampler(interval: interval) { missed in
            calls.starts.append(Clock.monotonicSeconds())
            calls.missed.append(missed)
            if calls.starts.count == 2 { usleep(350_000) }  // overruns slots 3, 4 and 5
        }
        let begun = Clock.monotonicSeconds()
        try sampler.start()
        usleep(1_000_000)
        sampler.stop()
        #expect(calls.missed.reduce(0, +) == 3, "missed \(calls.missed)")
        #expect(sampler.missedSlots == 3)
        // Back on the grid after the overrun: every start is a whole number of intervals in.
        for start in calls.starts {
            let slots = (start - begun) / interval
            #expect(abs(slots - slots.rounded()) < 0.5 * 0.6, "started \(slots) intervals in")
        }
    }

    @Test("stop returns promptly while waiting for the next slot")
    func stopsPromptly() throws {
        let sampler = Sampler(interval: 60) { _ in }
        try sampler.start()
        let before = Clock.monotonicSeconds()
        sampler.stop()
        #expect(Clock.monotonicSeconds() - before < 0.5)
    }
}

/// A stretch of time history has no samples for, between two samples it has.
public struct SampleGap: Sendable, Equatable {
    /// Why nothing was sampled.
    public enum Reason: String, Sendable {
        /// netstatd stopped and started again (the samples belong to different runs).
        case restart
        /// The sampler skipped slots (it overran, or the host stalled it).
        case missedSamples = "missed samples"
    }

    /// The sample before the gap.
    public var from: Double
    /// The sample after it.
    public var to: Double
    public var reason: Reason

    /// The gaps between consecutive `samples` (oldest first): a change of run, slots
    /// the sampler recorded as missed, or an interval over 2.5 times the typical one
    /// (the median), which catches samples lost without a record (a kill -9 mid-run).
    public static func find(in samples: [SampleRecord]) -> [SampleGap] {
        let intervals = zip(samples, samples.dropFirst()).map { $1.takenAt - $0.takenAt }.sorted()
        let typical = intervals.isEmpty ? 0 : intervals[intervals.count / 2]
        var gaps: [SampleGap] = []
        for (previous, sample) in zip(samples, samples.dropFirst()) {
            if sample.runID != previous.runID {
                gaps.append(SampleGap(from: previous.takenAt, to: sample.takenAt, reason: .restart))
            } else if sample.missedSlots > 0 || (typical > 0 && sample.takenAt - previous.takenAt > typical * 2.5) {
                gaps.append(SampleGap(from: previous.takenAt, to: sample.takenAt, reason: .missedSamples))
            }
        }
        return gaps
    }
}

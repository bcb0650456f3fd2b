public import Sampling
public import Store

/// Writes samples to history on the sampler thread. A failed write (disk full, file
/// unwritable) is logged once, shown by /healthz and /status, and retried with the
/// next sample: the Recorder keeps what it last wrote, so nothing is lost but the
/// samples taken while writing was impossible.
public final class HistoryWriter {
    private let recorder: Recorder
    private let status: RecorderStatus
    private let log: (String) -> Void
    private var unwritten: [CloseEvent] = []
    private var unwrittenOverflows = 0
    private let closeEventCapacity: Int

    /// A writer into `recorder`, reporting to `status` and `log` (one line each),
    /// keeping at most `closeEventCapacity` close events while writes fail.
    public init(recorder: Recorder, status: RecorderStatus, closeEventCapacity: Int = CloseEventReader.defaultCapacity,
                log: @escaping (String) -> Void) {
        self.recorder = recorder
        self.status = status
        self.closeEventCapacity = closeEventCapacity
        self.log = log
    }

    /// Records one sample; never throws (see the type's comment).
    /// `closeEvents` are the kernel's close events since the last sample (see
    /// `CloseEventReader.drain`); a failed write keeps them for the next try.
    public func record(_ snapshot: Snapshot, counters: [CounterKey: UInt64], missedSlots: Int = 0,
                       closeEvents: [CloseEvent] = [], closeOverflows: Int = 0) {
        let started = Clock.monotonicSeconds()
        let events = unwritten.isEmpty ? closeEvents : unwritten + closeEvents
        let overflows = unwrittenOverflows + closeOverflows
        do {
            try recorder.record(snapshot, counters: counters, missedSlots: missedSlots, closeEvents: events, closeOverflows: overflows)
            unwritten = []
            unwrittenOverflows = 0
            let seconds = Clock.monotonicSeconds() - started
            let recovered = status.current.lastError != nil
            status.update {
                $0.written += 1
                $0.lastError = nil
                $0.lastWriteSeconds = seconds
                $0.lastWrittenAt = snapshot.takenAt
            }
            if recovered { log("netstatd: history writes resumed") }
        } catch {
            let message = "\(error)"
            let first = status.current.lastError != message
            status.update {
                $0.failed += 1
                $0.lastError = message
            }
            if first { log("netstatd: cannot write history (\(message)); sampling and live answers go on, writing is retried every sample") }
            // Kept for the next write, bounded as the reader's queue is: a disk full for
            // hours must not grow memory. The oldest go first (their sampled connections
            // are closed by the dump anyway); they are counted as lost, and the next
            // sample written says events were missed before it.
            let kept = events.suffix(closeEventCapacity)
            let dropped = events.count - kept.count
            unwritten = Array(kept)
            unwrittenOverflows = overflows + (dropped > 0 ? 1 : 0)
            if dropped > 0 { status.update { $0.closeEventsDropped += dropped } }
        }
    }
}

import Glibc
public import HTTP
import Sampling
import Store

/// Pushes the event feed (the lines `GET /api/v1/events` serves, each with `host` and
/// `instance` first) to one HTTP receiver as NDJSON: ClickHouse's HTTP interface
/// (`INSERT INTO ... FORMAT JSONEachRow`) or anything that takes POSTed JSON lines
/// (`serve --export-url`). Runs on a thread of its own.
///
/// Delivery: events go in batches of up to `batchSize`, read from the history file
/// after the cursor of the last event the receiver acknowledged (any 2xx). A failed
/// attempt (no connection, a timeout, a dropped connection, any other status) sends
/// the same bytes again after a pause that doubles up to `backoffMax` (a 413, too
/// large, halves the batch instead, for good); the cursor is
/// saved in the history file only after a 2xx, so a restart or an outage of the
/// receiver loses nothing and sends nothing twice. One case can repeat a batch: the
/// receiver stored it but its answer was lost (or netstatd stopped while waiting for
/// it). The batch then goes again byte for byte, with the same `Idempotency-Key`
/// header, which ClickHouse's block deduplication (deploy/clickhouse/schema.sql)
/// and any receiver that keeps the key can drop.
public final class EventExporter: @unchecked Sendable {
    // @unchecked: `state` and `thread` are only touched while holding `lock`; the
    // settings are immutable; the SQLite connections live on the exporter thread alone.

    /// Where to send, what each line carries, and how often.
    public struct Settings: Sendable {
        /// The receiver.
        public var url: HTTPClientURL
        /// `host` in every line: the machine's name.
        public var host: String
        /// `instance` in every line: the history file's id (`ExportCursors.instanceID`).
        public var instance: String
        /// Events per request at most.
        public var batchSize = 10_000
        /// Seconds between requests while caught up (a full batch goes without waiting).
        public var interval = 5.0
        /// The pause after the first failure, doubled after each further one up to `backoffMax`.
        public var backoff = 1.0
        public var backoffMax = 60.0
        /// Timeouts of each request.
        public var client = HTTPClient()
        /// Send the body gzip-compressed (`Content-Encoding: gzip`).
        public var gzip = true

        public init(url: HTTPClientURL, host: String, instance: String) {
            self.url = url
            self.host = host
            self.instance = instance
        }
    }

    /// Backlogs above this many events are not counted (`ExportStatus.backlog` is nil).
    public static let backlogCountLimit = 1_000_000
    /// The backlog is counted again at most this often (in between, acknowledged
    /// batches are subtracted).
    public static let backlogRecountSeconds = 5.0

    private let settings: Settings
    private let databasePath: String
    private let userNames: @Sendable () -> [UInt32: String]
    private let log: @Sendable (String) -> Void
    private let cancellation: Cancellation
    private let lock = Lock()
    private var state: ExportStatus
    private var thread: JoinableThread?

    /// An exporter of the history at `databasePath` (recorded by a Recorder) with
    /// `settings`; `userNames` names uids in the lines (the newest snapshot's), and
    /// `log` gets one line when sending starts failing and one when it recovers.
    public init(settings: Settings, databasePath: String, userNames: @escaping @Sendable () -> [UInt32: String] = { [:] },
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.settings = settings
        self.databasePath = databasePath
        self.userNames = userNames
        self.log = log
        cancellation = try Cancellation()
        state = ExportStatus(url: settings.url.redacted)
    }

    /// The key its cursor is kept under: the URL without its password (so a rotated
    /// password keeps the place).
    public var key: String { settings.url.redacted }

    /// How it is doing.
    public var status: ExportStatus { lock.withLock { state } }

    /// Starts the thread; throws naming pthread_create's error.
    public func start() throws {
        let handle = try startThread("the exporter to \(key)") { self.run() }
        lock.withLock { thread = handle }
    }

    /// Stops at once: a request in flight is abandoned (its batch is not
    /// acknowledged, so the next start sends it again) and the thread is joined.
    public func stop() {
        cancellation.cancel()
        let running = lock.withLock { () -> JoinableThread? in
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    /// The machine's name, for `host`.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Events read and not yet acknowledged: sent again, byte for byte, until they are.
    private struct Batch {
        var body: [UInt8]
        var after: EventCursor
        var last: EventCursor
        var count: Int
    }

    /// Why a receiver's answer is not an acknowledgement.
    private struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    private func run() {
        var store: (cursors: ExportCursors, reader: HistoryReader)?
        var cursor = EventCursor.start
        var pending: Batch?
        var lastCount = -Double.infinity
        var failing = false
        var batchSize = settings.batchSize
        let leading = [(key: "host", value: settings.host), (key: "instance", value: settings.instance)]
        while !cancellation.isCancelled {
            do {
                if store == nil {
                    // Opened on this thread: an SQLite connection belongs to one thread.
                    let cursors = try ExportCursors(path: databasePath)
                    let reader = try HistoryReader(path: databasePath)
                    if let position = try cursors.position(of: key) {
                        cursor = position.cursor
                        lock.withLock { state.lastSuccess = position.acknowledgedAt }
                    }
                    store = (cursors, reader)
                }
                let (cursors, reader) = store!
                if pending == nil {
                    let events = try reader.events(after: cursor, limit: batchSize)
                    guard let last = events.last else {
                        lock.withLock { state.backlog = 0 }
                        cancellation.sleep(seconds: settings.interval)
                        continue
                    }
                    pending = Batch(body: EventLine.ndjson(events, userNames: userNames(), leading: leading),
                                    after: cursor, last: last.cursor, count: events.count)
                }
                if Clock.monotonicSeconds() - lastCount >= Self.backlogRecountSeconds {
                    lastCount = Clock.monotonicSeconds()
                    countBacklog(reader, after: cursor)
                }
                let batch = pending!
                let response = try settings.client.post(
                    settings.url, body: batch.body, contentType: "application/x-ndjson", gzip: settings.gzip,
                    headers: [("Idempotency-Key", "\(settings.instance)/\(batch.after.text)/\(batch.last.text)")],
                    cancellation: cancellation)
                guard (200..<300).contains(response.status) else {
                    // Too large for the receiver: the same events again in halves, from now on.
                    if response.status == 413 && batch.count > 1 {
                        batchSize = max(1, batch.count / 2)
                        pending = nil
                    }
                    let text = response.bodyText()
                    throw Refusal(description: "the receiver answered \(response.status)" + (text.isEmpty ? "" : ": \(text)"))
                }
                pending = nil
                cursor = batch.last
                let now = Clock.wallSeconds()
                do {
                    try cursors.save(ExportPosition(cursor: cursor, acknowledgedAt: now), for: key)
                } catch {
                    log("netstatd: export to \(key): cannot save its cursor \(cursor.text) (\(error)); sending goes on, but a restart before the next save sends the last batch again")
                }
                let recovered = failing
                failing = false
                let failures = lock.withLock { () -> Int in
                    defer {
                        state.eventsSent += batch.count
                        state.batchesSent += 1
                        state.consecutiveFailures = 0
                        state.lastError = nil
                        state.lastSuccess = now
                        state.backlog = state.backlog.map { max(0, $0 - batch.count) }
                    }
                    return state.consecutiveFailures
                }
                if recovered { log("netstatd: export to \(key) resumed after \(failures) failed attempts; nothing was lost") }
                if batch.count < batchSize { cancellation.sleep(seconds: settings.interval) }
            } catch let error as HTTPClientError where error.cancelled {
                break
            } catch {
                let failures = lock.withLock { () -> Int in
                    state.failures += 1
                    state.consecutiveFailures += 1
                    state.lastError = "\(error)"
                    return state.consecutiveFailures
                }
                if !failing {
                    failing = true
                    log("netstatd: export to \(key) failed (\(error)); retrying with backoff up to \(Int(settings.backoffMax)) s from the same event, so nothing is lost")
                }
                // An outage is when the backlog matters: counted while retrying too.
                if let reader = store?.reader, Clock.monotonicSeconds() - lastCount >= Self.backlogRecountSeconds {
                    lastCount = Clock.monotonicSeconds()
                    countBacklog(reader, after: cursor)
                }
                cancellation.sleep(seconds: backoff(after: failures))
            }
        }
    }

    /// Counts the events after `cursor` into the status. A count that fails leaves
    /// the backlog unknown (null) rather than stopping the export: the read that
    /// matters, the batch's, reports its own errors.
    private func countBacklog(_ reader: HistoryReader, after cursor: EventCursor) {
        let backlog: Int?
        do {
            backlog = try reader.eventCount(after: cursor, limit: Self.backlogCountLimit)
        } catch {
            backlog = nil
        }
        lock.withLock { state.backlog = backlog }
    }

    /// The pause after `failures` consecutive failures: `backoff` doubled each time, capped.
    private func backoff(after failures: Int) -> Double {
        min(settings.backoffMax, settings.backoff * Double(1 << min(max(0, failures - 1), 30)))
    }
}

/// The database layout, as named migrations applied in order at start. The
/// storage model (../shared/DESIGN.md): cost follows churn, not the socket count.
/// - `connections`: one row per connection lifetime (opened = `first_sample`,
///   last seen = `last_sample`, NULL while open), with its first state and owner.
/// - what changed after the opening (state changes, owner changes, backlog episodes)
///   is kept twice, both packed: in the connection's own `log` blob (its history is
///   one row read) and in `changes`, one row per sample holding that sample's events
///   in the order the event feed serves them (closes included). A row per event plus
///   two indexes cost about 90 bytes per short connection; packed, about 10.
/// - `sample_times`: every sample's time in milliseconds, kept after the sample is
///   pruned while a connection that lives on still points at it (its first_seen,
///   its state changes), so pruning never turns a long-lived listener's times into 1970.
/// - `samples`: one row per sample with its state counts packed in a blob, and the
///   highest connection id opened by then (`connections_through`: ids grow with time,
///   so "opened between two samples" is an id range).
/// - `present`: every `PresentSet.keyframeEvery` samples, the ids of the connections
///   open then. "Present at T" is that set replayed forward (openings by id range,
///   closes from `changes`): an interval query without an index on interval ends,
///   which cost 14 bytes a connection and scanned half the table for a mid-week T.
/// - `counter_samples`: protocol and interface counters per sample, packed: a full
///   keyframe every `CounterLog.keyframeEvery` samples, otherwise only the counters
///   that changed (names in `counter_names`).
/// - `state_counts_1m` / `_1h`: the counts downsampled (sums and sample counts per
///   bucket), kept longer than raw rows.
/// - `flow_minutes`: closed connections counted per minute of their end, by the keys
///   the flow questions group on (ephemeral ports dropped), with bytes and a duration
///   histogram: "who hammered port 5432" over an hour reads 60 minutes of rows, not
///   3.6 million connections; kept as long as the state series.
/// - `export_cursors`: where each `--export-url` receiver stands in the event feed;
///   `instance`: the id every exported line carries (see `ExportCursors`).
enum Schema {
    /// Stamped in the file header so a foreign SQLite file is recognised and left alone.
    static let applicationID: Int32 = 0x6E_73_64_31  // "nsd1"

    static let migrations: [(name: String, sql: String)] = [
        ("001_initial", """
            CREATE TABLE runs(
                id INTEGER PRIMARY KEY,
                started_at REAL NOT NULL,
                version TEXT NOT NULL
            );
            CREATE TABLE samples(
                id INTEGER PRIMARY KEY,
                taken_at REAL NOT NULL,
                run_id INTEGER NOT NULL,
                duration_ms REAL NOT NULL,
                sockets INTEGER NOT NULL,
                problems INTEGER NOT NULL,
                counts BLOB NOT NULL,
                connections_through INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX samples_taken_at ON samples(taken_at);
            CREATE TABLE processes(
                id INTEGER PRIMARY KEY,
                pid INTEGER NOT NULL,
                start_time INTEGER NOT NULL,
                name TEXT NOT NULL,
                UNIQUE(pid, start_time)
            );
            CREATE TABLE connections(
                id INTEGER PRIMARY KEY,
                kind INTEGER NOT NULL,
                local_addr BLOB NOT NULL,
                local_port INTEGER NOT NULL,
                remote_addr BLOB NOT NULL,
                remote_port INTEGER NOT NULL,
                uid INTEGER NOT NULL,
                inode INTEGER NOT NULL,
                cookie INTEGER,
                first_sample INTEGER NOT NULL,
                last_sample INTEGER,
                state INTEGER NOT NULL,
                process_id INTEGER,
                fd INTEGER,
                log BLOB
            );
            CREATE INDEX connections_open ON connections(id) WHERE last_sample IS NULL;
            CREATE TABLE present(
                sample_id INTEGER PRIMARY KEY,
                ids BLOB NOT NULL
            );
            CREATE TABLE changes(
                sample_id INTEGER PRIMARY KEY,
                data BLOB NOT NULL
            );
            CREATE TABLE state_counts_1m(
                bucket INTEGER PRIMARY KEY,
                samples INTEGER NOT NULL,
                sums BLOB NOT NULL
            );
            CREATE TABLE state_counts_1h(
                bucket INTEGER PRIMARY KEY,
                samples INTEGER NOT NULL,
                sums BLOB NOT NULL
            );
            """),
        ("002_counters", """
            CREATE TABLE counter_names(
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE
            );
            CREATE TABLE counter_samples(
                sample_id INTEGER PRIMARY KEY,
                data BLOB NOT NULL
            );
            """),
        // Times become whole milliseconds (what the API serves, so `at=` with a served
        // time finds that sample); sample times move to their own small table that
        // pruning keeps while a connection still points at them; a run records the
        // boot it ran in (continuity across restarts); a connection records whether it
        // closed while netstatd was not sampling; a sample records the slots skipped
        // before it because the previous sample overran its interval.
        ("003_milliseconds_and_continuity", """
            CREATE TABLE samples_ms(
                id INTEGER PRIMARY KEY,
                taken_at_ms INTEGER NOT NULL,
                run_id INTEGER NOT NULL,
                duration_ms REAL NOT NULL,
                sockets INTEGER NOT NULL,
                problems INTEGER NOT NULL,
                counts BLOB NOT NULL,
                connections_through INTEGER NOT NULL DEFAULT 0,
                missed_slots INTEGER NOT NULL DEFAULT 0
            );
            INSERT INTO samples_ms(id, taken_at_ms, run_id, duration_ms, sockets, problems, counts, connections_through)
                SELECT id, CAST(round(taken_at * 1000) AS INTEGER), run_id, duration_ms, sockets, problems, counts, connections_through
                FROM samples;
            DROP TABLE samples;
            ALTER TABLE samples_ms RENAME TO samples;
            CREATE INDEX samples_taken_at ON samples(taken_at_ms);
            CREATE TABLE sample_times(
                id INTEGER PRIMARY KEY,
                taken_at_ms INTEGER NOT NULL
            );
            INSERT INTO sample_times(id, taken_at_ms) SELECT id, taken_at_ms FROM samples;
            ALTER TABLE runs ADD COLUMN boot_id TEXT;
            ALTER TABLE connections ADD COLUMN closed_in_gap INTEGER NOT NULL DEFAULT 0;
            """),
        // The kernel's close events: a connection's exact close time and final
        // counters, connections seen only through their close event (origin bit 0) and
        // owners inferred from the listener that accepted them (origin bit 1); per
        // sample, the events received and the times the kernel dropped some.
        ("004_close_events", """
            ALTER TABLE connections ADD COLUMN origin INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE connections ADD COLUMN closed_at_ms INTEGER;
            ALTER TABLE connections ADD COLUMN totals BLOB;
            ALTER TABLE samples ADD COLUMN close_events INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE samples ADD COLUMN close_overflows INTEGER NOT NULL DEFAULT 0;
            """),
        // Every network namespace: a connection is (namespace, cookie); NULL for rows
        // recorded before namespaces were sampled (the host's).
        ("005_namespaces", """
            ALTER TABLE connections ADD COLUMN netns INTEGER;
            """),
        // `serve --export-url`: per receiver (keyed by its URL without a password, so
        // a rotated password keeps the place), the cursor of the last event it
        // acknowledged. And the id every exported line carries as `instance`: made
        // once, here, so it names this history file for as long as the file lives.
        ("006_export_cursors", """
            CREATE TABLE export_cursors(
                url TEXT PRIMARY KEY,
                cursor TEXT NOT NULL,
                acknowledged_at_ms INTEGER NOT NULL
            );
            CREATE TABLE instance(
                id INTEGER PRIMARY KEY CHECK (id = 1),
                uuid TEXT NOT NULL
            );
            INSERT INTO instance(id, uuid) VALUES(1,
                lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
                || substr('89ab', 1 + abs(random() % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))));
            """),
        // Closed connections per minute of their end (FlowRollup.swift); `flow_backfill`
        // says rows recorded before this migration are still to be counted (done once
        // by the next writer).
        ("007_flow_minutes", """
            CREATE TABLE flow_minutes(
                minute INTEGER NOT NULL,
                kind INTEGER NOT NULL,
                local_addr BLOB NOT NULL,
                local_port INTEGER NOT NULL,
                remote_addr BLOB NOT NULL,
                remote_port INTEGER NOT NULL,
                process TEXT NOT NULL,
                count INTEGER NOT NULL,
                close_event_only INTEGER NOT NULL,
                bytes_sent INTEGER NOT NULL,
                bytes_received INTEGER NOT NULL,
                retransmits INTEGER NOT NULL,
                durations BLOB NOT NULL,
                first_ms INTEGER,
                last_ms INTEGER,
                PRIMARY KEY(minute, kind, local_addr, local_port, remote_addr, remote_port, process)
            ) WITHOUT ROWID;
            CREATE TABLE flow_backfill(through INTEGER NOT NULL);
            INSERT INTO flow_backfill(through) SELECT coalesce(max(id), 0) FROM connections;
            """),
        // Socket counts by group and state per hour (StateGroups.swift).
        ("008_state_groups", """
            CREATE TABLE state_groups_1h(
                bucket INTEGER NOT NULL,
                grouping INTEGER NOT NULL,
                samples INTEGER NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY(bucket, grouping)
            ) WITHOUT ROWID;
            """),
        // Sockets seen only through their close event, one packed block per sample
        // (ShortConnections.swift): about a quarter of a `connections` row each. Rows
        // written before stay in `connections` and are read from there;
        // `legacy_short_through` bounds where flow retention still looks for them.
        ("009_short_connections", """
            CREATE TABLE short_connections(
                first_id INTEGER PRIMARY KEY,
                sample_id INTEGER NOT NULL,
                count INTEGER NOT NULL,
                first_closed_ms INTEGER NOT NULL,
                last_closed_ms INTEGER NOT NULL,
                data BLOB NOT NULL
            );
            CREATE TABLE legacy_short_through(through INTEGER NOT NULL);
            INSERT INTO legacy_short_through(through) SELECT coalesce(max(id), 0) FROM connections WHERE origin & 1 = 1;
            """),
        // A short connection opens and closes in its block's sample, so the feed's
        // `closed` event for it is derived from the block (ShortConnectionTable.closings)
        // instead of stored in `changes`: 3-4 of the 21 bytes each took. Blocks written
        // before, from first ids below `from_id`, still have theirs in `changes`.
        ("010_short_closings_derived", """
            CREATE TABLE short_closings_derived(from_id INTEGER NOT NULL);
            INSERT INTO short_closings_derived(from_id) SELECT coalesce(max(first_id + count), 0) FROM short_connections;
            """),
    ]
}

/// The kinds of rows in `events`.
public enum EventKind: Int64, Sendable, CaseIterable {
    /// The connection appeared (not stored: the `connections` row is the opening).
    case opened = 0
    /// Its state changed; value is the new kernel state.
    case stateChanged = 1
    /// It was gone in this sample.
    case closed = 2
    /// A process started holding it; value packs process id and fd.
    case ownerAdded = 3
    /// A process stopped holding it; value packs process id and fd.
    case ownerRemoved = 4
    /// Its queues became non-empty; value packs the queues at the start.
    case backlogBegan = 5
    /// Its queues emptied (or it closed); value packs the peak Recv-Q and Send-Q.
    case backlogEnded = 6
    /// Recv-Q and Send-Q changed (kept in the connection's own log only, not in the
    /// feed): recorded whenever they differ from the last recorded pair, so the
    /// queues at any sample are known exactly (`connections?at=`).
    case queuesChanged = 7

    /// The name in the event feed.
    public var name: String {
        switch self {
        case .opened: return "opened"
        case .stateChanged: return "state_changed"
        case .closed: return "closed"
        case .ownerAdded: return "owner_added"
        case .ownerRemoved: return "owner_removed"
        case .backlogBegan: return "backlog_began"
        case .backlogEnded: return "backlog_ended"
        case .queuesChanged: return "queues_changed"
        }
    }
}

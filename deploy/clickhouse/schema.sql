-- netstatd's event feed in ClickHouse: one row per event line that
-- `netstatd serve --export-url` sends (the lines of GET /api/v1/events, with `host`
-- and `instance` first). Load it with:
--   clickhouse-client --multiquery < deploy/clickhouse/schema.sql
-- and point each netstatd at the table (URL-encoded query; the last setting lets
-- servers whose default date_time_input_format is 'basic' read the RFC 3339 times
-- netstatd writes, `2026-11-22T02:05:00.123Z`):
--   netstatd serve --export-url 'http://netstatd:PASSWORD@clickhouse:8123/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow&date_time_input_format=best_effort'
--
-- Nested objects of a line (connection, owner, owners, totals, queues, peak) are
-- named Tuples, which JSONEachRow fills from JSON objects; a key a line does not
-- carry (`state` on a close, `totals` on an opening) takes the column's default,
-- and JSON null takes NULL where the element is Nullable, the default elsewhere.
-- Every key of today's lines is a column (the test loads them with
-- input_format_skip_unknown_fields=0); keys a later netstatd adds are skipped where
-- that setting is on (the default of recent servers; else add
-- &input_format_skip_unknown_fields=1 to the URL).

CREATE DATABASE IF NOT EXISTS netstatd;

CREATE TABLE IF NOT EXISTS netstatd.events
(
    -- Who recorded it: the machine's host name and the history file's id (a UUID
    -- made once per file, so a host that moved its file keeps its instance).
    host        LowCardinality(String),
    instance    LowCardinality(String),
    -- The feed's position (sample.connection.kind.openedThrough): unique per instance.
    cursor      String,
    -- The sample that recorded the event (an opening: the first sample it was seen in).
    at          DateTime64(3, 'UTC'),
    kind        LowCardinality(String),   -- opened, state_changed, closed, owner_added, owner_removed, backlog_began, backlog_ended
    connection  Tuple(
        proto   LowCardinality(String),   -- tcp, udp
        family  LowCardinality(String),   -- ipv4, ipv6
        local   Tuple(address String, port UInt16),
        remote  Tuple(address String, port UInt16),
        seen    LowCardinality(String),   -- sampled, or close_event: it lived between two samples
        uid     Nullable(UInt32),         -- NULL when seen only through its close event
        user    LowCardinality(Nullable(String)),
        inode   Nullable(UInt64),
        cookie  Nullable(UInt64),         -- the kernel's socket cookie: with netns and instance, the socket's identity
        netns   Nullable(UInt64),
        cgroup  Nullable(String)),        -- close_event: the cgroup v2 path it was created in (its unit or container), when known
    -- state_changed and opened: the (new) state, netstat's name.
    state       LowCardinality(String),
    -- owner_added, owner_removed: the process.
    owner       Tuple(pid Int32, name LowCardinality(String), fd Int32, start_time UInt64, owner_inferred Bool,
                      `from` Nullable(DateTime64(3, 'UTC')), `to` Nullable(DateTime64(3, 'UTC'))),
    -- opened: the processes holding it when first seen.
    owners      Array(Tuple(pid Int32, name LowCardinality(String), fd Int32, start_time UInt64, owner_inferred Bool,
                            `from` Nullable(DateTime64(3, 'UTC')), `to` Nullable(DateTime64(3, 'UTC')))),
    -- closed: whether it closed while netstatd was not running, when the kernel said it
    -- closed (NULL without a close event), its final counters, and how long it lived
    -- (NULL when its opening is unknown: seen only through its close event).
    closed_during_gap Bool,
    closed_at   Nullable(DateTime64(3, 'UTC')),
    totals      Tuple(bytes_sent Nullable(UInt64), bytes_received Nullable(UInt64), segs_out Nullable(UInt64),
                      segs_in Nullable(UInt64), retransmits Nullable(UInt64), rtt_us Nullable(UInt64), min_rtt_us Nullable(UInt64)),
    duration_ms Nullable(UInt64),
    -- backlog_began: the queues then; backlog_ended: their peaks.
    queues      Tuple(recv_q UInt32, send_q UInt32),
    peak        Tuple(recv_q UInt32, send_q UInt32),

    -- Shorthands for the queries (computed when read, not stored).
    local_address  String ALIAS connection.local.address,
    local_port     UInt16 ALIAS connection.local.port,
    remote_address String ALIAS connection.remote.address,
    remote_port    UInt16 ALIAS connection.remote.port
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (host, at)
TTL toDateTime(at) + INTERVAL 90 DAY DELETE
-- A batch whose acknowledgement was lost is sent again byte for byte (netstatd keeps
-- it until a 2xx): identical inserts among the last 1000 are dropped, not stored twice.
SETTINGS non_replicated_deduplication_window = 1000;

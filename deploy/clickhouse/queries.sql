-- Fleet questions over netstatd.events (deploy/clickhouse/schema.sql), one named
-- query each: a `-- name:` line, what it answers, its parameters, then the query.
-- Parameters are ClickHouse query parameters: `clickhouse-client --param_address=10.0.0.5
-- --param_port=5432 --queries-file q.sql`, or over HTTP
-- `curl 'http://clickhouse:8123/?param_address=10.0.0.5&param_port=5432' --data-binary @q.sql`.
-- Times are UTC. A connection is identified by (host, instance, netns, cookie,
-- local and remote endpoints): the kernel's socket cookie is unique per boot.

-- name: hosts_that_talked_to
-- Which hosts talked to {address}:{port} yesterday (UTC): every connection to it
-- that was open at some moment of the day, including one opened before the day and
-- closed after it (or still open), with the processes that opened them.
-- Parameters: address (String), port (UInt16).
WITH toDateTime64(toStartOfDay(now('UTC')), 3, 'UTC') AS day_end,
     day_end - INTERVAL 1 DAY AS day_start
SELECT
    host,
    count() AS connections,
    arraySort(groupUniqArray(local_address)) AS local_addresses,
    arraySort(arrayDistinct(flatten(groupArray(processes)))) AS processes
FROM
(
    SELECT
        host, instance, connection.netns AS netns, connection.cookie AS cookie, local_address, local_port,
        countIf(kind = 'opened') AS openings,
        minIf(at, kind = 'opened') AS opened_at,
        countIf(kind = 'closed') AS closes,
        maxIf(coalesce(closed_at, at), kind = 'closed') AS ended_at,
        arrayDistinct(flatten(groupArrayIf(arrayMap(o -> tupleElement(o, 'name'), owners), kind = 'opened'))) AS processes
    FROM netstatd.events
    WHERE remote_address = {address:String} AND remote_port = {port:UInt16}
    GROUP BY host, instance, netns, cookie, local_address, local_port
)
-- No opening in the table: it opened before the export began, so before the day.
WHERE (openings = 0 OR opened_at < day_end) AND (closes = 0 OR ended_at >= day_start)
GROUP BY host
ORDER BY host;

-- name: top_talkers_per_host_per_hour
-- The peers each host exchanged the most bytes with, per hour of [{from}, {to}): the
-- five largest per host and hour. Bytes are a connection's final counters (the
-- kernel's bytes_acked and bytes_received, TCP only), known when it closes, so a
-- connection counts in the hour it closed.
-- Parameters: from, to (DateTime64(3), e.g. '2026-11-21 00:00:00').
SELECT
    host,
    toStartOfHour(coalesce(closed_at, at)) AS hour,
    remote_address AS peer,
    count() AS connections,
    sum(ifNull(totals.bytes_sent, 0)) AS sent,
    sum(ifNull(totals.bytes_received, 0)) AS received,
    sent + received AS bytes
FROM netstatd.events
WHERE kind = 'closed'
  AND coalesce(closed_at, at) >= {from:DateTime64(3, 'UTC')} AND coalesce(closed_at, at) < {to:DateTime64(3, 'UTC')}
GROUP BY host, hour, peer
ORDER BY host, hour, bytes DESC, peer
LIMIT 5 BY host, hour;

-- name: short_connections_by_host_and_port
-- Connections that lived under a second, by host and service port, closed in
-- [{from}, {to}). The service port is the lower of the two ports (a client's is an
-- ephemeral one, 32768-60999 on Linux by default). Two kinds are counted apart:
-- `under_a_second`: seen in a sample and closed by the kernel's close event under a
--   second later (duration_ms counts from the first sample that saw it, so the true
--   life may be longer by up to one sampling interval);
-- `between_samples`: seen only through their close event: they opened and closed
--   between two samples, so they lived less than one sampling interval (how much
--   less is not known, and duration_ms is NULL).
-- Parameters: from, to (DateTime64(3)).
SELECT
    host,
    least(local_port, remote_port) AS port,
    connection.proto AS proto,
    countIf(closed_at IS NOT NULL AND duration_ms < 1000) AS under_a_second,
    countIf(connection.seen = 'close_event') AS between_samples,
    quantileIf(0.5)(duration_ms, closed_at IS NOT NULL AND duration_ms < 1000) AS median_ms
FROM netstatd.events
WHERE kind = 'closed'
  AND ((closed_at IS NOT NULL AND duration_ms < 1000) OR connection.seen = 'close_event')
  AND coalesce(closed_at, at) >= {from:DateTime64(3, 'UTC')} AND coalesce(closed_at, at) < {to:DateTime64(3, 'UTC')}
GROUP BY host, port, proto
ORDER BY host, port, proto;

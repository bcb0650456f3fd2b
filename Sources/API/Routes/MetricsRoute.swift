import HTTP
import Rendering
import Sampling
import Service
import Store

/// `GET /metrics`: the Prometheus text exposition format (version 0.0.4): sockets by
/// proto, family and state; listeners' accept queue and backlog; every protocol
/// counter; interface counters; the sampler's own cost and errors.
enum MetricsRoute {
    /// Where a listener listens: one set of labels.
    private struct ListenerKey: Hashable {
        /// With `--metrics-namespaces`; nil otherwise (listeners summed across namespaces).
        var netns: UInt64?
        var address: IPAddress
        var port: UInt16
    }

    static func metrics(_ context: RouteContext) throws -> HTTPResponse {
        let snapshot = context.snapshot()
        let (stats, _) = context.stats.current(maxAge: context.configuration.maxSnapshotAge)
        // Appended as bytes: String interpolation for ~500 families cost more than
        // everything else in the request.
        var out: [UInt8] = []
        out.reserveCapacity(96 * 1024)
        func append(_ text: String) {
            var text = text
            text.withUTF8 { out.append(contentsOf: $0) }
        }
        func family(_ name: String, _ type: String, _ help: String) {
            append("# HELP "); append(name); append(" "); append(help)
            append("\n# TYPE "); append(name); append(" "); append(type); append("\n")
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
            sample(name, labels, text: format(value))
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
            sample(name, labels, text: String(value))
        }
        func sample(_ name: String, _ labels: [(String, String)], text value: String) {
            append(name)
            if !labels.isEmpty {
                out.append(UInt8(ascii: "{"))
                for (index, label) in labels.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    append(label.0); append("=\""); append(escape(label.1)); out.append(UInt8(ascii: "\""))
                }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: " "))
            append(value)
            out.append(UInt8(ascii: "\n"))
        }

        // With --metrics-namespaces every socket and listener series names its namespace
        // (its `ip netns` name, else its inode); without, they are summed across all.
        let byNamespace = context.configuration.metricsNamespaces
        let namespaceLabels = Dictionary(snapshot.namespaces.map { ($0.inode, $0.name ?? String($0.inode)) }, uniquingKeysWith: { a, _ in a })
        func namespaceLabel(_ inode: UInt64?) -> [(String, String)] {
            guard byNamespace else { return [] }
            return [("netns", inode.map { namespaceLabels[$0] ?? String($0) } ?? "unknown")]
        }
        family("netstatd_sockets", "gauge", "Sockets by protocol, family and state (and network namespace, with --metrics-namespaces).")
        struct SocketsKey: Hashable { var netns: UInt64?; var kind: Int }
        var tally: [SocketsKey: Int] = [:]
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            for index in sockets.indices {
                let kind = (sockets[index].proto == .udp ? 1 : 0) << 9 | (sockets[index].family == .ipv6 ? 1 : 0) << 8 | Int(sockets[index].state.rawValue)
                tally[SocketsKey(netns: byNamespace ? sockets[index].netns : nil, kind: kind), default: 0] += 1
            }
        }
        // Two states of the kernel can share a name (UDP's "UNCONN" is TCP_CLOSE), so
        // series are summed by their label values before they are written.
        var counts: [String: (labels: [(String, String)], count: Int)] = [:]
        for (key, count) in tally {
            let proto: TransportProtocol = key.kind >> 9 == 1 ? .udp : .tcp
            let state = SocketState(rawValue: UInt8(key.kind & 0xff)) ?? .close
            let labels = namespaceLabel(key.netns) + [
                ("proto", proto.rawValue), ("family", (key.kind >> 8) & 1 == 1 ? "ipv6" : "ipv4"), ("state", state.name(for: proto)),
            ]
            let id = labels.map(\.1).joined(separator: "|")
            counts[id, default: (labels, 0)].count += count
        }
        for (_, entry) in counts.sorted(by: { $0.key < $1.key }) {
            sample("netstatd_sockets", entry.labels, Double(entry.count))
        }
        // SO_REUSEPORT lets several listeners share one address and port: one series
        // per (address, port) with the queues summed, the largest backlog, and how
        // many listeners there are (duplicate label sets are rejected by Prometheus).
        var listeners: [ListenerKey: (queue: Double, backlog: Double?, count: Int)] = [:]
        var order: [ListenerKey] = []
        snapshot.sockets.withUnsafeBufferPointer { sockets in
            for index in sockets.indices where sockets[index].proto == .tcp && sockets[index].state == .listen {
                let key = ListenerKey(netns: byNamespace ? sockets[index].netns : nil, address: sockets[index].local.address, port: sockets[index].local.port)
                if listeners[key] == nil { order.append(key) }
                var entry = listeners[key] ?? (0, nil, 0)
                entry.queue += Double(sockets[index].recvQ)
                // Read from /proc a listener's backlog is unknown: no sample.
                if let backlog = sockets[index].knownSendQ { entry.backlog = max(entry.backlog ?? 0, Double(backlog)) }
                entry.count += 1
                listeners[key] = entry
            }
        }
        let labelled = order.map { key in (namespaceLabel(key.netns) + [("address", key.address.description), ("port", String(key.port))], listeners[key]!) }
        family("netstatd_listen_queue_length", "gauge", "Connections waiting in the accept queues of the TCP listeners on an address and port (summed over SO_REUSEPORT listeners).")
        for (labels, entry) in labelled { sample("netstatd_listen_queue_length", labels, entry.queue) }
        family("netstatd_listen_backlog", "gauge", "The accept queue limit (backlog) of the TCP listeners on an address and port (the largest, with SO_REUSEPORT).")
        for (labels, entry) in labelled {
            if let backlog = entry.backlog { sample("netstatd_listen_backlog", labels, backlog) }
        }
        family("netstatd_listeners", "gauge", "TCP listening sockets on an address and port (more than one with SO_REUSEPORT).")
        for (labels, entry) in labelled { sample("netstatd_listeners", labels, Double(entry.count)) }
        family("netstatd_tcp_close_wait_sockets", "gauge", "TCP sockets in CLOSE_WAIT by service port: inbound counts a local listening port, outbound a remote port.")
        for row in CloseWaitPorts.count(snapshot) {
            sample("netstatd_tcp_close_wait_sockets", [("port", String(row.port)), ("direction", row.direction.rawValue)], Double(row.count))
        }
        // Kernel counters: one family per counter, `_total` for monotonic counters;
        // the HELP/TYPE lines and names are built once per counter layout.
        let prefixes = MetricNames.shared.prefixes(for: stats)
        for (counter, prefix) in zip(stats.counters, prefixes) {
            out.append(contentsOf: prefix)
            append(counter.printed)
            out.append(UInt8(ascii: "\n"))
        }
        var byField: [String: [(String, UInt64)]] = [:]
        for interface in stats.interfaces {
            for key in interface.order {
                if let value = interface.counters[key] { byField[key, default: []].append((interface.name, value)) }
            }
        }
        for (field, values) in byField.sorted(by: { $0.key < $1.key }) {
            let direction = field.hasPrefix("rx_") ? "receive" : "transmit"
            let name = "netstatd_network_\(direction)_\(field.dropFirst(3))_total"
            family(name, "counter", "/proc/net/dev \(field) per interface.")
            for (interface, value) in values { sample(name, [("interface", interface)], value) }
        }
        if let http = context.configuration.httpStatistics?() {
            // Slow or idle clients closed on time show here, not as a stuck worker.
            for (name, help, value) in [
                ("netstatd_http_connections_accepted_total", "HTTP connections accepted.", http.accepted),
                ("netstatd_http_connections_evicted_total", "HTTP connections closed to make room when a connection limit was reached (the one waiting longest without a request).", http.evicted),
                ("netstatd_http_connections_expired_total", "HTTP connections closed for not sending a request's headers in time (slow or idle clients).", http.expired),
                ("netstatd_http_connections_refused_total", "HTTP connections turned away because every open one was being answered.", http.refused),
            ] {
                family(name, "counter", help)
                sample(name, [], Double(value))
            }
            family("netstatd_http_connections_open", "gauge", "HTTP connections open now.")
            sample("netstatd_http_connections_open", [], Double(http.open))
        }
        let sampler = context.live.samplerStats
        family("netstatd_samples_total", "counter", "Samples taken since start.")
        sample("netstatd_samples_total", [], Double(sampler.samples))
        family("netstatd_samples_with_problems_total", "counter", "Samples that could not read everything.")
        sample("netstatd_samples_with_problems_total", [], Double(sampler.samplesWithProblems))
        if let duration = sampler.lastDuration {
            family("netstatd_sample_duration_seconds", "gauge", "How long the last sample took.")
            sample("netstatd_sample_duration_seconds", [], duration)
        }
        if let cost = ProcessCost.read() {
            // Prometheus' standard process metrics, for netstatd's own cost.
            family("process_cpu_seconds_total", "counter", "User and system CPU time netstatd has used, in seconds.")
            sample("process_cpu_seconds_total", [], cost.cpuSeconds)
            family("process_resident_memory_bytes", "gauge", "netstatd's resident memory size in bytes.")
            sample("process_resident_memory_bytes", [], cost.residentBytes)
            family("process_virtual_memory_bytes", "gauge", "netstatd's virtual memory size in bytes.")
            sample("process_virtual_memory_bytes", [], cost.virtualBytes)
            if let open = cost.openFileDescriptors {
                family("process_open_fds", "gauge", "File descriptors netstatd holds open.")
                sample("process_open_fds", [], Double(open))
            }
            if let started = cost.startTime {
                family("process_start_time_seconds", "gauge", "When netstatd started, in seconds since the Unix epoch.")
                sample("process_start_time_seconds", [], started)
            }
        }
        if let history = context.history {
            let writer = history.status.current
            family("netstatd_history_writes_failed_total", "counter", "Samples that could not be written to history.")
            sample("netstatd_history_writes_failed_total", [], Double(writer.failed))
            family("netstatd_history_database_bytes", "gauge", "Size of the history file and its WAL.")
            sample("netstatd_history_database_bytes", [], Double(fileSize(history.path) + fileSize(history.path + "-wal")))
            if let reader = history.closeEvents {
                let events = reader.statistics
                family("netstatd_close_events_total", "counter", "Socket close events received from the kernel.")
                sample("netstatd_close_events_total", [], Double(events.received))
                family("netstatd_close_events_lost_total", "counter", "Close events dropped because netstatd's queue was full (or writes failed for long).")
                sample("netstatd_close_events_lost_total", [], Double(events.dropped + writer.closeEventsDropped))
                family("netstatd_close_events_overflows_total", "counter", "Times the kernel dropped close events because netstatd fell behind (ENOBUFS).")
                sample("netstatd_close_events_overflows_total", [], Double(events.overflows))
                family("netstatd_close_events_namespaces", "gauge", "Network namespaces whose close events are read, netstatd's own included.")
                sample("netstatd_close_events_namespaces", [], Double(events.namespaces))
                family("netstatd_close_events_namespaces_not_followed", "gauge", "Network namespaces sampled whose close events cannot be read (see /api/v1/status).")
                sample("netstatd_close_events_namespaces_not_followed", [], Double(events.notFollowed.count))
            }
            if let closed = history.closedByPort?.current, !closed.isEmpty {
                let ports = closed.keys.sorted()
                family("netstatd_connections_closed_total", "counter", "Connections accepted on a listening port and closed since start (from close events).")
                for port in ports { sample("netstatd_connections_closed_total", [("port", String(port))], Double(closed[port]!.closed)) }
                family("netstatd_connection_received_bytes_total", "counter", "Bytes received by the closed connections of a listening port (their final tcpi_bytes_received).")
                for port in ports { sample("netstatd_connection_received_bytes_total", [("port", String(port))], Double(closed[port]!.bytesReceived)) }
                family("netstatd_connection_sent_bytes_total", "counter", "Bytes the peers acknowledged on the closed connections of a listening port (tcpi_bytes_acked).")
                for port in ports { sample("netstatd_connection_sent_bytes_total", [("port", String(port))], Double(closed[port]!.bytesSent)) }
            }
            append(ExportMetrics.text(history.exporters))
        }
        return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: out)
    }

    /// `RetransSegs` -> `retrans_segs`, `TCPLostRetransmit` -> `tcp_lost_retransmit`,
    /// `MPJoinAckHMacFailure` -> `mp_join_ack_hmac_failure`.
    static func snake(_ name: String) -> String {
        var out = ""
        let characters = Array(name)
        for (index, character) in characters.enumerated() {
            if character.isUppercase {
                let previousLower = index > 0 && (characters[index - 1].isLowercase || characters[index - 1].isNumber)
                let nextLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if index > 0 && (previousLower || (nextLower && characters[index - 1].isUppercase)) { out += "_" }
                out += character.lowercased()
            } else if character.isLetter || character.isNumber {
                out.append(character)
            } else {
                out += "_"
            }
        }
        return joiningUnitLookalikes(out)
    }

    /// What promtool's lint reads as an abbreviated unit when it stands alone between
    /// underscores (prometheus/client_golang, prometheus/testutil/promlint).
    static let unitAbbreviations: Set<Substring> = ["s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"]

    /// Joins a word that looks like a unit to the word after it (`h_mac` -> `hmac`) or,
    /// at the end, before it: a kernel name such as `HMac` is not a duration.
    static func joiningUnitLookalikes(_ snake: String) -> String {
        var words = snake.split(separator: "_", omittingEmptySubsequences: false).map { Substring($0) }
        guard words.contains(where: { unitAbbreviations.contains($0) }) else { return snake }
        var index = 0
        while index < words.count && words.count > 1 {
            if unitAbbreviations.contains(words[index]) {
                if index + 1 < words.count {
                    words[index + 1] = words[index] + words[index + 1]
                } else {
                    words[index - 1] += words[index]
                }
                words.remove(at: index)
            } else {
                index += 1
            }
        }
        return words.joined(separator: "_")
    }

    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// The fixed part of each kernel counter's lines ("# HELP ...\n# TYPE ...\nname "),
/// worked out once per counter layout: the names do not change while a kernel runs.
final class MetricNames: @unchecked Sendable {
    // @unchecked: `cached` is only touched while holding `lock`.
    static let shared = MetricNames()
    private let lock = Lock()
    private var cached: (layout: Int, prefixes: [[UInt8]])?

    /// Kernel gauges among the counters (values that go down as well as up, or
    /// settings); everything else is a `_total` counter. `CurrEstab` is a gauge in
    /// every group that has it (Tcp, MPTcpExt).
    static let gauges: Set<String> = ["Tcp.CurrEstab", "Tcp.MaxConn", "Tcp.RtoAlgorithm", "Tcp.RtoMin", "Tcp.RtoMax", "Ip.Forwarding", "Ip.DefaultTTL"]
    static func isGauge(_ key: String) -> Bool { gauges.contains(key) || key.hasSuffix(".CurrEstab") }

    func prefixes(for stats: ProtocolStats) -> [[UInt8]] {
        if stats.layout != 0, let cached = lock.withLock({ cached }), cached.layout == stats.layout {
            return cached.prefixes
        }
        let prefixes = stats.counters.map { counter -> [UInt8] in
            let base = "netstatd_" + MetricsRoute.snake(counter.group) + "_" + MetricsRoute.snake(counter.name)
            let gauge = Self.isGauge(counter.key)
            let name = gauge ? base : base + "_total"
            return Array("# HELP \(name) \(counter.key) from /proc/net.\n# TYPE \(name) \(gauge ? "gauge" : "counter")\n\(name) ".utf8)
        }
        if stats.layout != 0 { lock.withLock { cached = (stats.layout, prefixes) } }
        return prefixes
    }
}

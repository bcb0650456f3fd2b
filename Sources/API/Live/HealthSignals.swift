public import Sampling

/// The signals the raw counters hide, each with what it means.
public struct HealthSignal: Sendable {
    /// Stable name (`tcp_retransmission_ratio`).
    public var name: String
    /// The value (a ratio, or events per second); nil when it cannot be computed yet.
    public var value: Double?
    /// What it means and when to worry.
    public var explanation: String
}

/// Derives the health signals from two readings and the live sockets.
public enum HealthSignals {
    /// The signals, plus the listeners whose accept queue is full now.
    public static func derive(_ now: ProtocolStats, _ before: ProtocolStats?, snapshot: Snapshot) -> (signals: [HealthSignal], fullListeners: [Socket]) {
        let current = now.byKey
        let earlier = before?.byKey
        let seconds = before.map { now.monotonic - $0.monotonic } ?? 0
        func rate(_ key: String) -> Double? {
            guard let value = current[key] else { return nil }
            return CounterRate.between(earlier?[key], value, seconds: seconds).perSecond
        }
        func sumRates(_ keys: [String]) -> Double? {
            let rates = keys.compactMap(rate)
            return rates.isEmpty ? nil : rates.reduce(0, +)
        }
        var signals: [HealthSignal] = []
        let retrans = rate("Tcp.RetransSegs"), out = rate("Tcp.OutSegs")
        signals.append(HealthSignal(
            name: "tcp_retransmission_ratio",
            value: (retrans != nil && out != nil && out! > 0) ? retrans! / out! : (out == 0 ? 0 : nil),
            explanation: "Tcp.RetransSegs / Tcp.OutSegs over the last interval: the share of segments sent again. Above 0.01 (1%) usually means loss or congestion on the path."))
        if let total = current["Tcp.RetransSegs"], let sent = current["Tcp.OutSegs"], sent > 0 {
            signals.append(HealthSignal(name: "tcp_retransmission_ratio_since_boot", value: Double(total) / Double(sent),
                                        explanation: "The same ratio over the counters' whole life, for comparison."))
        }
        // Events per second, from one or more counters each.
        let rates: [(name: String, counters: [String], explanation: String)] = [
            ("tcp_listen_overflows_per_second", ["TcpExt.ListenOverflows"],
             "Connections dropped because a listener's accept queue was full (TcpExt.ListenOverflows): the application accepts too slowly or its backlog is too small; see full_listeners."),
            ("tcp_listen_drops_per_second", ["TcpExt.ListenDrops"],
             "All SYNs or handshakes a listener dropped (TcpExt.ListenDrops), overflows included."),
            ("tcp_failed_connection_attempts_per_second", ["Tcp.AttemptFails"],
             "Connection attempts that failed (Tcp.AttemptFails): refused, reset during the handshake or timed out."),
            ("tcp_resets_sent_per_second", ["Tcp.OutRsts"],
             "Resets sent (Tcp.OutRsts): often connections to closed ports, or aborted by the application."),
            ("tcp_established_resets_per_second", ["Tcp.EstabResets"],
             "Established connections ended by a reset (Tcp.EstabResets)."),
            ("udp_receive_buffer_errors_per_second", ["Udp.RcvbufErrors", "Udp6.RcvbufErrors"],
             "UDP datagrams dropped because a socket's receive buffer was full (Udp.RcvbufErrors + Udp6.RcvbufErrors): the reader is too slow or SO_RCVBUF too small."),
        ]
        for entry in rates {
            signals.append(HealthSignal(name: entry.name, value: sumRates(entry.counters), explanation: entry.explanation))
        }
        // The kernel calls an accept queue full when it holds more than the backlog
        // (sk_acceptq_is_full: ack_backlog > max_ack_backlog).
        let full = snapshot.sockets.filter { $0.proto == .tcp && $0.state == .listen && $0.recvQ > $0.sendQ }
        return (signals, full)
    }
}

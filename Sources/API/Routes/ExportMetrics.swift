import Service

/// The exporters' families of `/metrics`, one series per `--export-url` (labelled with
/// the URL, its password hidden): what was sent, what failed, what is waiting.
enum ExportMetrics {
    /// The exposition text for `exporters` (nothing when there are none).
    static func text(_ exporters: [EventExporter]) -> String {
        let statuses = exporters.map(\.status)
        guard !statuses.isEmpty else { return "" }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: (ExportStatus) -> Double?) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for status in statuses {
                guard let value = value(status) else { continue }
                out += "\(name){url=\"\(MetricsRoute.escape(status.url))\"} \(MetricsRoute.format(value))\n"
            }
        }
        family("netstatd_export_events_sent_total", "counter", "Events the receiver of an --export-url acknowledged (2xx) since start.") {
            Double($0.eventsSent)
        }
        family("netstatd_export_batches_sent_total", "counter", "Requests the receiver of an --export-url acknowledged since start.") {
            Double($0.batchesSent)
        }
        family("netstatd_export_failures_total", "counter", "Export attempts that failed (no connection, timeout, dropped connection, non-2xx answer) since start; each is retried.") {
            Double($0.failures)
        }
        family("netstatd_export_consecutive_failures", "gauge", "Export attempts failed since the last success (0 while the receiver keeps up).") {
            Double($0.consecutiveFailures)
        }
        family("netstatd_export_backlog_events", "gauge", "Events recorded and not yet acknowledged by the receiver (absent while too many to count cheaply).") {
            $0.backlog.map(Double.init)
        }
        family("netstatd_export_last_success_timestamp_seconds", "gauge", "Unix time the receiver last acknowledged a batch (absent before the first).") {
            $0.lastSuccess.map { ($0 * 1000).rounded() / 1000 }
        }
        return out
    }
}

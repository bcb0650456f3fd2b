import Rendering
import Service

/// The `exports` array of /api/v1/status: one object per `--export-url`.
enum ExportJSON {
    static func write(_ exporters: [EventExporter], to json: inout JSONWriter) {
        json.beginArray()
        for status in exporters.map(\.status) {
            json.beginObject()
            json.key("url"); json.string(status.url)
            json.key("last_success"); if let at = status.lastSuccess { json.string(Timestamp.rfc3339(at)) } else { json.null() }
            json.key("consecutive_failures"); json.number(status.consecutiveFailures)
            json.key("failures"); json.number(status.failures)
            json.key("last_error"); if let error = status.lastError { json.string(error) } else { json.null() }
            json.key("backlog"); if let backlog = status.backlog { json.number(backlog) } else { json.null() }
            json.key("events_sent"); json.number(status.eventsSent)
            json.key("batches_sent"); json.number(status.batchesSent)
            json.endObject()
        }
        json.endArray()
    }
}

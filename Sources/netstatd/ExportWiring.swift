import CommandLineOptions
import HTTP
import Sampling
import Service
import Store

/// `serve --export-url URL` (repeatable): one `EventExporter` per receiver over the
/// history file, each line named by this machine's host name and the file's
/// instance id.
enum ExportWiring {
    /// The receivers, checked before anything is opened: each an http:// URL (the
    /// option's kind has parsed it), no two the same, and history to export.
    static func urls(_ parsed: ParsedOptions) throws -> [HTTPClientURL] {
        let texts = parsed.all("export-url")
        guard !texts.isEmpty else { return [] }
        if parsed.has("no-history") {
            throw UsageError("--export-url sends the recorded event feed, and --no-history records none: drop one of them")
        }
        var urls: [HTTPClientURL] = []
        for text in texts {
            let url: HTTPClientURL
            do {
                url = try HTTPClientURL(text)
            } catch {
                throw UsageError("--export-url \(error)")
            }
            // The cursor is kept per URL without its password: two such URLs would share one.
            if urls.contains(where: { $0.redacted == url.redacted }) {
                throw UsageError("--export-url \(url.redacted) is given twice; each receiver once")
            }
            urls.append(url)
        }
        return urls
    }

    /// Exporters of the history at `path` to `urls`, not yet started.
    static func exporters(_ urls: [HTTPClientURL], path: String, live: LiveView) throws -> [EventExporter] {
        guard !urls.isEmpty else { return [] }
        let instance = try ExportCursors(path: path).instanceID()
        let host = EventExporter.hostName()
        return try urls.map { url in
            try EventExporter(settings: EventExporter.Settings(url: url, host: host, instance: instance), databasePath: path,
                              userNames: { live.newest?.userNames ?? [:] }, log: { StandardError.line($0) })
        }
    }
}

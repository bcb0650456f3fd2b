import API
import Glibc
import HTTP
import Rendering
import Sampling
import Service
import Store
import CommandLineOptions

/// `netstatd serve`: samples on an interval and answers the HTTP API until SIGTERM/SIGINT.
enum ServeCommand {
    static let specs: [OptionSpec] = [
        OptionSpec(long: "config", value: "PATH", help: "Read options from PATH: 'name = value' lines, names as these flags; flags given here win.", kind: .path),
        OptionSpec(long: "listen", value: "HOST:PORT", help: "Address to listen on (default 127.0.0.1:7878; [::1]:7878 for IPv6).", kind: .listen),
        OptionSpec(long: "db", value: "PATH", help: "SQLite file for history (default ./netstatd.db).", kind: .path),
        OptionSpec(long: "no-history", help: "Keep no history (live endpoints only)."),
        OptionSpec(long: "retention", value: "DURATION", help: "Keep raw history this long (default 7d).", kind: .duration),
        OptionSpec(long: "series-retention", value: "DURATION", help: "Keep downsampled state counts and flow rollups this long (default 90d).", kind: .duration),
        OptionSpec(long: "flow-retention", value: "DURATION",
                   help: "Keep connections seen only by their close event (shorter than a sample) this long (default 2d); history/flows keeps counting them from its rollups.",
                   kind: .duration),
        OptionSpec(long: "interval", value: "SECONDS", help: "Seconds between samples (default 5).", kind: .seconds(0.1...3600)),
        OptionSpec(long: "token-file", value: "PATH", help: "File holding the bearer token (or set NETSTATD_TOKEN); SIGHUP re-reads it.", kind: .path),
        OptionSpec(long: "insecure-no-auth", help: "Serve a non-loopback address without a token."),
        OptionSpec(long: "tls-cert", value: "PATH", help: "PEM certificate: serve HTTPS.", kind: .path),
        OptionSpec(long: "tls-key", value: "PATH", help: "PEM private key for --tls-cert.", kind: .path),
        OptionSpec(long: "cors-origin", value: "ORIGIN", help: "Let a dashboard on ORIGIN (or *) read the API."),
        OptionSpec(long: "expose-cmdline", help: "Serve process command lines (they can hold secrets)."),
        OptionSpec(long: "metrics-namespaces",
                   help: "Label /metrics' socket and listener series with their network namespace (netns=name or inode): a series per namespace."),
        OptionSpec(long: "proc-root", value: "DIR", help: "The proc tree to read (default $PROC_ROOT or /proc).", kind: .path),
        OptionSpec(long: "namespaces", value: "all|host", help: "Network namespaces to sample (default all as root, else host: netstatd's own)."),
        OptionSpec(long: "threads", value: "N", help: "HTTP worker threads (default: number of CPUs, at least 2).", kind: .integer(1...64)),
        OptionSpec(long: "log-requests", help: "Log one line per request to stderr."),
        OptionSpec(long: "export-url", value: "URL", help: "Push the event feed as NDJSON to URL, e.g. ClickHouse's ...?query=INSERT INTO ... FORMAT JSONEachRow (http:// only; repeatable).",
                   kind: .httpURL, repeatable: true),
    ]

    /// The options a `--config` file may set: all but `config` itself.
    static var configSpecs: [OptionSpec] { specs.filter { $0.long != "config" } }

    static func main(_ arguments: [String]) throws -> Int32 {
        var parsed = try parseOptions(arguments, specs: specs)
        if parsed.has("help") {
            print(helpText(usage: "netstatd serve [--config PATH] [--listen HOST:PORT] [--interval SECONDS] [options]",
                           abstract: "Sample sockets on an interval and serve them as JSON over HTTP.", specs: specs,
                           discussion: "Examples:\n  netstatd serve\n  curl -s localhost:7878/api/v1/listeners | jq\n  NETSTATD_TOKEN=s3cret netstatd serve --listen 0.0.0.0:7878\n  netstatd serve --config /etc/netstatd/netstatd.conf --log-requests"))
            return 0
        }
        if let path = parsed.value("config") {
            parsed = parsed.overriding(try ConfigFile.load(path, specs: configSpecs))
        }
        let environment = currentEnvironment()
        let (host, port) = try parseListen(parsed.value("listen") ?? "127.0.0.1:7878")
        let interval = Double(parsed.value("interval") ?? "5") ?? -1
        guard interval >= 0.1 && interval <= 3600 else {
            throw UsageError("--interval \(parsed.value("interval") ?? ""): expected seconds from 0.1 to 3600")
        }

        var api = APIConfiguration()
        api.corsOrigin = parsed.value("cors-origin")
        api.exposeCommandLines = parsed.has("expose-cmdline")
        api.metricsNamespaces = parsed.has("metrics-namespaces")
        api.logRequests = parsed.has("log-requests")
        api.samplingInterval = interval
        api.openAPIDocument = OpenAPIDocument.yaml
        let tokenFile = parsed.value("token-file").map { TokenFile(path: $0) }
        if let tokenFile {
            let reading = try tokenFile.read()
            if let warning = reading.warning { StandardError.line("netstatd: warning: \(warning)") }
            api.token = reading.token
        } else if let token = environment["NETSTATD_TOKEN"]?.trimmingWhitespace(), !token.isEmpty {
            api.token = token
        }
        let loopback = host == "127.0.0.1" || host == "::1" || host == "[::1]" || host.hasPrefix("127.") || host == "localhost"
        if !loopback && api.token == nil && !parsed.has("insecure-no-auth") {
            throw UsageError("listening on \(host) exposes socket and process data beyond this host: give a token (--token-file PATH or NETSTATD_TOKEN), or --insecure-no-auth if that is really meant")
        }

        var http = HTTPServerConfiguration()
        http.host = host == "localhost" ? "127.0.0.1" : host
        http.port = port
        http.threads = try parsed.integer("threads", in: 1...64) ?? max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        switch (parsed.value("tls-cert"), parsed.value("tls-key")) {
        case (nil, nil): break
        case let (cert?, key?):
            guard let certificate = try? readText(cert) else { throw UsageError("--tls-cert \(cert): cannot be read") }
            guard let privateKey = try? readText(key) else { throw UsageError("--tls-key \(key): cannot be read") }
            http.tlsCertificatePEM = certificate
            http.tlsKeyPEM = privateKey
        default:
            throw UsageError("--tls-cert and --tls-key go together")
        }

        var options = CollectorOptions()
        options.procRoot = parsed.value("proc-root") ?? CollectorOptions.defaultProcRoot(environment: environment)
        options.tcpInfo = true
        switch parsed.value("namespaces") {
        case nil: break
        case "all": options.namespaces = .all
        case "host": options.namespaces = .host
        case let other?: throw UsageError("--namespaces \(other): expected all (every network namespace) or host (netstatd's own)")
        }
        // The owner cache is trusted for about a minute, then everything is walked again.
        options.fullOwnerWalkEvery = max(2, Int(60 / interval))
        let live = LiveView(collector: Collector(options: options))

        let exportURLs = try ExportWiring.urls(parsed)
        var recorder: Recorder?
        var history: HistoryAccess?
        // The kernel's close events: every connection's end, even one shorter than a
        // sample, in each namespace sampled.
        let closeEvents = CloseEventReader(procRoot: options.procRoot)
        let closedByPort = ClosedByPort()
        // Checked even with --no-history: a mistyped flag is an error wherever it is.
        var retention = Retention()
        if let text = parsed.value("retention") { retention.rawSeconds = try parseDuration(text, option: "retention") }
        if let text = parsed.value("series-retention") { retention.seriesSeconds = try parseDuration(text, option: "series-retention") }
        if let text = parsed.value("flow-retention") { retention.flowRawSeconds = try parseDuration(text, option: "flow-retention") }
        if !parsed.has("no-history") {
            let path = parsed.value("db") ?? "./netstatd.db"
            do {
                recorder = try Recorder(path: path, version: APIVersion.string, retention: retention)
            } catch {
                StandardError.line("netstatd serve: cannot use --db \(path): \(error)")
                return 1
            }
            let status = RecorderStatus()
            history = HistoryAccess(readers: ReaderPool(path: path, status: status), status: status, path: path, closeEvents: closeEvents,
                                    closedByPort: closedByPort)
            do {
                history?.exporters = try ExportWiring.exporters(exportURLs, path: path, live: live)
            } catch {
                StandardError.line("netstatd serve: cannot export from --db \(path): \(error)")
                return 1
            }
        }

        // Signals are taken by sigwait on this thread; every thread started after this
        // inherits the blocked mask, so none of them is interrupted by them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        // Probed from this process, never from --proc-root (which may be another machine's).
        do {
            api.capabilities = try Capabilities.read()
        } catch {
            StandardError.line("netstatd: cannot tell which capabilities this process has (\(error)); /api/v1/status shows capabilities: null")
        }

        let stats = StatsView(procRoot: options.procRoot)
        stats.refresh()
        let started = StartedServer()
        api.httpStatistics = { started.server?.statistics() ?? HTTPServerStatistics() }
        let apiServer = APIServer(live: live, configuration: api, history: history, stats: stats)
        let server = HTTPServer(configuration: http, handler: apiServer.handle)
        started.server = server
        do {
            try server.start()
        } catch {
            StandardError.line("netstatd serve: \(error)" + holderNote(port: http.port, live: live))
            return 1
        }
        // Sampled once the listener exists, so even the first snapshot shows it.
        let first = live.refresh()
        let scheme = http.tlsCertificatePEM == nil ? "http" : "https"
        let shownHost = http.host.contains(":") ? "[\(http.host)]" : http.host
        StandardError.line("netstatd: listening on \(scheme)://\(shownHost):\(server.port) (sampling every \(interval) s, \(first.sockets.count) sockets in \(first.namespaces.count) network namespaces via \(first.source.rawValue), auth \(api.token == nil ? "off" : "on"))")
        if let capabilities = api.capabilities { StandardError.line("netstatd: capabilities: \(capabilities.summary)") }
        if let history { StandardError.line("netstatd: recording history in \(history.path)") }
        let tableNote = SharedTCPTableNote(procRoot: options.procRoot)
        tableNote.check(first)
        let writer = recorder.map { HistoryWriter(recorder: $0, status: history!.status, log: StandardError.line) }
        writer?.record(first, counters: stats.refresh())
        if writer != nil {
            if let reason = closeEvents.start() {
                StandardError.line("netstatd: close events unavailable (\(reason)); connections shorter than a sample are not recorded")
            }
            closeEvents.follow(first.namespaces)
        }
        let sampler = Sampler(interval: interval) { missedSlots in
            let snapshot = live.refresh()
            tableNote.check(snapshot)
            let counters = stats.refresh()
            // Namespaces new in this sample are followed from now on, those gone dropped.
            if writer != nil { closeEvents.follow(snapshot.namespaces) }
            let (events, overflows) = closeEvents.drain()
            closedByPort.observe(events, in: snapshot)
            writer?.record(snapshot, counters: counters, missedSlots: missedSlots, closeEvents: events, closeOverflows: overflows)
        }
        try sampler.start()
        for exporter in history?.exporters ?? [] {
            try exporter.start()
            StandardError.line("netstatd: exporting the event feed to \(exporter.key)")
        }

        var received: Int32 = 0
        while sigwait(&signals, &received) == 0 && received == SIGHUP {
            if let tokenFile {
                tokenFile.reload(into: api.bearer, log: StandardError.line)
            } else {
                StandardError.line("netstatd: SIGHUP: no --token-file to re-read; nothing changed")
            }
        }
        StandardError.line("netstatd: signal \(received), stopping")
        sampler.stop()
        for exporter in history?.exporters ?? [] { exporter.stop() }
        closeEvents.stop()
        server.stop()
        return 0
    }

    /// Who holds `port`, when a listener on it can be seen (finding that out is what
    /// netstatd is for): " (held by pid 812 nginx)", or "" when nothing is seen.
    static func holderNote(port: UInt16, live: LiveView) -> String {
        guard port != 0 else { return "" }
        let holders = live.refresh().sockets
            .filter { $0.proto == .tcp && $0.state == .listen && $0.local.port == port }
            .flatMap(\.processes)
        guard !holders.isEmpty else { return "" }
        let names = Array(Set(holders.map { "pid \($0.pid) \($0.name)" })).sorted()
        return " (held by \(names.joined(separator: ", ")))"
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`.
    static func parseListen(_ text: String) throws -> (String, UInt16) {
        switch ListenAddress.parse(text) {
        case .success(let address): return address
        case .failure(let problem): throw UsageError("--listen \(text): \(problem.message)")
        }
    }
}

/// The server, for /metrics' connection figures: the API is made before the server
/// it answers for.
final class StartedServer: @unchecked Sendable {
    // @unchecked: written once, before the server starts and so before any request
    // thread exists (thread creation orders the write before every read).
    var server: HTTPServer?
}

/// The whole text of a file.
func readText(_ path: String) throws -> String {
    try FileContents.text(atPath: path)
}

/// Parses `7d`, `12h`, `30m`, `90s` or seconds.
func parseDuration(_ text: String, option: String) throws -> Double {
    guard let seconds = DurationText.seconds(text), seconds >= 1 else {
        throw UsageError("--\(option) \(text): expected \(DurationText.help) (a bare number has no unit: write 7d for a week, 7s for seven seconds)")
    }
    return seconds
}


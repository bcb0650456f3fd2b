import API
import CommandLineOptions
import Glibc
import HTTP
import Sampling
import Service
import Store

/// `netstatd-bench history`: a synthetic week written through the real Recorder
/// (10,000 long-lived sockets, 10 new short connections a second that pass through
/// ESTABLISHED and TIME_WAIT), then the costs: bytes per connection lifecycle and per
/// sample (indexes included, from SQLite's dbstat), the Recorder's time per sample,
/// and the latency of history queries through the API handler. Prints JSON. Used by
/// bench/history; hidden from help.
enum BenchHistoryCommand {
    static let specs = [
        OptionSpec(long: "db", value: "PATH", help: "Where to write (a new file)."),
        OptionSpec(long: "days", value: "N", help: "Days to simulate (default 7)."),
        OptionSpec(long: "interval", value: "SECONDS", help: "Sample interval (default 5)."),
        OptionSpec(long: "long-lived", value: "N", help: "Long-lived sockets (default 10000)."),
        OptionSpec(long: "rate", value: "N", help: "New short connections per second (default 10)."),
    ]

    static func main(_ arguments: [String]) throws -> Int32 {
        let parsed = try parseOptions(arguments, specs: specs)
        guard let path = parsed.value("db") else { throw UsageError("--db PATH is required") }
        let days = Double(parsed.value("days") ?? "7") ?? 7
        let interval = Double(parsed.value("interval") ?? "5") ?? 5
        let longLived = try parsed.integer("long-lived", in: 0...1_000_000) ?? 10_000
        let rate = Double(parsed.value("rate") ?? "10") ?? 10
        unlink(path)
        unlink(path + "-wal")
        unlink(path + "-shm")

        var retention = Retention()
        retention.rawSeconds = (days + 1) * 86400
        let recorder = try Recorder(path: path, version: "bench", retention: retention)
        let owner = SocketOwner(pid: 4242, startTime: 1, name: "postgres", fd: 5)
        let address = IPAddress("10.0.0.5")!
        var steady: [Socket] = []
        for i in 0..<longLived {
            let peerAddress = IPAddress(ipv4: UInt32(0x0A01_0000) | UInt32(i / 60000))
            let peer = Endpoint(address: peerAddress, port: UInt16(1024 + i % 60000))
            steady.append(Socket(proto: .tcp, family: .ipv4, state: .established,
                                 local: Endpoint(address: address, port: 5432), remote: peer,
                                 recvQ: 0, sendQ: 0, uid: 999, inode: UInt64(100_000 + i), cookie: UInt64(1 + i), processes: [owner]))
        }
        steady.append(Socket(proto: .tcp, family: .ipv4, state: .listen, local: Endpoint(address: .any(.ipv4), port: 5432),
                             remote: Endpoint(address: .any(.ipv4), port: 0), recvQ: 0, sendQ: 128, uid: 999,
                             inode: 99, cookie: 99_999_999, processes: [owner]))
        let perSample = Int((rate * interval).rounded())
        let timeWaitSamples = Int((60 / interval).rounded(.up))
        let samples = Int(days * 86400 / interval)
        let start = 1_790_000_000.0
        var nextCookie: UInt64 = 100_000_000
        // Short connections alive now: (cookie, remote port, sample they opened in).
        var short: [(cookie: UInt64, port: UInt16, opened: Int)] = []
        var writeSeconds = 0.0
        var lifecycles = 0
        for sample in 0..<samples {
            short.removeAll { sample - $0.opened > timeWaitSamples }
            for _ in 0..<perSample {
                short.append((nextCookie, UInt16(30000 + nextCookie % 30000), sample))
                nextCookie += 1
                lifecycles += 1
            }
            var sockets = steady
            for connection in short {
                // One sample ESTABLISHED, then TIME_WAIT until it expires.
                let established = connection.opened == sample
                sockets.append(Socket(
                    proto: .tcp, family: .ipv4, state: established ? .established : .timeWait,
                    local: Endpoint(address: address, port: 5432), remote: Endpoint(address: IPAddress("10.2.0.9")!, port: connection.port),
                    recvQ: 0, sendQ: 0, uid: established ? 999 : 0, inode: established ? connection.cookie : 0,
                    cookie: connection.cookie, processes: established ? [owner] : []))
            }
            let snapshot = Snapshot(takenAt: start + Double(sample) * interval, duration: 0.05, source: .netlink,
                                    sockets: sockets, problems: SamplingProblems(), userNames: [:])
            let began = Clock.monotonicSeconds()
            try recorder.record(snapshot)
            writeSeconds += Clock.monotonicSeconds() - began
            if sample % 10_000 == 0 && sample > 0 {
                StandardError.line("netstatd-bench history: \(sample)/\(samples) samples, \(Int(writeSeconds / Double(sample) * 1e6)) us/sample")
            }
        }
        let end = start + Double(samples) * interval

        // Sizes by table and index, from dbstat.
        let database = try Database(path: path, mode: .readOnly)
        var sizes: [String: Int64] = [:]
        let statement = try database.prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
        while try statement.step() { sizes[statement.text(0)] = statement.int64(1) }
        let connectionBytes = ["connections", "connections_last_sample", "changes", "processes"]
            .compactMap { sizes[$0] }.reduce(0, +)
        let sampleBytes = ["samples", "samples_taken_at", "state_counts_1m", "state_counts_1h"].compactMap { sizes[$0] }.reduce(0, +)
        var info = stat()
        var wal = stat()
        stat(path, &info)
        if stat(path + "-wal", &wal) != 0 { wal.st_size = 0 }

        // Query latency through the API handler (JSON included), median of 5.
        let live = LiveView(collector: Collector(options: {
            var options = CollectorOptions()
            options.namespaces = .host
            return options
        }()))
        let api = APIServer(live: live, configuration: APIConfiguration(),
                            history: HistoryAccess(readers: ReaderPool(path: path), status: RecorderStatus(), path: path))
        func latency(_ path: String, _ query: [(name: String, value: String)]) -> (ms: Double, status: Int, bytes: Int) {
            var times: [Double] = []
            var last = HTTPResponse(status: 0)
            for _ in 0..<5 {
                let began = Clock.monotonicSeconds()
                last = api.handle(HTTPRequest(method: "GET", path: path, query: query))
                times.append(Clock.monotonicSeconds() - began)
            }
            return (times.sorted()[2] * 1000, last.status, last.body.count)
        }
        let middle = start + (end - start) / 2
        let at = latency("/api/v1/connections", [("at", String(Int(middle))), ("limit", "100")])
        let atFull = latency("/api/v1/connections", [("at", String(Int(middle)))])
        let hour = latency("/api/v1/history/connections", [("from", String(Int(middle))), ("to", String(Int(middle + 3600))), ("port", "5432"), ("state", "time-wait")])
        let week = latency("/api/v1/history/states", [("from", String(Int(start))), ("to", String(Int(end))), ("step", "5m")])
        print("""
            {"samples": \(samples), "lifecycles": \(lifecycles), "long_lived": \(longLived), "file_bytes": \(info.st_size + wal.st_size),
             "bytes_per_lifecycle": \(Double(connectionBytes) / Double(max(1, lifecycles))),
             "bytes_per_sample": \(Double(sampleBytes) / Double(max(1, samples))),
             "recorder_ms_per_sample": \(writeSeconds / Double(max(1, samples)) * 1000),
             "at_limit100_ms": \(at.ms), "at_full_ms": \(atFull.ms), "at_full_bytes": \(atFull.bytes),
             "hour_window_ms": \(hour.ms), "hour_window_bytes": \(hour.bytes),
             "week_states_5m_ms": \(week.ms), "statuses": [\(at.status), \(atFull.status), \(hour.status), \(week.status)],
             "tables": {\(sizes.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", "))}}
            """)
        return 0
    }

}

import CommandLineOptions
import Glibc
import Sampling
import Service
import Store

/// `netstatd-bench flows`: an hour (by default) of short connections at a steady rate
/// (1,000 a second), each seen only by its close event as a busy server's are, written
/// through the real Recorder in 5 s samples; then the latency of `history/flows` over
/// the whole hour and over its last minute (FlowSummary.read, what the route calls),
/// and the bytes on disk per short connection. Prints JSON; bench/churn reports it.
enum BenchFlowsCommand {
    static let specs = [
        OptionSpec(long: "db", value: "PATH", help: "Where to write (a new file)."),
        OptionSpec(long: "minutes", value: "N", help: "Minutes to simulate (default 60)."),
        OptionSpec(long: "rate", value: "N", help: "Short connections per second (default 1000)."),
        OptionSpec(long: "clients", value: "N", help: "Distinct client addresses (default 50)."),
    ]

    static func main(_ arguments: [String]) throws -> Int32 {
        let parsed = try parseOptions(arguments, specs: specs)
        guard let path = parsed.value("db") else { throw UsageError("--db PATH is required") }
        let minutes = try parsed.integer("minutes", in: 1...10_080) ?? 60
        let rate = try parsed.integer("rate", in: 1...100_000) ?? 1000
        let clients = try parsed.integer("clients", in: 1...60_000) ?? 50
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        var retention = Retention()
        retention.rawSeconds = Double(minutes + 60) * 60
        retention.flowRawSeconds = retention.rawSeconds
        let recorder = try Recorder(path: path, version: "bench", retention: retention)
        let owner = SocketOwner(pid: 4242, startTime: 1, name: "postgres", fd: 5)
        let server = IPAddress("10.0.0.5")!
        let listener = Socket(proto: .tcp, family: .ipv4, state: .listen, local: Endpoint(address: .any(.ipv4), port: 5432),
                              remote: Endpoint(address: .any(.ipv4), port: 0), recvQ: 0, sendQ: 128, uid: 999,
                              inode: 99, cookie: 99, processes: [owner])
        let interval = 5.0
        let start = 1_790_000_000.0
        let samples = minutes * 60 / Int(interval)
        var cookie: UInt64 = 1000
        var writeSeconds = 0.0
        for sample in 0..<samples {
            let at = start + Double(sample) * interval
            var events: [CloseEvent] = []
            events.reserveCapacity(rate * Int(interval))
            for index in 0..<(rate * Int(interval)) {
                cookie += 1
                let client = IPAddress(ipv4: 0x0A01_0000 | UInt32(index % clients))
                let info = TCPInfo(
                    rttUs: 30, rttVarUs: 10, minRttUs: 20, rtoUs: 200_000, sendCwnd: 10, sendSsthresh: 0, sendMss: 65483, recvMss: 536,
                    unacked: 0, lost: 0, retransCurrent: 0, totalRetrans: 0, bytesAcked: 200, bytesReceived: UInt64(100 + index % 900),
                    bytesSent: 200, bytesRetrans: 0, segsOut: 4, segsIn: 5, lastSendMs: 0, lastRecvMs: 0, pacingRate: nil,
                    deliveryRate: nil, notsentBytes: nil)
                let socket = Socket(proto: .tcp, family: .ipv4, state: .close, local: Endpoint(address: server, port: 5432),
                                    remote: Endpoint(address: client, port: UInt16(32768 + Int(cookie % 28000))),
                                    recvQ: 0, sendQ: 0, uid: 0, inode: 0, cookie: cookie, tcpInfo: info)
                events.append(CloseEvent(socket: socket, at: at - interval + Double(index) / Double(rate)))
            }
            let began = Clock.monotonicSeconds()
            try recorder.record(Snapshot(takenAt: at, duration: 0.001, source: .netlink, sockets: [listener],
                                         problems: SamplingProblems(), userNames: [:]), closeEvents: events)
            writeSeconds += Clock.monotonicSeconds() - began
        }
        let end = start + Double(samples - 1) * interval
        // A fresh reader pool each time: a reader caches what it replayed, and a dashboard
        // asking after each new sample gets no such help.
        func timed(from: Double, to: Double) throws -> (ms: Double, count: Int) {
            let began = Clock.monotonicSeconds()
            let answer = try FlowSummary.read(ReaderPool(path: path), from: from, to: to, keys: [.localPort, .remoteAddr]) { _ in true }
            return ((Clock.monotonicSeconds() - began) * 1000, answer.groups.reduce(0) { $0 + $1.count })
        }
        let hour = try timed(from: start - interval, to: end)
        let lastMinute = try timed(from: end - 60, to: end)
        // A window ending mid-run: what was open then is replayed from a keyframe.
        let pastHalf = try timed(from: start - interval, to: start + (end - start) / 2)
        var size = stat()
        stat(path, &size)
        let connections = samples * rate * Int(interval)
        let database = try Database(path: path, mode: .readOnly)
        let rollupBytes = try database.scalar("SELECT sum(pgsize) FROM dbstat WHERE name = 'flow_minutes'") ?? 0
        print("""
            {"connections": \(connections), "counted_over_the_run": \(hour.count), "flows_run_ms": \(rounded(hour.ms)), \
            "flows_last_minute_ms": \(rounded(lastMinute.ms)), "counted_last_minute": \(lastMinute.count), \
            "flows_first_half_ms": \(rounded(pastHalf.ms)), \
            "bytes_per_connection": \(rounded(Double(size.st_size) / Double(connections))), \
            "rollup_bytes_per_connection": \(rounded(Double(rollupBytes) / Double(connections))), \
            "write_us_per_connection": \(rounded(writeSeconds / Double(connections) * 1e6))}
            """)
        return 0
    }

    static func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}

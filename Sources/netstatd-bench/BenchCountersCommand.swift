import CommandLineOptions
import Glibc
import Sampling

/// `netstatd-bench counters`: the in-process cost of reading every counter once
/// (/proc/net/snmp, netstat, snmp6, sockstat, dev) with the daemon's CounterReader,
/// median of `--reps`, as JSON.
/// Used by bench/stats; hidden from help.
enum BenchCountersCommand {
    static let specs = [OptionSpec(long: "reps", value: "N", help: "Readings to time (default 200).")]

    static func main(_ arguments: [String]) throws -> Int32 {
        let reps = try parseOptions(arguments, specs: specs).integer("reps", in: 1...100_000) ?? 200
        var times: [Double] = []
        var count = 0
        let reader = CounterReader(procRoot: "/proc")
        for _ in 0..<reps {
            var start = timespec(), end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            let stats = reader.read()
            clock_gettime(CLOCK_MONOTONIC, &end)
            count = stats.counters.count + stats.interfaces.reduce(0) { $0 + $1.counters.count }
            times.append(Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9)
        }
        times.sort()
        print("{\"counters\": \(count), \"median_ms\": \(times[times.count / 2] * 1000), \"p99_ms\": \(times[min(times.count - 1, times.count * 99 / 100)] * 1000)}")
        return 0
    }
}

import CommandLineOptions
import Glibc
import Sampling

/// `netstatd-bench sampler`: what one steady-state daemon sample costs. Takes a warm-up
/// sample, then `--samples` more with the owner cache on (as `serve` samples), and
/// prints the CPU seconds per sample as JSON. Used by bench/snapshot; hidden from help.
enum BenchSamplerCommand {
    static let specs = [OptionSpec(long: "samples", value: "N", help: "Samples to measure after the warm-up.")]

    static func main(_ arguments: [String]) throws -> Int32 {
        let samples = try parseOptions(arguments, specs: specs).integer("samples", in: 1...10_000) ?? 10
        var options = CollectorOptions()
        options.fullOwnerWalkEvery = 60
        // The namespace it runs in, as `ss` there reads (bench/snapshot compares the two).
        options.namespaces = .host
        let collector = Collector(options: options)
        _ = collector.sample()
        let before = cpuSeconds()
        var sockets = 0
        for _ in 0..<max(1, samples) { sockets = collector.sample().sockets.count }
        let perSample = (cpuSeconds() - before) / Double(max(1, samples))
        print("{\"sockets\": \(sockets), \"steady_cpu_seconds_per_sample\": \(perSample)}")
        return 0
    }

    private static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

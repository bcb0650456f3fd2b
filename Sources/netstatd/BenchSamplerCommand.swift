import ArgumentParser
import Glibc
import Sampling

/// `netstatd bench-sampler`: what one steady-state daemon sample costs. Takes a warm-up
/// sample, then `--samples` more with the owner cache on (as `serve` samples), and
/// prints the CPU seconds per sample as JSON. Used by bench/snapshot; hidden from help.
struct BenchSamplerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-sampler", abstract: "Measure steady-state sampling cost.", shouldDisplay: false)

    @Option(help: "Samples to measure after the warm-up.")
    var samples = 10

    func run() throws {
        var options = CollectorOptions()
        options.fullOwnerWalkEvery = 60
        let collector = Collector(options: options)
        _ = collector.sample()
        let before = cpuSeconds()
        var sockets = 0
        for _ in 0..<max(1, samples) { sockets = collector.sample().sockets.count }
        let perSample = (cpuSeconds() - before) / Double(max(1, samples))
        print("{\"sockets\": \(sockets), \"steady_cpu_seconds_per_sample\": \(perSample)}")
    }

    private func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

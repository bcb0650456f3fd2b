import CommandLineOptions
import Glibc

// netstatd-bench: the measuring commands bench/ runs (history storage, counter reads,
// steady-state sampling, every namespace). Not installed with netstatd; built beside it.

let commands: [(name: String, abstract: String, run: ([String]) throws -> Int32)] = [
    ("history", "Measure history storage and queries.", BenchHistoryCommand.main),
    ("counters", "Measure counter reading.", BenchCountersCommand.main),
    ("sampler", "Measure steady-state sampling cost.", BenchSamplerCommand.main),
    ("namespaces", "Measure sampling every network namespace.", BenchNamespacesCommand.main),
    ("flows", "Measure history/flows over an hour of short connections.", BenchFlowsCommand.main),
]

let usage = "usage: netstatd-bench <command> [options]\n\ncommands:\n"
    + commands.map { "  " + $0.name + String(repeating: " ", count: 12 - $0.name.count) + $0.abstract }.joined(separator: "\n")
let arguments = Array(CommandLine.arguments.dropFirst())
guard let first = arguments.first, let command = commands.first(where: { $0.name == first }) else {
    StandardError.line(arguments.first.map { "netstatd-bench: unknown command \($0.debugDescription)\n\n" } ?? "" + usage)
    exit(arguments.first == "--help" || arguments.first == "-h" ? 0 : 64)
}
do {
    exit(try command.run(Array(arguments.dropFirst())))
} catch let error as UsageError {
    StandardError.line("netstatd-bench \(command.name): \(error.message)")
    exit(64)
} catch {
    StandardError.line("netstatd-bench \(command.name): \(error)")
    exit(1)
}

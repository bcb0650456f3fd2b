import API
import CommandLineOptions
import Glibc

// netstatd's entry point: picks the subcommand and turns usage mistakes into a
// message with a pointer to --help (exit 64, EX_USAGE) rather than a trap.

/// A subcommand: its name, one line for the overview, and how to run it.
struct Subcommand {
    var name: String
    var abstract: String
    var hidden = false
    var run: ([String]) throws -> Int32
}

let subcommands: [Subcommand] = [
    Subcommand(name: "snapshot", abstract: "Print every TCP and UDP socket once, like netstat -tuanp.", run: SnapshotCommand.main),
    Subcommand(name: "stats", abstract: "Print protocol counters like netstat -s.", run: StatsCommand.main),
    Subcommand(name: "serve", abstract: "Sample on an interval and serve the HTTP API.", run: ServeCommand.main),
]

@MainActor func overview() -> String {
    var lines = [
        "netstatd \(APIVersion.string): netstat as a service: sockets, owners and history over HTTP.",
        "", "usage: netstatd <subcommand> [options]", "", "subcommands:",
    ]
    for command in subcommands where !command.hidden {
        lines.append("  " + command.name + String(repeating: " ", count: max(1, 12 - command.name.count)) + command.abstract)
    }
    lines += ["", "See 'netstatd <subcommand> --help' for its options."]
    return lines.joined(separator: "\n")
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let first = arguments.first else {
    StandardError.line(overview())
    exit(64)
}
switch first {
case "--version", "-V", "version":
    print(APIVersion.string)
    exit(0)
case "--help", "-h", "help":
    print(overview())
    exit(0)
default:
    guard let command = subcommands.first(where: { $0.name == first }) else {
        StandardError.line("netstatd: unknown subcommand \(first.debugDescription)\n\n" + overview())
        exit(64)
    }
    do {
        exit(try command.run(Array(arguments.dropFirst())))
    } catch let error as ConfigError {
        StandardError.line("netstatd \(command.name): \(error.message)")
        exit(78)
    } catch let error as UsageError {
        StandardError.line("netstatd \(command.name): \(error.message)\nSee 'netstatd \(command.name) --help'.")
        exit(64)
    } catch {
        StandardError.line("netstatd \(command.name): \(error)")
        exit(1)
    }
}

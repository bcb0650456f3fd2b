import ArgumentParser

/// The `netstatd` command: subcommands for each way of running it.
@main
struct Netstatd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netstatd",
        abstract: "netstat as a service: sockets, owners and history over HTTP.",
        version: NetstatdVersion.string,
        subcommands: [SnapshotCommand.self, BenchSamplerCommand.self],
        defaultSubcommand: nil)
}

/// The version printed by `--version` and served by /api/v1/status.
enum NetstatdVersion {
    static let string = "0.1.0"
}

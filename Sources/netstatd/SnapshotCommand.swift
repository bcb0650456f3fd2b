import ArgumentParser
import Glibc
import Rendering
import Sampling

/// `netstatd snapshot`: one sample of the host's sockets, printed as netstat's table
/// or as JSON. Flags follow netstat's where they make sense; output is always numeric.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Print every TCP and UDP socket once, like netstat -tuanp.",
        discussion: """
            Without -t or -u both protocols are shown; without -4 or -6 both families.
            Without -a or -l only non-listening sockets are shown, as netstat does;
            --json always includes every socket matching -t/-u/-4/-6/-l.
            Examples:
              netstatd snapshot -tlnp                 # listeners with their processes
              netstatd snapshot --json | jq '.sockets[] | select(.state=="TIME_WAIT")'
            """)

    @Flag(name: [.customShort("t"), .long], help: "TCP sockets.")
    var tcp = false
    @Flag(name: [.customShort("u"), .long], help: "UDP sockets.")
    var udp = false
    @Flag(name: [.customShort("l"), .long], help: "Only listening sockets (TCP LISTEN, unconnected UDP).")
    var listening = false
    @Flag(name: [.customShort("a"), .long], help: "Listening and non-listening sockets.")
    var all = false
    @Flag(name: [.customShort("p"), .long], help: "Show the PID/Program name column.")
    var programs = false
    @Flag(name: [.customShort("n"), .long], help: "Numeric output (always on; accepted for netstat habits).")
    var numeric = false
    @Flag(name: [.customShort("4"), .customLong("ipv4")], help: "IPv4 sockets.")
    var ipv4 = false
    @Flag(name: [.customShort("6"), .customLong("ipv6")], help: "IPv6 sockets.")
    var ipv6 = false
    @Flag(name: [.customShort("i"), .customLong("tcp-info")], help: "Add tcp_info (rtt, cwnd, bytes) to JSON output.")
    var tcpInfo = false
    @Flag(name: [.customShort("o"), .customLong("timers")], help: "Add timers (ss -o) to JSON output.")
    var timers = false
    @Flag(name: .long, help: "Print one JSON document {\"taken_at\", \"sockets\": [...]}.")
    var json = false
    @Option(name: .long, help: "Where sockets are read from: auto, netlink or procfs.")
    var source: CollectorOptions.Source = .auto
    @Option(name: .customLong("proc-root"), help: "The proc tree to read (default $PROC_ROOT or /proc), e.g. a sosreport's proc/.")
    var procRoot: String?

    mutating func run() throws {
        var options = CollectorOptions()
        options.procRoot = procRoot ?? CollectorOptions.defaultProcRoot(environment: currentEnvironment())
        guard let directory = opendir(options.procRoot) else {
            throw ValidationError("--proc-root \(options.procRoot): not a directory; give the path of a proc tree such as /proc or sosreport/proc")
        }
        closedir(directory)
        options.source = source
        if tcp || udp { options.protocols = Set([tcp ? .tcp : nil, udp ? .udp : nil].compactMap { $0 }) }
        if ipv4 || ipv6 { options.families = Set([ipv4 ? .ipv4 : nil, ipv6 ? .ipv6 : nil].compactMap { $0 }) }
        options.listeningOnly = listening && !all
        options.tcpInfo = tcpInfo
        options.owners = json || programs

        let snapshot = Collector(options: options).sample()
        reportProblems(snapshot)
        let output = StandardOutput()
        if json {
            SnapshotJSON.write(snapshot, detail: SocketJSON.Detail(tcpInfo: tcpInfo, timer: timers)) { output.write($0) }
        } else {
            let showListening = listening || all
            let showOthers = !listening || all
            let table = NetstatTable(showOwners: programs)
            output.write(Array((Self.title(listening: showListening, others: showOthers) + "\n").utf8))
            output.write(Array((table.header + "\n").utf8))
            var text = ""
            for socket in snapshot.sockets where socket.isListening ? showListening : showOthers {
                text += table.line(socket)
                text += "\n"
                if text.utf8.count > 1 << 16 {
                    output.write(Array(text.utf8))
                    text = ""
                }
            }
            output.write(Array(text.utf8))
        }
        output.flush()
    }

    private static func title(listening: Bool, others: Bool) -> String {
        switch (listening, others) {
        case (true, true): return "Active Internet connections (servers and established)"
        case (true, false): return "Active Internet connections (only servers)"
        default: return "Active Internet connections (w/o servers)"
        }
    }

    /// Says on stderr what the sample could not read, so nothing is dropped silently.
    private func reportProblems(_ snapshot: Snapshot) {
        let p = snapshot.problems
        var notes: [String] = []
        if p.netlinkFellBack { notes.append("netlink refused (\(p.netlinkError ?? "?")); read /proc/net instead") }
        if !p.socketTablesUnreadable.isEmpty { notes.append("unreadable socket tables: \(p.socketTablesUnreadable.joined(separator: ", "))") }
        if p.fdDirectoriesUnreadable > 0 { notes.append("\(p.fdDirectoriesUnreadable) fd directories unreadable (run as root to see every owner)") }
        if p.processesVanished > 0 { notes.append("\(p.processesVanished) processes exited during the scan") }
        if p.malformedLines > 0 { notes.append("\(p.malformedLines) malformed /proc/net lines skipped") }
        for note in notes { StandardError.line("netstatd: \(note)") }
    }
}

extension CollectorOptions.Source: ExpressibleByArgument {}

/// The process environment as a dictionary.
func currentEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let eq = text.firstIndex(of: "=") {
            result[String(text[..<eq])] = String(text[text.index(after: eq)...])
        }
        pointer += 1
    }
    return result
}

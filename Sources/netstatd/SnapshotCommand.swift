import CommandLineOptions
import Glibc
import Rendering
import Sampling

/// `netstatd snapshot`: one sample of the host's sockets, printed as netstat's table
/// or as JSON. Flags follow netstat's where they make sense; output is always numeric.
enum SnapshotCommand {
    static let specs: [OptionSpec] = [
        OptionSpec(short: "t", long: "tcp", help: "TCP sockets."),
        OptionSpec(short: "u", long: "udp", help: "UDP sockets."),
        OptionSpec(short: "l", long: "listening", help: "Only listening sockets (TCP LISTEN, unconnected UDP)."),
        OptionSpec(short: "a", long: "all", help: "Listening and non-listening sockets."),
        OptionSpec(short: "p", long: "programs", help: "Show the PID/Program name column."),
        OptionSpec(short: "n", long: "numeric", help: "Numeric output (always on; accepted for netstat habits)."),
        OptionSpec(short: "4", long: "ipv4", help: "IPv4 sockets."),
        OptionSpec(short: "6", long: "ipv6", help: "IPv6 sockets."),
        OptionSpec(short: "e", long: "extend", help: "Add tcp_info (rtt, cwnd, bytes) to JSON output (netstat's -e: more detail)."),
        OptionSpec(short: "i", long: "interfaces", help: "Print the interface table instead (netstat -i)."),
        OptionSpec(short: "r", long: "route", help: "Print the routing tables instead (netstat -rn; with -4 or -6 one family)."),
        OptionSpec(short: "s", long: "statistics", help: "Print the protocol statistics instead (netstat -s; as `netstatd stats`)."),
        OptionSpec(short: "o", long: "timers", help: "Add timers (ss -o) to JSON output."),
        OptionSpec(long: "json", help: "Print one JSON document {\"taken_at\", \"sockets\": [...]}."),
        OptionSpec(long: "source", value: "SOURCE", help: "Where sockets are read from: auto, netlink or procfs."),
        OptionSpec(long: "proc-root", value: "DIR", help: "The proc tree to read (default $PROC_ROOT or /proc)."),
        OptionSpec(long: "all-namespaces", help: "Every network namespace on the host; adds a Namespace column (needs root)."),
        OptionSpec(short: "N", long: "net", value: "NAME", help: "Only network namespace NAME (ip netns name, inode or host; comma-separated), like ss -N."),
    ]

    static let discussion = """
        Without -t or -u both protocols are shown; without -4 or -6 both families.
        Without -a or -l only non-listening sockets are shown, as netstat does;
        --json lists every socket matching -t/-u/-4/-6/-l.
        Examples:
          netstatd snapshot -tlnp                 # listeners with their processes
          netstatd snapshot --json | jq '.sockets[] | select(.state=="TIME_WAIT")'
          netstatd snapshot --proc-root sosreport/proc -tuanp
          netstatd snapshot -i                    # interfaces, netstat -i's columns
          netstatd snapshot -rn                   # routes
          netstatd snapshot -s                    # protocol statistics
          netstatd snapshot --all-namespaces -tlnp   # listeners of every container and namespace
          netstatd snapshot -N blue -tuanp        # one namespace, like ss -N blue -tuanp
        """

    static func main(_ arguments: [String]) throws -> Int32 {
        let parsed = try parseOptions(arguments, specs: specs)
        if parsed.has("help") {
            print(helpText(usage: "netstatd snapshot [-tulapn46eo] [-i | -r | -s] [--json] [--all-namespaces | -N NAME] [--source SOURCE] [--proc-root DIR]",
                           abstract: "Print every TCP and UDP socket once, like netstat -tuanp.",
                           specs: specs, discussion: discussion))
            return 0
        }
        let tcp = parsed.has("tcp"), udp = parsed.has("udp")
        let ipv4 = parsed.has("ipv4"), ipv6 = parsed.has("ipv6")
        let listening = parsed.has("listening"), all = parsed.has("all")
        let programs = parsed.has("programs"), json = parsed.has("json")
        let tcpInfo = parsed.has("extend"), timers = parsed.has("timers")
        let procRoot = parsed.value("proc-root")
        let chosenTables = ["interfaces", "route", "statistics"].filter { parsed.has($0) }
        if chosenTables.count > 1 {
            throw UsageError("-i, -r and -s each print a table of their own; give one of them")
        }
        if parsed.has("statistics") {
            return try StatsCommand.main((json ? ["--json"] : []) + (procRoot.map { ["--proc-root", $0] } ?? []))
        }
        if parsed.has("interfaces") || parsed.has("route") {
            let root = procRoot ?? CollectorOptions.defaultProcRoot(environment: currentEnvironment())
            let sysRoot = SysClassNet.sysRoot(besideProcRoot: root)
            let text: String
            if parsed.has("interfaces") {
                guard let interfaces = ProcNetDev.read(procRoot: root) else {
                    throw UsageError("cannot read \(root)/net/dev: no interface table")
                }
                let links = Dictionary(interfaces.map { ($0.name, SysClassNet.read($0.name, sysRoot: sysRoot)) }, uniquingKeysWith: { a, _ in a })
                text = NetstatInterfaceTable.render(interfaces, links: links, all: all)
            } else {
                let routes = ProcNetRoute.read(procRoot: root)
                let both = ipv4 == ipv6
                text = (ipv4 || both ? NetstatRouteTable.ipv4(routes) : "") + (both ? "\n" : "") + (ipv6 || both ? NetstatRouteTable.ipv6(routes) : "")
            }
            StandardOutput().write(Array(text.utf8))
            return 0
        }
        var source = CollectorOptions.Source.auto
        if let text = parsed.value("source") {
            guard let chosen = CollectorOptions.Source(rawValue: text) else {
                throw UsageError("--source \(text): expected auto, netlink or procfs")
            }
            source = chosen
        }
        var options = CollectorOptions()
        options.procRoot = procRoot ?? CollectorOptions.defaultProcRoot(environment: currentEnvironment())
        guard let directory = opendir(options.procRoot) else {
            throw UsageError("--proc-root \(options.procRoot): not a directory; give the path of a proc tree such as /proc or sosreport/proc")
        }
        closedir(directory)
        options.source = source
        if tcp || udp { options.protocols = Set([tcp ? .tcp : nil, udp ? .udp : nil].compactMap { $0 }) }
        if ipv4 || ipv6 { options.families = Set([ipv4 ? .ipv4 : nil, ipv6 ? .ipv6 : nil].compactMap { $0 }) }
        options.listeningOnly = listening && !all
        options.tcpInfo = tcpInfo
        options.owners = json || programs
        options.namespaces = try namespaceScope(parsed, options: options)
        let namespaceColumn = options.namespaces != .host

        let snapshot = Collector(options: options).sample()
        reportProblems(snapshot)
        let output = StandardOutput()
        if json {
            SnapshotJSON.write(snapshot, detail: SocketJSON.Detail(tcpInfo: tcpInfo, timer: timers)) { output.write($0) }
        } else {
            let showListening = listening || all
            let showOthers = !listening || all
            let labels = namespaceColumn
                ? Dictionary(snapshot.namespaces.map { ($0.inode, $0.label) }, uniquingKeysWith: { a, _ in a }) : nil
            let table = NetstatTable(showOwners: programs, namespaceLabels: labels)
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
        return 0
    }

    /// The namespaces `--all-namespaces` or `-N` choose; by default netstatd's own, as
    /// `ss` and `netstat` read. A `-N` name no namespace answers to is refused here.
    private static func namespaceScope(_ parsed: ParsedOptions, options: CollectorOptions) throws -> NamespaceScope {
        let names = parsed.value("net").map { $0.split(separator: ",").map(String.init) }
        if names != nil && parsed.has("all-namespaces") {
            throw UsageError("--all-namespaces and -N both choose namespaces; give one of them")
        }
        guard names != nil || parsed.has("all-namespaces") else { return .host }
        if options.source == .procfs || options.procRoot != "/proc" {
            throw UsageError("other network namespaces are read over netlink from the live /proc: drop --source procfs and --proc-root")
        }
        guard let names else { return .all }
        let known = NetNamespace.discover(procRoot: options.procRoot)
        for name in names where !known.contains(where: { $0.isNamed(name) }) {
            let listed = known.compactMap(\.name).sorted()
            throw UsageError("-N \(name): no network namespace has that name or inode (ip netns names: \(listed.isEmpty ? "none" : listed.joined(separator: ", ")); an inode is the number in readlink /proc/PID/ns/net)")
        }
        return .only(Set(names))
    }

    private static func title(listening: Bool, others: Bool) -> String {
        switch (listening, others) {
        case (true, true): return "Active Internet connections (servers and established)"
        case (true, false): return "Active Internet connections (only servers)"
        default: return "Active Internet connections (w/o servers)"
        }
    }

    /// Says on stderr what the sample could not read, so nothing is dropped silently.
    private static func reportProblems(_ snapshot: Snapshot) {
        let p = snapshot.problems
        var notes: [String] = []
        if p.netlinkFellBack { notes.append("netlink refused (\(p.netlinkError ?? "?")); read /proc/net instead") }
        if !p.socketTablesUnreadable.isEmpty { notes.append("unreadable socket tables: \(p.socketTablesUnreadable.joined(separator: ", "))") }
        if p.fdDirectoriesUnreadable > 0 { notes.append("\(p.fdDirectoriesUnreadable) fd directories unreadable (run as root to see every owner)") }
        if p.processesVanished > 0 { notes.append("\(p.processesVanished) processes exited during the scan") }
        if p.malformedLines > 0 { notes.append("\(p.malformedLines) malformed /proc/net lines skipped") }
        if let first = p.namespacesNotRead.first {
            let count = p.namespacesNotRead.count
            notes.append("\(count) network namespace\(count == 1 ? "" : "s") not read (\(first.name ?? String(first.inode)): \(first.reason))")
        }
        for note in notes { StandardError.line("netstatd: \(note)") }
    }
}


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

import Glibc
import Rendering
import Sampling
import CommandLineOptions

/// `netstatd stats`: the `netstat -s` view, grouped and readable, or `--json`; with
/// `--proc-root` it reads a captured tree (a sosreport's proc/).
enum StatsCommand {
    static let specs: [OptionSpec] = [
        OptionSpec(long: "json", help: "Print one JSON document {\"taken_at\", \"groups\": {...}}."),
        OptionSpec(long: "proc-root", value: "DIR", help: "The proc tree to read (default $PROC_ROOT or /proc)."),
        OptionSpec(long: "all", help: "Also print counters that are zero (netstat -s hides most of them)."),
    ]

    static func main(_ arguments: [String]) throws -> Int32 {
        let parsed = try parseOptions(arguments, specs: specs)
        if parsed.has("help") {
            print(helpText(usage: "netstatd stats [--json] [--all] [--proc-root DIR]",
                           abstract: "Print protocol counters like netstat -s.", specs: specs))
            return 0
        }
        let procRoot = parsed.value("proc-root") ?? CollectorOptions.defaultProcRoot(environment: currentEnvironment())
        guard let directory = opendir(procRoot) else {
            throw UsageError("--proc-root \(procRoot): not a directory; give the path of a proc tree such as /proc or sosreport/proc")
        }
        closedir(directory)
        let stats = ProtocolStats.read(procRoot: procRoot)
        let output = StandardOutput()
        if parsed.has("json") {
            var json = JSONWriter(capacity: 32 * 1024)
            json.beginObject()
            json.key("taken_at"); json.string(Timestamp.rfc3339(stats.takenAt))
            json.key("groups"); json.beginObject()
            for (group, counters) in grouped(stats.counters) {
                json.key(group); json.beginObject()
                for counter in counters { json.key(counter.name); json.counterValue(counter.value, of: counter.counterKey) }
                json.endObject()
            }
            json.endObject()
            json.key("missing"); json.beginArray()
            for name in stats.missing { json.string(name) }
            json.endArray()
            json.endObject()
            output.write(json.bytes + [UInt8(ascii: "\n")])
        } else {
            var text = ""
            for (group, counters) in grouped(stats.counters) {
                let shown = counters.filter { parsed.has("all") || $0.value != 0 }
                if shown.isEmpty { continue }
                text += group + ":\n"
                for counter in shown { text += "    \(counter.name): \(counter.printed)\n" }
            }
            if !stats.missing.isEmpty { text += "(not readable here: \(stats.missing.joined(separator: ", ")))\n" }
            output.write(Array(text.utf8))
        }
        return stats.counters.isEmpty ? 1 : 0
    }

    static func grouped(_ counters: [Counter]) -> [(String, [Counter])] {
        var order: [String] = []
        var groups: [String: [Counter]] = [:]
        for counter in counters {
            if groups[counter.group] == nil { order.append(counter.group) }
            groups[counter.group, default: []].append(counter)
        }
        return order.map { ($0, groups[$0]!) }
    }
}

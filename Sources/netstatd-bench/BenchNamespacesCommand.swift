import CommandLineOptions
import Dispatch
import Glibc
import Sampling

/// `netstatd-bench namespaces`: one long-lived Collector sampling every network
/// namespace, reporting after each sample what it cost and what the process holds
/// (open fds, threads, namespaces entered). With `--samples N` it takes N samples and
/// prints one summary; without, it takes one sample per line read on stdin and
/// prints a JSON line each (the namespace tests drive it to count fds between
/// namespaces coming and going). Used by bench/namespaces; hidden from help.
enum BenchNamespacesCommand {
    static let specs = [
        OptionSpec(long: "samples", value: "N", help: "Take N samples after a first one and print a summary."),
        OptionSpec(long: "net", value: "NAMES", help: "Only these namespaces (comma-separated names or inodes)."),
        OptionSpec(long: "no-owners", help: "Skip the /proc/<pid>/fd walk."),
        OptionSpec(long: "dump-threads", value: "N", help: "Namespaces dumped at once (default: one per CPU, at most 4)."),
    ]

    static func main(_ arguments: [String]) throws -> Int32 {
        let parsed = try parseOptions(arguments, specs: specs)
        var options = CollectorOptions()
        options.namespaces = parsed.value("net").map { .only(Set($0.split(separator: ",").map(String.init))) } ?? .all
        options.owners = !parsed.has("no-owners")
        options.fullOwnerWalkEvery = 60
        options.dumpThreads = try parsed.integer("dump-threads", in: 1...64)
        let collector = Collector(options: options)
        if let samples = try parsed.integer("samples", in: 1...10_000) {
            let started = Clock.monotonicSeconds()
            let first = collector.sample()
            let firstSeconds = Clock.monotonicSeconds() - started
            var durations: [Double] = []
            for _ in 0..<samples {
                let begin = Clock.monotonicSeconds()
                _ = collector.sample()
                durations.append(Clock.monotonicSeconds() - begin)
            }
            durations.sort()
            print("{\"sockets\": \(first.sockets.count), \"namespaces\": \(first.namespaces.count), "
                + "\"first_sample_ms\": \(firstSeconds * 1000), \"steady_median_ms\": \(durations[durations.count / 2] * 1000)}")
            return 0
        }
        // Written with write(2), unbuffered: the reader waits for each line.
        let output = StandardOutput()
        // libdispatch opens its own fds (epoll, eventfd) the first time it runs
        // work; started here, so fd counts compare from the first sample on.
        DispatchQueue.concurrentPerform(iterations: 2) { _ in }
        while readLine() != nil {
            let started = Clock.monotonicSeconds()
            let snapshot = collector.sample()
            let milliseconds = (Clock.monotonicSeconds() - started) * 1000
            let read = snapshot.namespaces.filter(\.wasRead).count
            let own = snapshot.namespaces.first(where: \.isOwn)
            let fds = openFDKinds()
            output.write(Array(("{\"sockets\": \(snapshot.sockets.count), \"namespaces\": \(snapshot.namespaces.count), \"read\": \(read), "
                + "\"not_read\": \(snapshot.problems.namespacesNotRead.count), \"vanished\": \(snapshot.problems.namespacesVanished), "
                + "\"entered\": \(collector.enteredNamespaces), \"own_read\": \(own?.wasRead ?? false), "
                + "\"open_fds\": \(count("/proc/self/fd") - 1), \"threads\": \(count("/proc/self/task")), "
                + "\"entry_threads\": \(threads(named: "netstatd-setns")), "
                + "\"netlink_fds\": \(fds.netlink), \"namespace_fds\": \(fds.namespaces), "
                + "\"other_fds\": [\(fds.others.map { "\"\($0)\"" }.joined(separator: ","))], "
                + "\"duration_ms\": \(milliseconds), "
                + "\"read_inodes\": [\(snapshot.namespaces.filter(\.wasRead).map { String($0.inode) }.joined(separator: ","))]}\n").utf8))
        }
        return 0
    }

    /// This process's open netlink sockets and namespace files (`net:[...]`).
    /// Their other fds are listed by what they point to (`pipe:[...]`,
    /// `anon_inode:[eventfd]`), so a leak says what it is.
    private static func openFDKinds() -> (netlink: Int, namespaces: Int, others: [String]) {
        guard let dir = opendir("/proc/self/fd") else { return (-1, -1, []) }
        let own = dirfd(dir)
        defer { closedir(dir) }
        var netlink = 0, namespaces = 0
        var others: [String] = []
        var link = [CChar](repeating: 0, count: 64)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            guard let fd = Int32(name), fd != own else { continue }
            let length = readlink("/proc/self/fd/\(name)", &link, link.count - 1)
            guard length > 0 else { continue }
            let target = String(decoding: link[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var domain: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            if target.hasPrefix("net:[") {
                namespaces += 1
            } else if target.hasPrefix("socket:["), getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) == 0, domain == AF_NETLINK {
                netlink += 1
            } else {
                // Only the kind: the quotes and backslashes of a path would need escaping.
                others.append("\(fd):" + String(target.prefix { $0 != "[" && $0 != "\"" && $0 != "\\" && $0 != "/" }))
            }
        }
        return (netlink, namespaces, others)
    }

    /// Threads of this process whose name (`comm`) is `name`.
    private static func threads(named name: String) -> Int {
        guard let dir = opendir("/proc/self/task") else { return -1 }
        defer { closedir(dir) }
        var found = 0
        while let entry = readdir(dir) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            guard tid.first != ".", let text = try? FileContents.text(atPath: "/proc/self/task/\(tid)/comm") else { continue }
            if text.trimmingWhitespace() == name { found += 1 }
        }
        return found
    }

    /// Entries of a directory, `.` and `..` left out.
    private static func count(_ path: String) -> Int {
        guard let dir = opendir(path) else { return -1 }
        defer { closedir(dir) }
        var entries = 0
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { entries += 1 }
        }
        return entries
    }
}

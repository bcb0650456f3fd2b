import Glibc

/// What netstatd itself costs, from `/proc/self/stat`, `/proc/self/fd` and the boot
/// time in `/proc/stat`: the figures Prometheus' own clients export as `process_*`,
/// so a dashboard shows netstatd's CPU and memory next to what it measures.
public struct ProcessCost: Sendable {
    /// User plus system CPU time since the process started.
    public var cpuSeconds: Double
    /// Resident set size.
    public var residentBytes: UInt64
    /// Virtual memory size.
    public var virtualBytes: UInt64
    /// File descriptors open now; nil when /proc/self/fd cannot be listed.
    public var openFileDescriptors: Int?
    /// When the process started (Unix seconds); nil without the boot time.
    public var startTime: Double?

    /// Reads the calling process's figures under `procRoot`; nil when its stat file
    /// cannot be read or parsed.
    public static func read(procRoot: String = "/proc") -> ProcessCost? {
        guard let stat = try? FileContents.bytes(atPath: procRoot + "/self/stat"),
              let fields = fieldsAfterName(stat), fields.count > 21 else { return nil }
        // Fields are numbered from 1 in proc(5); `fields[0]` is field 3 (state).
        func field(_ number: Int) -> UInt64? { UInt64(fields[number - 3]) }
        let ticks = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
        let pageSize = UInt64(max(1, sysconf(Int32(_SC_PAGESIZE))))
        guard let user = field(14), let system = field(15), let started = field(22),
              let virtual = field(23), let resident = field(24) else { return nil }
        return ProcessCost(
            cpuSeconds: Double(user + system) / ticks,
            residentBytes: resident * pageSize,
            virtualBytes: virtual,
            openFileDescriptors: countEntries(procRoot + "/self/fd"),
            startTime: bootTime(procRoot: procRoot).map { $0 + Double(started) / ticks })
    }

    /// The space-separated fields after the command name, which may itself hold spaces
    /// and parentheses (it runs to the last `)`).
    static func fieldsAfterName(_ bytes: [UInt8]) -> [Substring]? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let rest = String(decoding: bytes[(close + 1)...], as: UTF8.self)
        return rest.split(whereSeparator: { $0 == " " || $0 == "\n" })
    }

    /// `btime` of /proc/stat: the boot time in Unix seconds.
    static func bootTime(procRoot: String) -> Double? {
        guard let text = try? FileContents.text(atPath: procRoot + "/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        }
        return nil
    }

    private static func countEntries(_ path: String) -> Int? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let dot = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] == UInt8(ascii: ".") }
            if !dot { count += 1 }
        }
        // The directory stream's own descriptor is one of them.
        return max(0, count - 1)
    }
}

/// `/proc/net/dev` (what `netstat -i` prints): per interface, receive and transmit
/// counters. Field names come from the second header line, split at its `|`s into
/// receive and transmit halves, so a kernel with other fields is still read right.
public enum ProcNetDev {
    /// One interface's counters.
    public struct Interface: Sendable, Hashable {
        /// Interface name.
        public var name: String
        /// `rx_bytes`, `rx_packets`, `rx_errs`, `rx_drop`, ..., `tx_bytes`, ... .
        public var counters: [String: UInt64]
        /// Names of `counters` in the kernel's order.
        public var order: [String]
    }

    /// Reads `<procRoot>/net/dev`; nil when it cannot be read.
    public static func read(procRoot: String) -> [Interface]? {
        guard let text = try? FileContents.text(atPath: procRoot + "/net/dev") else { return nil }
        return parse(text)
    }

    /// Parses the file.
    public static func parse(_ text: String) -> [Interface] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count >= 2 else { return [] }
        let names = fieldNames(String(lines[1]))
        guard !names.isEmpty else { return [] }
        var interfaces: [Interface] = []
        for line in lines.dropFirst(2) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingSpaces()
            let values = line[line.index(after: colon)...].split(separator: " ").compactMap { CounterValue.parse($0) }
            var counters: [String: UInt64] = [:]
            for (key, value) in zip(names, values) { counters[key] = value }
            interfaces.append(Interface(name: name, counters: counters, order: Array(names.prefix(values.count))))
        }
        return interfaces
    }
}

extension ProcNetDev {
    /// `rx_bytes`, ..., `tx_bytes`, ... from the second header line
    /// (` face |bytes packets ...|bytes packets ...`).
    public static func fieldNames(_ header: String) -> [String] {
        let halves = header.split(separator: "|", omittingEmptySubsequences: false)
        guard halves.count >= 3 else { return [] }
        return halves[1].split(separator: " ").map { "rx_" + $0 } + halves[2].split(separator: " ").map { "tx_" + $0 }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// `/sys/class/net/<iface>/{operstate,mtu,flags}` (Documentation/ABI/testing/sysfs-class-net):
/// what `netstat -i` and `ip link` show beside the counters of /proc/net/dev.
public enum SysClassNet {
    /// One interface's link facts; nil where the file could not be read.
    public struct Link: Sendable, Equatable {
        /// `up`, `down`, `unknown`, ...
        public var state: String?
        public var mtu: Int?
        /// IFF_* flags (include/uapi/linux/if.h).
        public var flags: UInt32?

        /// What was read (nil: unknown).
        public init(state: String? = nil, mtu: Int? = nil, flags: UInt32? = nil) {
            self.state = state
            self.mtu = mtu
            self.flags = flags
        }

        /// The flags as netstat -i prints them (`BMRU`, `LRU`), net-tools' order.
        public var netstatFlags: String? {
            guard let flags else { return nil }
            let letters: [(UInt32, Character)] = [
                (0x200, "A"), (0x2, "B"), (0x4, "D"), (0x8, "L"), (0x1000, "M"), (0x8000, "d"), (0x100, "P"),
                (0x20, "N"), (0x80, "O"), (0x10, "P"), (0x800, "s"), (0x400, "m"), (0x40, "R"), (0x1, "U"),
            ]
            return String(letters.filter { flags & $0.0 != 0 }.map(\.1))
        }
    }

    /// Reads `<sysRoot>/class/net/<name>`.
    public static func read(_ name: String, sysRoot: String) -> Link {
        // A name is one path component: anything else is not an interface.
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return Link() }
        let base = sysRoot + "/class/net/" + name
        func field(_ file: String) -> String? {
            (try? FileContents.text(atPath: base + "/" + file)).map { $0.filter { !$0.isWhitespace } }
        }
        var flags = field("flags").flatMap { UInt32($0.hasPrefix("0x") ? String($0.dropFirst(2)) : $0, radix: 16) }
        // IFF_RUNNING is not in the flags file (the kernel derives it from the carrier,
        // net/core/dev.c dev_get_flags): read the carrier, which is 1 when it runs.
        if field("carrier") == "1" { flags = flags.map { $0 | 0x40 } }
        return Link(state: field("operstate"), mtu: field("mtu").flatMap { Int($0) }, flags: flags)
    }

    /// The sys tree that goes with a proc tree: `/sys` for `/proc`, and the `sys`
    /// folder beside a captured `proc` (a sosreport holds both).
    public static func sysRoot(besideProcRoot procRoot: String) -> String {
        if procRoot == "/proc" { return "/sys" }
        var parent = procRoot
        while parent.hasSuffix("/") { parent.removeLast() }
        if let slash = parent.lastIndex(of: "/") { return String(parent[..<slash]) + "/sys" }
        return "sys"
    }
}

import Glibc

/// Which network namespaces a Collector reads.
public enum NamespaceScope: Sendable, Hashable {
    /// Every namespace on the host (entering each needs CAP_SYS_ADMIN; those that
    /// cannot be entered are reported in `SamplingProblems.namespacesNotRead`).
    case all
    /// Only the namespace netstatd runs in: the host's, unless it was started inside
    /// another (`ip netns exec`, a container), as `ss` reads.
    case host
    /// Only the namespaces named: `ip netns` names, inodes in decimal, or `host`
    /// (what `netstatd snapshot -N` takes).
    case only(Set<String>)

    /// `.all` when this process may enter other namespaces (root, or CAP_SYS_ADMIN in
    /// its effective set), else `.host`.
    public static let preferred: NamespaceScope = {
        let privileged: Bool
        if let status = try? FileContents.text(atPath: "/proc/self/status") {
            privileged = hasEffectiveCapability(21, status: status)
        } else {
            privileged = geteuid() == 0
        }
        return privileged ? .all : .host
    }()

    /// Whether capability `bit` (CAP_SYS_ADMIN is 21, linux/capability.h) is in the
    /// `CapEff:` mask of a `/proc/<pid>/status` text (proc(5)).
    public static func hasEffectiveCapability(_ bit: Int, status: String) -> Bool {
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).trimmingPrefix { $0 == " " || $0 == "\t" }
            guard let mask = UInt64(hex, radix: 16) else { return false }
            return mask & (1 << UInt64(bit)) != 0
        }
        return false
    }
}

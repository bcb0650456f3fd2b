import Glibc

/// The Linux capabilities netstatd can use, as the process's effective set says
/// (`CapEff:` in /proc/self/status, capabilities(7)), and the features each one
/// unlocks. Without them netstatd still samples every socket; what it cannot see is
/// said out loud: at start in the log and in /api/v1/status.
public struct Capabilities: Sendable, Equatable {
    /// One capability: its number (the bit in `CapEff`) and its C name.
    public struct Capability: Sendable, Hashable {
        /// The bit number from linux/capability.h.
        public let number: Int
        /// The C spelling, e.g. `CAP_SYS_PTRACE`.
        public let name: String

        // include/uapi/linux/capability.h:
        //   #define CAP_DAC_READ_SEARCH  2
        //   #define CAP_NET_ADMIN        12
        //   #define CAP_SYS_PTRACE       19
        //   #define CAP_SYS_ADMIN        21
        /// Reads any directory: the `/proc/<pid>/fd` of another user's process.
        public static let CAP_DAC_READ_SEARCH = Capability(number: 2, name: "CAP_DAC_READ_SEARCH")
        /// Netlink administration: socket-destroy multicast groups, SO_RCVBUFFORCE.
        public static let CAP_NET_ADMIN = Capability(number: 12, name: "CAP_NET_ADMIN")
        /// Passes the ptrace access check that reading another user's fd links needs.
        public static let CAP_SYS_PTRACE = Capability(number: 19, name: "CAP_SYS_PTRACE")
        /// setns(2) into another network namespace.
        public static let CAP_SYS_ADMIN = Capability(number: 21, name: "CAP_SYS_ADMIN")

        /// The four netstatd asks for, in the order it names them.
        public static let used: [Capability] = [CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_ADMIN]
    }

    /// Something netstatd can do only with certain capabilities.
    public struct Feature: Sendable, Hashable {
        /// The key in /api/v1/status (`capabilities.<key>`).
        public let key: String
        /// What it is, in words, as the log line says it.
        public let description: String
        /// Every capability it needs.
        public let needs: [Capability]

        /// Seeing which process holds another user's socket: the `/proc/<pid>/fd`
        /// directory is mode 0500 (DAC) and its links pass a ptrace check
        /// (fs/proc/fd.c, proc_fd_permission and proc_fd_link).
        public static let otherUsersOwners = Feature(
            key: "other_users_owners", description: "owners of other users' sockets",
            needs: [.CAP_SYS_PTRACE, .CAP_DAC_READ_SEARCH])
        /// Subscribing to the kernel's TCP socket-destroy events
        /// (SKNLGRP_INET_TCP_DESTROY, net/core/sock_diag.c requires CAP_NET_ADMIN).
        public static let socketCloseEvents = Feature(
            key: "socket_close_events", description: "kernel socket close events", needs: [.CAP_NET_ADMIN])
        /// A sock_diag receive buffer beyond net.core.rmem_max (SO_RCVBUFFORCE, socket(7)).
        public static let largeNetlinkBuffers = Feature(
            key: "large_netlink_buffers", description: "netlink buffers beyond net.core.rmem_max", needs: [.CAP_NET_ADMIN])
        /// Entering another network namespace to sample it (setns(2) with CLONE_NEWNET).
        public static let otherNetworkNamespaces = Feature(
            key: "other_network_namespaces", description: "entering other network namespaces", needs: [.CAP_SYS_ADMIN])

        /// Every feature, in the order they are reported.
        public static let all: [Feature] = [otherUsersOwners, socketCloseEvents, largeNetlinkBuffers, otherNetworkNamespaces]
    }

    /// The effective capability set as a bit mask (bit n = capability n).
    public var effective: UInt64

    /// A set given as its bit mask.
    public init(effective: UInt64) {
        self.effective = effective
    }

    /// Whether `capability` is in the effective set.
    public func has(_ capability: Capability) -> Bool {
        effective & (UInt64(1) << UInt64(capability.number)) != 0
    }

    /// The capabilities `feature` needs that this set lacks; empty when it is available.
    public func missing(for feature: Feature) -> [Capability] {
        feature.needs.filter { !has($0) }
    }

    /// One line for the start-up log: every feature, available or what it needs.
    public var summary: String {
        Feature.all.map { feature in
            let missing = self.missing(for: feature)
            if missing.isEmpty { return "\(feature.description): available" }
            return "\(feature.description): unavailable, needs \(missing.map(\.name).joined(separator: " and "))"
        }.joined(separator: "; ")
    }

    /// The capabilities of this process, from `<procRoot>/self/status`.
    public static func read(procRoot: String = "/proc") throws -> Capabilities {
        try parse(status: FileContents.text(atPath: procRoot + "/self/status"))
    }

    /// Parses the text of /proc/<pid>/status (proc(5)): the `CapEff:` line holds the
    /// effective set as 16 hex digits.
    public static func parse(status text: String) throws -> Capabilities {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where line.hasPrefix("CapEff:") {
            let value = line.dropFirst("CapEff:".count).trimmingCharacters(in: " \t")
            guard !value.isEmpty, value.count <= 16, value.allSatisfy(\.isHexDigit), let mask = UInt64(value, radix: 16) else {
                throw CapabilitiesError(message: "CapEff \(String(reflecting: String(value))) is not a hexadecimal capability mask (expected up to 16 hex digits, e.g. 000001ffffffffff)")
            }
            return Capabilities(effective: mask)
        }
        throw CapabilitiesError(message: "no CapEff: line in the status file (expected a line such as \"CapEff:\t000001ffffffffff\")")
    }
}

/// A status file whose capability line could not be read.
public struct CapabilitiesError: Error, CustomStringConvertible, Sendable {
    /// What was wrong, quoting the input.
    public let message: String
    public var description: String { message }
}

extension Substring {
    /// The text without leading and trailing characters from `set`.
    func trimmingCharacters(in set: String) -> Substring {
        var text = self
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return text
    }
}

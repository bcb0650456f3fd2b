import Glibc

/// Finds the network namespaces on the host: those of processes (`/proc/*/ns/net`,
/// deduplicated by inode, one pid kept for each) and those held only by a bind
/// mount (`/run/netns/*`, made by `ip netns add`; `/run/docker/netns/*`).
///
/// Threads that entered another namespace with setns(2) are not looked at (only each
/// process's main thread), nor namespaces held only by an open file descriptor.
/// Not thread-safe: one discovery belongs to one Collector.
final class NamespaceDiscovery {
    /// The directory whose file names are `ip netns` names (NETNS_RUN_DIR, ip-netns(8)).
    static let ipNetnsDirectory = "/run/netns"
    /// Directories of bind-mounted namespaces: `ip netns`'s first, then Docker's.
    static let defaultMountDirectories = [ipNetnsDirectory, "/run/docker/netns"]

    private let procRoot: String
    private let mountDirectories: [String]
    /// The namespace netstatd runs in, and the device of the nsfs every namespace file is on.
    let own: (inode: UInt64, device: UInt64)?
    /// The container of each namespace, by inode, with the pid it was read from.
    private var containers: [UInt64: (pid: Int32, container: ContainerReference?)] = [:]

    /// Discovery over `procRoot` (the live /proc; a captured tree has no namespaces to enter).
    init(procRoot: String, mountDirectories: [String] = NamespaceDiscovery.defaultMountDirectories) {
        self.procRoot = procRoot
        self.mountDirectories = mountDirectories
        var info = stat()
        if stat(procRoot + "/self/ns/net", &info) == 0 {
            own = (UInt64(info.st_ino), UInt64(info.st_dev))
        } else {
            own = nil
        }
    }

    /// Only the namespace netstatd runs in, with its `ip netns` name and whether it is
    /// the host's; no process is walked.
    func ownOnly() -> [NetNamespace] {
        guard let own else { return [] }
        let host = hostInode()
        var mounts: [UInt64: (path: String, name: String?)] = [:]
        scanMounts(into: &mounts)
        return [NetNamespace(
            inode: own.inode, name: mounts[own.inode]?.name, isHost: host.map { $0 == own.inode } ?? true,
            isOwn: true, pid: getpid(), processCount: 1, mountPath: mounts[own.inode]?.path)]
    }

    /// Every network namespace: the host's first, then netstatd's own, then the rest
    /// by name and inode.
    func all() -> [NetNamespace] {
        guard let own else { return [] }
        let host = hostInode()
        var byInode: [UInt64: (pid: Int32, count: Int)] = [:]
        walkProcesses(into: &byInode)
        var mounts: [UInt64: (path: String, name: String?)] = [:]
        scanMounts(into: &mounts)

        var inodes = Set(byInode.keys).union(mounts.keys)
        inodes.insert(own.inode)
        let procFD = open(procRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if procFD >= 0 { close(procFD) } }
        var found: [NetNamespace] = []
        found.reserveCapacity(inodes.count)
        var containersNow: [UInt64: (pid: Int32, container: ContainerReference?)] = [:]
        for inode in inodes {
            let processes = byInode[inode]
            let isHost = host.map { $0 == inode } ?? (inode == own.inode)
            var namespace = NetNamespace(
                inode: inode, name: mounts[inode]?.name, isHost: isHost, isOwn: inode == own.inode,
                pid: processes?.pid, processCount: processes?.count ?? 0, mountPath: mounts[inode]?.path)
            if !isHost, let pid = processes?.pid, procFD >= 0 {
                // A namespace's processes rarely change cgroup: read again only when
                // the pid chosen for it changes.
                if let cached = containers[inode], cached.pid == pid {
                    namespace.container = cached.container
                } else {
                    namespace.container = ProcPidCgroup.read(pid: pid, procFD: procFD)
                }
                containersNow[inode] = (pid, namespace.container)
            }
            found.append(namespace)
        }
        containers = containersNow
        found.sort { a, b in
            if a.isHost != b.isHost { return a.isHost }
            if a.isOwn != b.isOwn { return a.isOwn }
            switch (a.name, b.name) {
            case let (x?, y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.inode < b.inode
            }
        }
        return found
    }

    /// The inode of pid 1's network namespace, nil when it cannot be read (not root).
    private func hostInode() -> UInt64? {
        var link = [UInt8](repeating: 0, count: 64)
        let length = link.withUnsafeMutableBytes {
            readlink(procRoot + "/1/ns/net", $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
        }
        guard length > 0 else { return nil }
        return link.withUnsafeBytes { Self.inode(fromLink: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
    }

    /// Reads `/proc/<pid>/ns/net` of every process. A process that exits meanwhile, or
    /// one we may not look at, is skipped: its namespace, if it has no other
    /// process, is gone or unreadable anyway.
    private func walkProcesses(into byInode: inout [UInt64: (pid: Int32, count: Int)]) {
        let procFD = open(procRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard procFD >= 0 else { return }
        guard let dir = fdopendir(procFD) else {
            close(procFD)
            return
        }
        defer { closedir(dir) }
        var link = [UInt8](repeating: 0, count: 64)
        var path = [CChar](repeating: 0, count: 32)
        while let entry = readdir(dir) {
            guard let pid = withUnsafeBytes(of: entry.pointee.d_name, { SocketOwnerResolver.parseDecimal($0) }), pid > 0
            else { continue }
            // "<pid>/ns/net" without building a String per process.
            let written = path.withUnsafeMutableBufferPointer { buffer in
                Self.formatNetLinkPath(pid: pid, into: buffer)
            }
            guard written else { continue }
            let length = link.withUnsafeMutableBytes { buffer in
                readlinkat(procFD, path, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
            }
            guard length > 0,
                  let inode = link.withUnsafeBytes({ Self.inode(fromLink: UnsafeRawBufferPointer(rebasing: $0[0..<length])) })
            else { continue }
            let pid32 = Int32(truncatingIfNeeded: pid)
            if let seen = byInode[inode] {
                byInode[inode] = (min(seen.pid, pid32), seen.count + 1)
            } else {
                byInode[inode] = (pid32, 1)
            }
        }
    }

    /// Writes `<pid>/ns/net` and a NUL into `buffer`; false when it does not fit.
    private static func formatNetLinkPath(pid: Int, into buffer: UnsafeMutableBufferPointer<CChar>) -> Bool {
        var digits: [CChar] = []
        var value = pid
        repeat {
            digits.append(CChar(48 + value % 10))
            value /= 10
        } while value > 0
        let suffix = Array("/ns/net".utf8).map { CChar(bitPattern: $0) }
        guard digits.count + suffix.count + 1 <= buffer.count else { return false }
        var index = 0
        for digit in digits.reversed() {
            buffer[index] = digit
            index += 1
        }
        for byte in suffix {
            buffer[index] = byte
            index += 1
        }
        buffer[index] = 0
        return true
    }

    /// Files in the mount directories that are namespaces (on nsfs, so bind mounts
    /// of one; a leftover plain file is not). Names come from `ip netns`'s directory.
    private func scanMounts(into mounts: inout [UInt64: (path: String, name: String?)]) {
        guard let own else { return }
        for directory in mountDirectories {
            guard let dir = opendir(directory) else { continue }
            defer { closedir(dir) }
            let isNames = directory == Self.ipNetnsDirectory
            var entries: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
                if name != "." && name != ".." { entries.append(name) }
            }
            // Sorted, so a namespace mounted under two names is named by the first.
            for name in entries.sorted() {
                var info = stat()
                guard fstatat(dirfd(dir), name, &info, 0) == 0, UInt64(info.st_dev) == own.device else { continue }
                let inode = UInt64(info.st_ino)
                if let known = mounts[inode] {
                    if known.name == nil && isNames { mounts[inode] = (known.path, name) }
                    continue
                }
                mounts[inode] = (directory + "/" + name, isNames ? name : nil)
            }
        }
    }

    /// The inode in a namespace link target, `net:[4026531840]`; nil for any other text.
    static func inode(fromLink target: UnsafeRawBufferPointer) -> UInt64? {
        // "net:[" is 5 bytes; the shortest valid target is "net:[1]".
        guard target.count >= 7, target.count <= 26, target[0] == UInt8(ascii: "n"), target[1] == UInt8(ascii: "e"),
              target[2] == UInt8(ascii: "t"), target[3] == UInt8(ascii: ":"), target[4] == UInt8(ascii: "["),
              target[target.count - 1] == UInt8(ascii: "]")
        else { return nil }
        var value: UInt64 = 0
        for byte in target[5..<(target.count - 1)] {
            guard byte >= 48 && byte <= 57 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - 48))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// `inode(fromLink:)` on text, for tests and messages.
    static func inode(fromLink text: String) -> UInt64? {
        Array(text.utf8).withUnsafeBytes { inode(fromLink: $0) }
    }
}

extension NetNamespace {
    /// Every network namespace on the host now, as a sample would find it (none read).
    public static func discover(procRoot: String = "/proc") -> [NetNamespace] {
        NamespaceDiscovery(procRoot: procRoot).all()
    }
}

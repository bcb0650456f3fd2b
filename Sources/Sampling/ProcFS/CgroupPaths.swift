import Glibc

/// Names the cgroup a socket was created in from the id its close event carries
/// (INET_DIAG_CGROUP_ID): the socket's cgroup v2 cgroup, whose id is the inode of its
/// directory in any mount of the cgroup2 filesystem (kernfs: on 64-bit kernels the
/// node id is the inode number). The path is what says which systemd unit or
/// container made the socket, for client sockets too, after their process is gone.
///
/// Paths come from walking the cgroup2 mount found in `/proc/self/mountinfo`
/// (`/sys/fs/cgroup` on a v2 host, `/sys/fs/cgroup/unified` on a hybrid one); a
/// host with cgroup v1 alone has none mounted, and every id stays unknown (nil).
/// An id not known is looked up by walking again, at most once per
/// `rescanInterval`: a cgroup made since the last walk is found, one already
/// removed (a container that exited before the walk) stays unknown.
public final class CgroupPaths {
    private let mountInfoPath: String
    private let rescanInterval: Double
    private let entryLimit: Int
    private var byID: [UInt64: String] = [:]
    private var lastScan: Double?
    /// Ids looked for since the last walk and not found: not walked for again until it is due.
    private var missing = Set<UInt64>()

    /// A resolver reading the mounts in `mountInfoPath`, walking at most every
    /// `rescanInterval` seconds and at most `entryLimit` directories a walk.
    public init(mountInfoPath: String = "/proc/self/mountinfo", rescanInterval: Double = 1, entryLimit: Int = 200_000) {
        self.mountInfoPath = mountInfoPath
        self.rescanInterval = rescanInterval
        self.entryLimit = entryLimit
    }

    /// The path of cgroup `id` in the cgroup v2 hierarchy (`/system.slice/nginx.service`,
    /// `/` for the root), nil when it cannot be found.
    public func path(of id: UInt64) -> String? {
        if let known = byID[id] { return known }
        let now = Clock.monotonicSeconds()
        if missing.contains(id), let lastScan, now - lastScan < rescanInterval { return nil }
        if lastScan == nil || now - lastScan! >= rescanInterval {
            scan()
            lastScan = now
            missing.removeAll()
        }
        guard let found = byID[id] else {
            missing.insert(id)
            return nil
        }
        return found
    }

    /// Resolves the cgroup of each event that has an id.
    public func name(_ events: inout [CloseEvent]) {
        for index in events.indices {
            if let id = events[index].cgroupID { events[index].cgroupPath = path(of: id) }
        }
    }

    private func scan() {
        guard let mount = Self.cgroup2Mount(mountInfo: (try? FileContents.text(atPath: mountInfoPath)) ?? "") else { return }
        var found: [UInt64: String] = [:]
        var budget = entryLimit
        walk(mount.point, relative: mount.root == "/" ? "" : mount.root, into: &found, budget: &budget)
        byID = found
    }

    /// Records `directory` (its cgroup path `relative`, "" for the root) and every
    /// cgroup below it.
    private func walk(_ directory: String, relative: String, into found: inout [UInt64: String], budget: inout Int) {
        var status = stat()
        guard budget > 0, stat(directory, &status) == 0 else { return }
        budget -= 1
        found[UInt64(status.st_ino)] = relative.isEmpty ? "/" : relative
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        var children: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { children.append(name) }
        }
        for child in children {
            walk(directory + "/" + child, relative: relative + "/" + child, into: &found, budget: &budget)
        }
    }

    /// The first cgroup2 mount in a mountinfo text (proc(5)): its mount point, and the
    /// path inside the hierarchy it shows (`/` unless a namespace or bind mount shows
    /// a part). A mount showing the whole hierarchy is preferred.
    static func cgroup2Mount(mountInfo: String) -> (point: String, root: String)? {
        var best: (point: String, root: String)?
        for line in mountInfo.split(separator: "\n") {
            // Optional fields come before a lone "-"; the filesystem type follows it.
            let fields = line.split(separator: " ")
            guard let separator = fields.firstIndex(of: "-"), separator >= 5, separator + 1 < fields.count,
                  fields[separator + 1] == "cgroup2" else { continue }
            let mount = (point: unescape(fields[4]), root: unescape(fields[3]))
            if mount.root == "/" { return mount }
            if best == nil { best = mount }
        }
        return best
    }

    /// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
    private static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

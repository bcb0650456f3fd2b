import Glibc

/// A cgroup2 mount and a service-like cgroup inside it, removed on deinit.
public final class TestCgroup {
    public let mountPoint: String
    public let relative: String
    /// The unit the innermost cgroup is named as (`probe-<tag>.service`).
    public let unitName: String
    public var directory: String { mountPoint + relative }

    public init() throws {
        // Unique per instance: tests running beside each other share the hierarchy.
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mountPoint = "/tmp/netstatd-cgroup2-\(tag)"
        relative = "/netstatd-test-\(tag).slice/probe-\(tag).service"
        unitName = "probe-\(tag).service"
        mkdir(mountPoint, 0o755)
        guard mount("none", mountPoint, "cgroup2", 0, nil) == 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(mountPoint)
            throw CommandError(message: "mount -t cgroup2: \(reason)")
        }
        var path = mountPoint
        for component in relative.split(separator: "/") {
            path += "/" + component
            mkdir(path, 0o755)
        }
    }

    deinit {
        // Children first; a cgroup with a process left cannot go (the probe has exited).
        var path = directory
        while path.count > mountPoint.count {
            rmdir(path)
            path = String(path[..<path.lastIndex(of: "/")!])
        }
        umount2(mountPoint, Int32(MNT_DETACH))
        rmdir(mountPoint)
    }
}

extension TestCgroup {
    /// A test cgroup, or nil (saying why) where cgroup2 cannot be mounted: a
    /// container without the right to is no place to test cgroups.
    public static func makeOrSkip() -> TestCgroup? {
        do {
            return try TestCgroup()
        } catch {
            print("skipped: \(error)")
            return nil
        }
    }
}

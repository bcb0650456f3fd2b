import Glibc

/// Reads small kernel files (/proc, /sys, /etc) in one go. /proc files report a size
/// of 0, so the file is read until EOF into a growing buffer.
public enum FileContents {
    /// The bytes of the file at `path`.
    public static func bytes(atPath path: String) throws -> [UInt8] {
        let fd = try retryingEINTR("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try bytes(of: fd, name: path)
    }

    /// The bytes of `name` opened relative to the directory `dirfd`.
    public static func bytes(at dirfd: Int32, _ name: String) throws -> [UInt8] {
        let fd = try retryingEINTR("openat", name) { openat(dirfd, name, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try bytes(of: fd, name: name)
    }

    /// The text of the file at `path` (invalid UTF-8 is repaired, never fatal).
    public static func text(atPath path: String) throws -> String {
        String(decoding: try bytes(atPath: path), as: UTF8.self)
    }

    static func bytes(of fd: Int32, name: String) throws -> [UInt8] {
        var result: [UInt8] = []
        var capacity = 4096
        while true {
            if result.count + 1024 > capacity { capacity *= 2 }
            result.reserveCapacity(capacity)
            let want = capacity - result.count
            var got = 0
            let oldCount = result.count
            result.append(contentsOf: repeatElement(0, count: want))
            got = try result.withUnsafeMutableBytes { buf in
                try retryingEINTR("read", name) { read(fd, buf.baseAddress! + oldCount, want) }
            }
            result.removeLast(want - got)
            if got == 0 { return result }
        }
    }
}

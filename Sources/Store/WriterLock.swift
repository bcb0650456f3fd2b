import Glibc
import Sampling

/// The one-writer-per-file rule: an exclusive `flock` on the history file, held for
/// as long as the Recorder lives. The kernel drops it when the process dies, so a
/// kill -9 leaves nothing to clean up. Readers (HTTP threads, `sqlite3`) never take
/// it and are never blocked.
///
/// flock and SQLite's own POSIX (fcntl) locks are independent on Linux. The one
/// hazard of a second descriptor on a SQLite file, that closing it drops the
/// process's POSIX locks, is avoided by closing it only after the database is closed.
final class WriterLock {
    private let fd: Int32

    /// Takes the lock on `path` (creating an empty file if there is none), or throws
    /// naming the process that holds it.
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw StoreError.cannotOpen(path: path, reason: String(cString: strerror(code)), errno: code)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            var info = stat()
            let holder = fstat(fd, &info) == 0 ? Self.holder(inode: UInt64(info.st_ino)) : nil
            close(fd)
            if code == EWOULDBLOCK { throw StoreError.locked(path: path, holder: holder) }
            throw StoreError.cannotOpen(path: path, reason: "flock: " + String(cString: strerror(code)), errno: code)
        }
        self.fd = fd
    }

    /// Releases the lock. Call after the database connection is closed.
    func release() {
        close(fd)
    }

    /// The pid holding an flock on the file with `inode`, from /proc/locks
    /// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; documented in proc(5)).
    static func holder(inode: UInt64, locks: String? = try? FileContents.text(atPath: "/proc/locks")) -> Int32? {
        guard let locks else { return nil }
        for line in locks.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE",
                  let pid = Int32(fields[4]), let node = fields[5].split(separator: ":").last,
                  UInt64(node) == inode else { continue }
            return pid
        }
        return nil
    }
}

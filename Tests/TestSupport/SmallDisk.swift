public import Foundation

/// A 400 KB tmpfs in a temporary directory, to fill on purpose: what a full disk
/// does to the writer. Unmounted and removed on deinit. Needs root.
public final class SmallDisk {
    public let directory: URL
    /// The history file's path on it.
    public var historyPath: String { directory.appendingPathComponent("h.db").path }

    public init(_ tag: String) throws {
        directory = try Synthetic.temporaryDirectory(tag)
        let mounted = try run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", directory.path])
        guard mounted.status == 0 else {
            try? FileManager.default.removeItem(at: directory)
            throw CommandError(message: "mount tmpfs: \(mounted.stderr)")
        }
    }

    /// Gives it room again (20 MB).
    public func grow() throws {
        let grown = try run(["mount", "-o", "remount,size=20m", directory.path])
        guard grown.status == 0 else { throw CommandError(message: "remount: \(grown.stderr)") }
    }

    deinit {
        _ = try? run(["umount", directory.path])
        try? FileManager.default.removeItem(at: directory)
    }
}

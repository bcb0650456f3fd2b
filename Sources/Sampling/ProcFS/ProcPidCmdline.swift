import Glibc

/// `/proc/<pid>/cmdline`: a process's command line, its NUL-separated arguments
/// joined with spaces (as `ps -o args` shows them).
public enum ProcPidCmdline {
    /// The command line of `pid` under `procRoot`. Nil when the process has exited or
    /// is a kernel thread (an empty file): both mean "no command line", not an error;
    /// any other failure (EACCES under hidepid) is nil too, as `ps` shows nothing then.
    public static func read(procRoot: String, pid: Int32) -> String? {
        guard let bytes = try? FileContents.bytes(atPath: "\(procRoot)/\(pid)/cmdline"), !bytes.isEmpty else { return nil }
        return parse(bytes)
    }

    /// The arguments joined with single spaces, the trailing NUL dropped.
    public static func parse(_ bytes: [UInt8]) -> String {
        var trimmed = bytes[...]
        while trimmed.last == 0 { trimmed = trimmed.dropLast() }
        return String(decoding: trimmed.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }
}

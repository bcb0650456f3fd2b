/// The kernel's id of the current boot (`/proc/sys/kernel/random/boot_id`, see
/// random(4)): socket cookies and pids are only meaningful within one boot, so
/// history continues a socket across a restart of netstatd only in the same boot.
public enum BootID {
    /// The current boot's id, or nil when the kernel does not say.
    public static func current(procRoot: String = "/proc") -> String? {
        guard let text = try? FileContents.text(atPath: procRoot + "/sys/kernel/random/boot_id") else { return nil }
        let id = text.filter { !$0.isWhitespace }
        return id.isEmpty ? nil : id
    }
}

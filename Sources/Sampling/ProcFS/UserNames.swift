import Glibc

/// uid -> user name, from passwd(5) text. netstatd reads the file itself rather than
/// calling getpwuid so that a captured tree (a sosreport's etc/passwd) can be used.
public struct UserNames: Sendable {
    private var names: [UInt32: String] = [:]

    /// Parses passwd text (`name:x:uid:gid:...` lines); the first name for a uid wins.
    public init(passwdText: String) {
        for line in passwdText.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count >= 3, !fields[0].hasPrefix("#"), let uid = UInt32(fields[2]) else { continue }
            if names[uid] == nil { names[uid] = String(fields[0]) }
        }
    }

    /// The names for `procRoot`: `<procRoot>/../etc/passwd` when the root is a captured
    /// tree that has one beside it, else `/etc/passwd`; empty when neither can be read.
    public static func load(procRoot: String) -> UserNames {
        var candidates = ["/etc/passwd"]
        if procRoot != "/proc" { candidates.insert(procRoot + "/../etc/passwd", at: 0) }
        for path in candidates {
            if let text = try? FileContents.text(atPath: path) { return UserNames(passwdText: text) }
        }
        return UserNames(passwdText: "")
    }

    /// The user name of `uid`, or nil when passwd does not list it.
    public func name(_ uid: UInt32) -> String? { names[uid] }
}

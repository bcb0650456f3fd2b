/// The two fields netstatd needs from `/proc/<pid>/stat` (proc(5)): the command name
/// and the start time, which together with the pid identify a process.
public struct ProcPidStat: Sendable, Hashable {
    /// The command name (`comm`), as `ss -p` shows it.
    public var name: String
    /// Field 22, `starttime`: clock ticks after boot at which the process started.
    public var startTime: UInt64

    /// Parses the file's bytes. comm may hold spaces and parentheses, so it runs from
    /// the first `(` to the last `)`; fields are counted after that. Nil when malformed.
    public static func parse(_ bytes: [UInt8]) -> ProcPidStat? {
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")), close > open
        else { return nil }
        let name = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
        // After ") " comes field 3 (state); starttime is field 22, the 20th from there.
        var field = 3
        var index = close + 1
        while index < bytes.count && bytes[index] == UInt8(ascii: " ") { index += 1 }
        while index < bytes.count && field < 22 {
            if bytes[index] == UInt8(ascii: " ") {
                field += 1
                while index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: " ") { index += 1 }
            }
            index += 1
        }
        guard field == 22, index < bytes.count else { return nil }
        var value: UInt64 = 0
        var digits = 0
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            value = value &* 10 &+ UInt64(bytes[index] - 48)
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        return ProcPidStat(name: name, startTime: value)
    }
}

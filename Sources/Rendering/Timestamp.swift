import Glibc

/// RFC 3339 timestamps in UTC with millisecond precision (`2026-11-22T14:26:58.123Z`),
/// the form every `taken_at` in netstatd's output uses.
public enum Timestamp {
    /// Formats seconds since the Unix epoch.
    public static func rfc3339(_ seconds: Double) -> String {
        var whole = time_t(seconds.rounded(.down))
        var millis = Int(((seconds - Double(whole)) * 1000).rounded())
        if millis >= 1000 {
            whole += 1
            millis -= 1000
        }
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

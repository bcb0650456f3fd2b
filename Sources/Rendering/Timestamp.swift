import Sampling

/// RFC 3339 timestamps in UTC with millisecond precision (`2026-11-22T14:26:58.123Z`),
/// the form every `taken_at` in netstatd's output uses. Times are whole milliseconds
/// end to end (samples are taken, stored and served at that precision), so a time
/// served here and sent back as `at=` names the same sample.
public enum Timestamp {
    /// Formats seconds since the Unix epoch.
    public static func rfc3339(_ seconds: Double) -> String {
        rfc3339(milliseconds: Clock.milliseconds(seconds))
    }

    /// Formats milliseconds since the Unix epoch.
    public static func rfc3339(milliseconds: Int64) -> String {
        let clamped = min(max(milliseconds, Clock.earliestMilliseconds), Clock.latestMilliseconds)
        let millis = Int(clamped - floorDivide(clamped, 1000) * 1000)
        let seconds = Int(floorDivide(clamped, 1000))
        let days = Int(floorDivide(Int64(seconds), 86400))
        let inDay = seconds - days * 86400
        let (year, month, day) = civil(fromDays: days)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(inDay / 3600, 2)):\(pad(inDay / 60 % 60, 2)):\(pad(inDay % 60, 2)).\(pad(millis, 3))Z"
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    /// The civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

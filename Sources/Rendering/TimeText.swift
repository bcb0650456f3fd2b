import Glibc

/// Times as people type them, read strictly: every accepted text gives a finite time
/// between `earliest` and `latest`, so nothing downstream can overflow converting it.
/// Formats: RFC 3339 (`2026-11-22T02:00:00Z`, an offset, `t` or a space for `T`, no
/// zone meaning UTC), a bare date (`2026-11-22`, midnight UTC), Unix seconds
/// (`1795000000`, `1795000000.25`), `now`, and `now` minus a duration (`-15m`,
/// `-1h45m`, `-7d`).
public enum TimeText {
    /// 1970-01-01T00:00:00Z: history starts no earlier.
    public static let earliest: Double = 0
    /// 9999-12-31T23:59:59.999Z: the last time RFC 3339's four-digit year can write.
    public static let latest: Double = 253_402_300_799.999

    /// Seconds since the epoch for `text`, or nil when it is none of the forms or
    /// falls outside `earliest...latest`.
    public static func parse(_ text: String, now: Double) -> Double? {
        guard text.utf8.count <= 64 else { return nil }
        let value: Double?
        if text == "now" {
            value = now
        } else if text.hasPrefix("-") {
            value = DurationText.seconds(String(text.dropFirst())).map { now - $0 }
        } else if let seconds = decimal(text) {
            value = seconds
        } else {
            value = rfc3339(text)
        }
        guard let value, value.isFinite, value >= earliest, value <= latest else { return nil }
        return value
    }

    /// A plain decimal number (`123`, `123.45`): no sign, exponent, hex or `inf`,
    /// which Swift's `Double(String)` would all accept.
    static func decimal(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 24 else { return nil }
        var dots = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") { dots += 1; continue }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
        }
        guard dots <= 1, bytes.first != UInt8(ascii: "."), bytes.last != UInt8(ascii: ".") else { return nil }
        return Double(text)
    }

    /// `YYYY-MM-DD[(T|t| )HH:MM:SS[.fff][Z|±HH:MM]]`; the day must exist in its month.
    static func rfc3339(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 10, bytes[4] == 45, bytes[7] == 45,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        var offset = 0
        if bytes.count > 10 {
            guard bytes.count >= 19, bytes[10] == 84 || bytes[10] == 116 || bytes[10] == 32,
                  bytes[13] == 58, bytes[16] == 58,
                  let h = number(11..<13), let m = number(14..<16), let s = number(17..<19),
                  h < 24, m < 60, s < 61
            else { return nil }
            hour = h; minute = m; second = s
            var index = 19
            if index < bytes.count && bytes[index] == 46 {
                index += 1
                var scale = 0.1
                let start = index
                while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57, index - start < 9 {
                    fraction += Double(bytes[index] - 48) * scale
                    scale /= 10
                    index += 1
                }
                if index == start { return nil }
            }
            if index < bytes.count {
                if bytes[index] == 90 || bytes[index] == 122 {
                    guard index + 1 == bytes.count else { return nil }
                } else if bytes[index] == 43 || bytes[index] == 45 {
                    guard index + 6 == bytes.count, bytes[index + 3] == 58,
                          let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)),
                          hours < 24, minutes < 60 else { return nil }
                    offset = (hours * 3600 + minutes * 60) * (bytes[index] == 43 ? 1 : -1)
                } else {
                    return nil
                }
            }
        }
        // Days from the civil date (proleptic Gregorian), not timegm: no time_t, no tm
        // fields that could overflow.
        let days = daysFromCivil(year: year, month: month, day: day)
        let whole = days * 86400 + hour * 3600 + minute * 60 + second - offset
        return Double(whole) + fraction
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Durations as people type them: one or more `<number><unit>` parts with units
/// `w`, `d`, `h`, `m`, `s` (`90s`, `5m`, `1h45m`, `1d12h`, `1.5h`). A bare number
/// is refused: `7` could mean seconds or days, and guessing is how `--retention 7`
/// came to mean seven seconds.
public enum DurationText {
    /// The longest duration accepted: 100 years.
    public static let longest: Double = 100 * 366 * 86400

    /// The units, for error messages.
    public static let help = "a duration with units: 30s, 5m, 1h45m, 1d12h, 2w"

    /// Seconds in `text`, or nil when it is not a duration or exceeds `longest`.
    public static func seconds(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 40 else { return nil }
        var total = 0.0
        var index = 0
        while index < bytes.count {
            let start = index
            while index < bytes.count, (bytes[index] >= 48 && bytes[index] <= 57) || bytes[index] == 46 { index += 1 }
            guard index > start, index < bytes.count,
                  let amount = TimeText.decimal(String(decoding: bytes[start..<index], as: UTF8.self)) else { return nil }
            let scale: Double
            switch bytes[index] {
            case UInt8(ascii: "s"): scale = 1
            case UInt8(ascii: "m"): scale = 60
            case UInt8(ascii: "h"): scale = 3600
            case UInt8(ascii: "d"): scale = 86400
            case UInt8(ascii: "w"): scale = 7 * 86400
            default: return nil
            }
            index += 1
            total += amount * scale
        }
        guard total.isFinite, total <= longest else { return nil }
        return total
    }
}

import Glibc

/// Times in query parameters: RFC 3339 (`2026-11-22T02:00:00Z`, offsets allowed),
/// Unix seconds (`1795000000`), or relative to now (`now`, `-15m`, `-2h`, `-7d`, `-30s`).
public enum TimeParameter {
    /// Seconds since the epoch for `text`, or nil when it is none of the forms.
    public static func parse(_ text: String, now: Double) -> Double? {
        if text == "now" { return now }
        if text.hasPrefix("-"), let unit = text.last, let amount = Double(text.dropFirst().dropLast()), amount >= 0 {
            let seconds: Double
            switch unit {
            case "s": seconds = 1
            case "m": seconds = 60
            case "h": seconds = 3600
            case "d": seconds = 86400
            case "w": seconds = 7 * 86400
            default: return nil
            }
            return now - amount * seconds
        }
        if let value = Double(text), value.isFinite, value >= 0, !text.contains("e") { return value }
        return rfc3339(text)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
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
        guard bytes.count >= 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 116 || bytes[10] == 32,
              bytes[13] == 58, bytes[16] == 58,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count && bytes[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            if index == start { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        if bytes[index] == 90 || bytes[index] == 122 {
            guard index + 1 == bytes.count else { return nil }
        } else if bytes[index] == 43 || bytes[index] == 45 {
            guard index + 6 == bytes.count, bytes[index + 3] == 58,
                  let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)) else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == 43 ? 1 : -1)
        } else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Double(seconds - offset) + fraction
    }
}

extension QueryParameters {
    /// A time parameter, or nil when absent; a 400 naming it when unparseable.
    public func time(_ name: String, now: Double) throws -> Double? {
        guard let text = try string(name) else { return nil }
        guard let value = TimeParameter.parse(text, now: now) else {
            throw Problem.badParameter(name, text, accepts: "an RFC 3339 time (2026-11-22T02:00:00Z), Unix seconds, or a time relative to now (now, -15m, -2h, -7d)")
        }
        return value
    }

    /// A duration like `5m`, `30s`, `1h` or plain seconds, or nil when absent.
    public func duration(_ name: String) throws -> Double? {
        guard let text = try string(name) else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var value: Double?
        if let unit = text.last, let scale = units[unit], let amount = Double(text.dropLast()) { value = amount * scale }
        else { value = Double(text) }
        guard let value, value >= 1, value.isFinite else {
            throw Problem.badParameter(name, text, accepts: "a duration of at least one second: 30s, 5m, 1h, 1d or seconds")
        }
        return value
    }
}

import Rendering

extension QueryParameters {
    /// What every time parameter accepts, for error messages.
    static let timeForms = "an RFC 3339 time from 1970 to 9999 (2026-11-22T02:00:00Z, 2026-11-22 02:00:00, 2026-11-22), Unix seconds, or a time relative to now (now, -15m, -1h45m, -7d)"

    /// A time parameter (`TimeText`'s forms), or nil when absent; a 400 naming it when
    /// unparseable or outside 1970...9999.
    public func time(_ name: String, now: Double) throws -> Double? {
        guard let text = try string(name) else { return nil }
        guard let value = TimeText.parse(text, now: now) else {
            throw Problem.badParameter(name, text, accepts: Self.timeForms)
        }
        return value
    }

    /// A duration with units (`DurationText`: `30s`, `5m`, `1h45m`) of at least one
    /// second, or nil when absent.
    public func duration(_ name: String) throws -> Double? {
        guard let text = try string(name) else { return nil }
        guard let value = DurationText.seconds(text), value >= 1 else {
            throw Problem.badParameter(name, text, accepts: DurationText.help + ", of at least one second")
        }
        return value
    }
}

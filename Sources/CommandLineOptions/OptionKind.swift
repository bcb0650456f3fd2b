import HTTP
import Rendering

/// What an option's value must be. `parseOptions` checks every value against its
/// option's kind, so a value is judged the same whether it comes from the command
/// line or from a `--config` file, and nothing starts before every value is good.
public enum OptionKind: Sendable {
    /// Any text.
    case text
    /// A file or directory path (not empty).
    case path
    /// Seconds, fractions allowed, within the range.
    case seconds(ClosedRange<Double>)
    /// A whole number within the range.
    case integer(ClosedRange<Int>)
    /// A duration such as `7d`, `12h`, `30m`, `90s`.
    case duration
    /// A listen address: `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`.
    case listen
    /// An `http://` URL to send to (it may carry a password, never shown).
    case httpURL

    /// Throws a usage error naming `--option` and `value` when `value` is not one of these.
    public func check(_ value: String, option: String) throws {
        if let problem = problem(with: value) {
            throw UsageError("--\(option) \(shown(value)): \(problem)")
        }
    }

    /// `value` as messages may show it: a URL's password replaced by `***`.
    public func shown(_ value: String) -> String {
        guard case .httpURL = self else { return value }
        return HTTPClientURL.redacting(value)
    }

    /// What is wrong with `value` (what would be right), or nil when it is fine.
    public func problem(with value: String) -> String? {
        switch self {
        case .text:
            return nil
        case .path:
            return value.isEmpty ? "expected a path" : nil
        case .seconds(let range):
            guard let seconds = Double(value), range.contains(seconds) else {
                return "expected seconds from \(Self.number(range.lowerBound)) to \(Self.number(range.upperBound))"
            }
            return nil
        case .integer(let range):
            guard let number = Int(value), range.contains(number) else {
                return "expected a whole number from \(range.lowerBound) to \(range.upperBound)"
            }
            return nil
        case .duration:
            return (DurationText.seconds(value) ?? 0) >= 1 ? nil : "expected \(DurationText.help) (a bare number has no unit: write 7d for a week, 7s for seven seconds)"
        case .listen:
            if case .failure(let problem) = ListenAddress.parse(value) { return problem.message }
            return nil
        case .httpURL:
            do {
                _ = try HTTPClientURL(value)
                return nil
            } catch {
                return error.problem
            }
        }
    }

    /// The value of a flag written as `true`/`false` (also yes/no, on/off, 1/0), or nil.
    public static func flagValue(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// `--listen`'s value split into host and port.
public enum ListenAddress {
    /// Why a listen address is not one.
    public struct Problem: Error {
        public var message: String
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` (the host defaults to 127.0.0.1).
    public static func parse(_ text: String) -> Result<(host: String, port: UInt16), Problem> {
        var host = "127.0.0.1"
        var portText = text
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(Problem(message: "expected [IPV6]:PORT")) }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = String(text[text.index(after: close)...].dropFirst())
        } else if let colon = text.lastIndex(of: ":") {
            let before = String(text[..<colon])
            if before.contains(":") { return .failure(Problem(message: "put an IPv6 address in brackets, e.g. [::1]:7878")) }
            if !before.isEmpty { host = before }
            portText = String(text[text.index(after: colon)...])
        }
        guard let port = UInt16(portText) else {
            return .failure(Problem(message: "the port must be a number from 0 to 65535"))
        }
        return .success((host, port))
    }
}

import Sampling

/// A request's query string with typed getters. Every getter names the parameter in
/// the error it throws, and `rejectUnknown` refuses any parameter the endpoint did not
/// read, so a typo (`stat=listen`) is an error rather than a silently ignored filter.
public struct QueryParameters: Sendable {
    private let items: [(name: String, value: String)]

    /// Parameters in the order they came; a name may repeat.
    public init(_ items: [(name: String, value: String)]) {
        self.items = items
    }

    /// Every value given for `name`, with comma-separated lists split
    /// (`state=listen,estab` and `state=listen&state=estab` mean the same).
    public func list(_ name: String) -> [String] {
        items.filter { $0.name == name }.flatMap { $0.value.split(separator: ",").map(String.init) }
    }

    /// `list(name)`, refusing a parameter given with nothing in it (`state=`): an
    /// empty filter is a mistake, not "no filter".
    public func nonEmptyList(_ name: String) throws -> [String] {
        let values = list(name)
        if values.isEmpty, items.contains(where: { $0.name == name }) {
            throw Problem.badParameter(name, "", accepts: "at least one value")
        }
        return values
    }

    /// The single value of `name`, or nil when absent. Given twice is an error.
    public func string(_ name: String) throws -> String? {
        let values = items.filter { $0.name == name }
        if values.count > 1 {
            throw Problem.badParameter(name, values.map(\.value).joined(separator: "&"), accepts: "a single value")
        }
        return values.first?.value
    }

    /// An integer in `range`, or nil when absent.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = try string(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw Problem.badParameter(name, text, accepts: "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A port 1...65535 (0 is accepted where `allowZero`), or nil when absent.
    public func port(_ name: String) throws -> UInt16? {
        guard let value = try integer(name, in: 0...65535) else { return nil }
        return UInt16(value)
    }

    /// A boolean (`true`/`false`, or `1`/`0`), or nil when absent.
    public func bool(_ name: String) throws -> Bool? {
        guard let text = try string(name) else { return nil }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw Problem.badParameter(name, text, accepts: "true or false")
        }
    }

    /// One of `choices`, or nil when absent.
    public func choice(_ name: String, _ choices: [String]) throws -> String? {
        guard let text = try string(name) else { return nil }
        guard choices.contains(text) else {
            throw Problem.badParameter(name, text, accepts: "one of " + choices.joined(separator: ", "))
        }
        return text
    }

    /// Throws for the first parameter not in `known`.
    public func rejectUnknown(_ known: [String]) throws {
        for item in items where !known.contains(item.name) {
            throw Problem.unknownParameter(item.name, known: known)
        }
    }
}
